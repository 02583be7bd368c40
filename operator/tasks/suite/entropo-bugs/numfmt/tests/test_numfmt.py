import unittest

from numfmt import compact, from_roman, group, human_bytes, ordinal, to_roman


class TestRoman(unittest.TestCase):
    def test_to_roman(self):
        self.assertEqual(to_roman(1), "I")
        self.assertEqual(to_roman(4), "IV")
        self.assertEqual(to_roman(1994), "MCMXCIV")
        self.assertEqual(to_roman(3999), "MMMCMXCIX")

    def test_to_roman_range(self):
        for bad in (0, 4000, -1):
            with self.assertRaises(ValueError):
                to_roman(bad)
        with self.assertRaises(TypeError):
            to_roman(2.5)

    def test_from_roman(self):
        self.assertEqual(from_roman("MCMXCIV"), 1994)
        self.assertEqual(from_roman("xlii"), 42)

    def test_round_trip(self):
        for n in range(1, 4000):
            self.assertEqual(from_roman(to_roman(n)), n)

    def test_rejects_garbage(self):
        for bad in ("", "ABC", "IL"):
            with self.assertRaises(ValueError):
                from_roman(bad)


class TestGroup(unittest.TestCase):
    def test_integers(self):
        self.assertEqual(group(0), "0")
        self.assertEqual(group(999), "999")
        self.assertEqual(group(1234567), "1,234,567")

    def test_decimals_and_separators(self):
        self.assertEqual(group(1234.5678, 2), "1,234.57")
        self.assertEqual(group(1234567.891, 2, sep=".", point=","), "1.234.567,89")

    def test_negative(self):
        self.assertEqual(group(-1234567.891, 2), "-1,234,567.89")


class TestOrdinal(unittest.TestCase):
    def test_small(self):
        self.assertEqual([ordinal(n) for n in (1, 2, 3, 4, 10)], ["1st", "2nd", "3rd", "4th", "10th"])

    def test_teens(self):
        self.assertEqual([ordinal(n) for n in (11, 12, 13)], ["11th", "12th", "13th"])


class TestBytes(unittest.TestCase):
    def test_small(self):
        self.assertEqual(human_bytes(0), "0 B")
        self.assertEqual(human_bytes(512), "512 B")

    def test_binary(self):
        self.assertEqual(human_bytes(1536), "1.5 KiB")
        self.assertEqual(human_bytes(5 * 1024**3), "5.0 GiB")

    def test_decimal(self):
        self.assertEqual(human_bytes(1500, binary=False), "1.5 kB")


class TestCompact(unittest.TestCase):
    def test_values(self):
        self.assertEqual(compact(950), "950")
        self.assertEqual(compact(1200), "1.2K")
        self.assertEqual(compact(3_400_000), "3.4M")
        self.assertEqual(compact(1_000_000_000), "1B")
        self.assertEqual(compact(-2500), "-2.5K")


if __name__ == "__main__":
    unittest.main()
