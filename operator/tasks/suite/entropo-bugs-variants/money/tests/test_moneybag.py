import unittest

from moneybag import CurrencyMismatch, Money


def eur(text):
    return Money.parse(text, "EUR")


class TestParse(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(eur("19.99").minor, 1999)
        self.assertEqual(eur("5").minor, 500)
        self.assertEqual(eur("1,234.5").minor, 123450)
        self.assertEqual(eur("-0.25").minor, -25)
        self.assertEqual(Money.parse("1000", "JPY").minor, 1000)
        self.assertEqual(Money.parse("1.234", "BHD").minor, 1234)

    def test_parse_errors(self):
        for bad in ("abc", "1.2.3", "1.234", ""):
            with self.assertRaises(ValueError, msg=bad):
                eur(bad)
        with self.assertRaises(ValueError):
            Money.parse("1", "XXX")


class TestArithmetic(unittest.TestCase):
    def test_add_sub_neg(self):
        self.assertEqual(eur("1.10") + eur("2.20"), eur("3.30"))
        self.assertEqual(eur("1.00") - eur("2.50"), eur("-1.50"))
        self.assertEqual(-eur("1.00"), eur("-1.00"))

    def test_currency_mismatch(self):
        with self.assertRaises(CurrencyMismatch):
            eur("1") + Money(1, "USD")
        with self.assertRaises(CurrencyMismatch):
            eur("1") < Money(1, "USD")

    def test_multiply(self):
        self.assertEqual(eur("19.99") * 3, eur("59.97"))
        self.assertEqual(2 * eur("0.10"), eur("0.20"))
        self.assertEqual(eur("10.00") * 0.333, eur("3.33"))

    def test_percent(self):
        self.assertEqual(eur("200.00").percent(15), eur("30.00"))

    def test_ordering_and_truth(self):
        self.assertLess(eur("1"), eur("2"))
        self.assertFalse(eur("0"))
        self.assertTrue(eur("0.01"))


class TestAllocate(unittest.TestCase):
    def test_even_split(self):
        self.assertEqual(eur("9.00").allocate([1, 1, 1]), [eur("3.00")] * 3)

    def test_remainder_goes_first(self):
        self.assertEqual(eur("0.05").allocate([1, 1]), [eur("0.03"), eur("0.02")])

    def test_sum_is_preserved(self):
        parts = eur("100.00").allocate([3, 7])
        self.assertEqual(parts, [eur("30.00"), eur("70.00")])

    def test_bad_ratios(self):
        with self.assertRaises(ValueError):
            eur("1").allocate([0, 0])


class TestFormat(unittest.TestCase):
    def test_format(self):
        self.assertEqual(eur("1234567.89").format(), "€1,234,567.89")
        self.assertEqual(Money.parse("1000", "JPY").format(), "¥1,000")
        self.assertEqual(Money.parse("12.5", "CHF").format(), "CHF 12.50")

    def test_negative(self):
        self.assertEqual(eur("-5").format(), "-€5.00")

    def test_repr(self):
        self.assertEqual(repr(eur("1.5")), "Money('1.50', 'EUR')")


if __name__ == "__main__":
    unittest.main()
