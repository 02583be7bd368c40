"""Number formatting: roman numerals, digit grouping, ordinals, byte sizes, compact numbers."""

from decimal import ROUND_HALF_UP, Decimal

_ROMAN = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"),
    (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
    (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]


def to_roman(n):
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError("an integer is required")
    if not 0 < n < 4000:
        raise ValueError(f"out of range (1..3999): {n}")
    out = []
    for value, sym in _ROMAN:
        count, n = divmod(n, value)
        out.append(sym * count)
    return "".join(out)


def from_roman(text):
    s = text.strip().upper()
    if not s or any(c not in "MDCLXVI" for c in s):
        raise ValueError(f"not a roman numeral: {text!r}")
    total = 0
    i = 0
    for value, sym in _ROMAN:
        while s.startswith(sym, i):
            total += value
            i += len(sym)
    if i != len(s) or to_roman(total) != s:
        raise ValueError(f"not a canonical roman numeral: {text!r}")
    return total


def group(x, decimals=0, sep=",", point="."):
    q = Decimal(1).scaleb(-decimals)
    d = Decimal(str(x)).quantize(q, rounding=ROUND_HALF_UP)
    sign = "-" if d < 0 else ""
    digits = f"{abs(d):f}"
    whole, _, frac = digits.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = sign + sep.join(groups)
    if decimals > 0:
        out += point + frac
    return out


def ordinal(n):
    if n % 100 in (11, 12, 13):
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB"]


def human_bytes(n, binary=True):
    base = 1024 if binary else 1000
    units = _BINARY if binary else _DECIMAL
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    i = 0
    while value >= base and i < len(units) - 1:
        value /= base
        i += 1
    if i == 0:
        return f"{sign}{int(value)} B"
    if round(value, 1) >= base and i < len(units) - 1:
        value /= base
        i += 1
    return f"{sign}{value:.1f} {units[i]}"


_COMPACT = ["", "K", "M", "B", "T"]


def compact(n):
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    i = 0
    while value >= 1000 and i < len(_COMPACT) - 1:
        value /= 1000
        i += 1
    if i > 0 and round(value, 1) >= 1000 and i < len(_COMPACT) - 1:
        value /= 1000
        i += 1
    if i == 0:
        return f"{sign}{value:g}"
    return f"{sign}{f'{value:.1f}'.removesuffix('.0')}{_COMPACT[i]}"
