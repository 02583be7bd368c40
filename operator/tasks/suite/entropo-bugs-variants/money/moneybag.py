# Part of the EntroPO task suite: a variant of the original library.
# Identifiers are renamed and lines shifted on purpose; behaviour is unchanged.
# See operator/policy/variants.yaml.
"""Money amounts as integer minor units with a currency."""

from decimal import ROUND_HALF_EVEN, Decimal
from functools import total_ordering

EXPONENTS = {"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "KRW": "₩"}


class CurrencyMismatch(ValueError):
    pass


@total_ordering
class Money:
    __slots__ = ("minor", "currency")

    def __init__(self, minor, currency):
        if currency not in EXPONENTS:
            raise ValueError(f"unknown currency {currency!r}")
        if not isinstance(minor, int) or isinstance(minor, bool):
            raise TypeError("minor units must be an int")
        self.minor = minor
        self.currency = currency

    @property
    def exponent(self):
        return EXPONENTS[self.currency]

    @classmethod
    def parse(cls, text, currency):
        exp = EXPONENTS.get(currency)
        if exp is None:
            raise ValueError(f"unknown currency {currency!r}")
        s = text.strip().replace(",", "")
        sign = -1 if s.startswith("-") else 1
        s = s.lstrip("+-")
        whole, _, frac = s.partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()):
            raise ValueError(f"not an amount: {text!r}")
        if len(frac) > exp:
            raise ValueError(f"too many decimals for {currency}: {text!r}")
        frac = frac.ljust(exp, "0")
        return cls(sign * int(whole + frac), currency)

    @property
    def amount(self):
        return Decimal(self.minor).scaleb(-self.exponent)

    def _check(self, other):
        if not isinstance(other, Money):
            raise TypeError(f"expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other):
        self._check(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other):
        self._check(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self):
        return Money(-self.minor, self.currency)

    def __mul__(self, factor):
        if isinstance(factor, Money):
            raise TypeError("cannot multiply money by money")
        product = Decimal(self.minor) * Decimal(str(factor))
        return Money(int(product.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)), self.currency)

    __rmul__ = __mul__

    def percent(self, p):
        return self * (Decimal(str(p)) / 100)

    def allocate(self, weights):
        if not weights or any(r < 0 for r in weights) or sum(weights) == 0:
            raise ValueError("weights must be non-negative and not all zero")
        total = sum(weights)
        sign = -1 if self.minor < 0 else 1
        amount = abs(self.minor)
        parts = [amount * r // total for r in weights]
        remainder = amount - sum(parts)
        receivers = [i for i, r in enumerate(weights) if r > 0]
        for k in range(remainder):
            parts[receivers[k % len(receivers)]] += 1
        return [Money(sign * p, self.currency) for p in parts]

    def __eq__(self, other):
        return isinstance(other, Money) and (self.minor, self.currency) == (other.minor, other.currency)

    def __lt__(self, other):
        self._check(other)
        return self.minor < other.minor

    def __hash__(self):
        return hash((self.minor, self.currency))

    def __bool__(self):
        return self.minor != 0

    def format(self):
        exp = self.exponent
        digits = str(abs(self.minor)).rjust(exp + 1, "0")
        whole, frac = (digits[:-exp], digits[-exp:]) if exp else (digits, "")
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        text = ",".join(groups) + (f".{frac}" if exp else "")
        symbol = SYMBOLS.get(self.currency, self.currency + " ")
        return f"{'-' if self.minor < 0 else ''}{symbol}{text}"

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"Money({str(self.amount)!r}, {self.currency!r})"
