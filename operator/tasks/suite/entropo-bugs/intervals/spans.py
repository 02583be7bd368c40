"""Half-open time intervals [start, end) and operations on sets of them."""

import re
from datetime import datetime, time, timedelta


class Interval:
    __slots__ = ("start", "end")

    def __init__(self, start, end):
        if end < start:
            raise ValueError(f"interval ends before it starts: {start} > {end}")
        self.start = start
        self.end = end

    @property
    def duration(self):
        return self.end - self.start

    @property
    def is_empty(self):
        return self.start == self.end

    def contains(self, point):
        return self.start <= point < self.end

    def covers(self, other):
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other):
        return self.start < other.end and other.start < self.end

    def adjacent(self, other):
        return self.end == other.start or other.end == self.start

    def intersection(self, other):
        start = max(self.start, other.start)
        end = min(self.end, other.end)
        return Interval(start, end) if start < end else None

    def shift(self, delta):
        return Interval(self.start + delta, self.end + delta)

    def split_by_day(self):
        """Pieces of the interval cut at each midnight (no empty pieces)."""
        pieces = []
        cur = self.start
        while cur < self.end:
            midnight = datetime.combine(cur.date() + timedelta(days=1), time(0), tzinfo=cur.tzinfo)
            nxt = min(midnight, self.end)
            pieces.append(Interval(cur, nxt))
            cur = nxt
        return pieces

    def _key(self):
        return (self.start, self.end)

    def __eq__(self, other):
        return isinstance(other, Interval) and self._key() == other._key()

    def __lt__(self, other):
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Interval({self.start.isoformat()}, {self.end.isoformat()})"


def merge(intervals):
    """Sorted list of disjoint intervals covering the same time; adjacent ones are joined."""
    items = sorted(i for i in intervals if not i.is_empty)
    out = []
    for cur in items:
        if out and cur.start <= out[-1].end:
            out[-1] = Interval(out[-1].start, max(out[-1].end, cur.end))
        else:
            out.append(cur)
    return out


def gaps(intervals, window):
    """The parts of window not covered by any of the intervals."""
    free = []
    cursor = window.start
    for iv in merge(intervals):
        if iv.end <= window.start or iv.start >= window.end:
            continue
        if iv.start > cursor:
            free.append(Interval(cursor, iv.start))
        cursor = max(cursor, iv.end)
    if cursor < window.end:
        free.append(Interval(cursor, window.end))
    return free


def total_duration(intervals):
    return sum((iv.duration for iv in merge(intervals)), timedelta())


_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text):
    m = _DURATION.match(text)
    if not m or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {k: float(v) for k, v in m.groupdict().items() if v is not None}
    return timedelta(**parts)


def parse(text):
    """'start/end' or 'start/duration' (ISO 8601)."""
    try:
        left, right = text.split("/")
    except ValueError:
        raise ValueError(f"expected 'start/end' or 'start/duration': {text!r}") from None
    start = datetime.fromisoformat(left)
    if right.startswith("P"):
        return Interval(start, start + parse_duration(right))
    return Interval(start, datetime.fromisoformat(right))
