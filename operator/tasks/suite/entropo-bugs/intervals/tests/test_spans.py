import unittest
from datetime import datetime, timedelta

from spans import Interval, gaps, merge, parse, parse_duration, total_duration


def at(h, m=0, day=1):
    return datetime(2024, 3, day, h, m)


class TestInterval(unittest.TestCase):
    def test_rejects_reversed(self):
        with self.assertRaises(ValueError):
            Interval(at(10), at(9))

    def test_duration_and_empty(self):
        self.assertEqual(Interval(at(9), at(10, 30)).duration, timedelta(minutes=90))
        self.assertTrue(Interval(at(9), at(9)).is_empty)

    def test_contains_start(self):
        iv = Interval(at(9), at(10))
        self.assertTrue(iv.contains(at(9)))
        self.assertTrue(iv.contains(at(9, 59)))
        self.assertFalse(iv.contains(at(8, 59)))

    def test_overlaps(self):
        self.assertTrue(Interval(at(9), at(11)).overlaps(Interval(at(10), at(12))))
        self.assertFalse(Interval(at(9), at(10)).overlaps(Interval(at(11), at(12))))

    def test_adjacent(self):
        self.assertTrue(Interval(at(9), at(10)).adjacent(Interval(at(10), at(11))))

    def test_intersection(self):
        a = Interval(at(9), at(11))
        self.assertEqual(a.intersection(Interval(at(10), at(12))), Interval(at(10), at(11)))
        self.assertIsNone(a.intersection(Interval(at(12), at(13))))

    def test_shift_and_covers(self):
        a = Interval(at(9), at(10)).shift(timedelta(hours=1))
        self.assertEqual(a, Interval(at(10), at(11)))
        self.assertTrue(Interval(at(9), at(12)).covers(a))

    def test_split_by_day(self):
        iv = Interval(at(22), at(2, day=2))
        self.assertEqual(iv.split_by_day(), [Interval(at(22), at(0, day=2)), Interval(at(0, day=2), at(2, day=2))])


class TestSets(unittest.TestCase):
    def test_merge_overlapping(self):
        got = merge([Interval(at(13), at(14)), Interval(at(9), at(11)), Interval(at(10), at(12))])
        self.assertEqual(got, [Interval(at(9), at(12)), Interval(at(13), at(14))])

    def test_merge_drops_empty(self):
        self.assertEqual(merge([Interval(at(9), at(9))]), [])

    def test_gaps(self):
        busy = [Interval(at(9), at(10)), Interval(at(12), at(13))]
        self.assertEqual(
            gaps(busy, Interval(at(8), at(14))),
            [Interval(at(8), at(9)), Interval(at(10), at(12)), Interval(at(13), at(14))],
        )

    def test_total_duration_counts_overlap_once(self):
        self.assertEqual(total_duration([Interval(at(9), at(11)), Interval(at(10), at(12))]), timedelta(hours=3))


class TestParse(unittest.TestCase):
    def test_start_end(self):
        self.assertEqual(parse("2024-03-01T09:00/2024-03-01T10:00"), Interval(at(9), at(10)))

    def test_start_duration(self):
        self.assertEqual(parse("2024-03-01T09:00/PT2H"), Interval(at(9), at(11)))

    def test_durations(self):
        self.assertEqual(parse_duration("P1D"), timedelta(days=1))
        self.assertEqual(parse_duration("PT45S"), timedelta(seconds=45))
        self.assertEqual(parse_duration("P2W"), timedelta(weeks=2))
        for bad in ("P", "PT", "1H", "P1H"):
            with self.assertRaises(ValueError, msg=bad):
                parse_duration(bad)


if __name__ == "__main__":
    unittest.main()
