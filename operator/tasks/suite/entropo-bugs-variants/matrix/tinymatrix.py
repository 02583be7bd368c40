# Part of the EntroPO task suite: a variant of the original library.
# Identifiers are renamed and lines shifted on purpose; behaviour is unchanged.
# See operator/policy/variants.yaml.
"""Small dense matrices with exact arithmetic."""

from fractions import Fraction


def _exact(x):
    return Fraction(x) if isinstance(x, (int, Fraction)) else x


def _plain(x):
    return int(x) if isinstance(x, Fraction) and x.denominator == 1 else x


class Matrix:
    def __init__(self, rows):
        rows = [list(r) for r in rows]
        if not rows or not rows[0]:
            raise ValueError("a matrix needs at least one row and one column")
        if any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("rows must have the same length")
        self._rows = rows

    @classmethod
    def identity(cls, n):
        return cls([[1 if i == j else 0 for j in range(n)] for i in range(n)])

    @classmethod
    def zeros(cls, rows, cols):
        return cls([[0] * cols for _ in range(rows)])

    @property
    def rows(self):
        return len(self._rows)

    @property
    def cols(self):
        return len(self._rows[0])

    @property
    def shape(self):
        return (self.rows, self.cols)

    def __getitem__(self, ij):
        i, j = ij
        return self._rows[i][j]

    def row(self, i):
        return list(self._rows[i])

    def col(self, j):
        return [r[j] for r in self._rows]

    def tolist(self):
        return [list(r) for r in self._rows]

    def transpose(self):
        return Matrix([[self._rows[i][j] for i in range(self.rows)] for j in range(self.cols)])

    T = property(transpose)

    def _same_shape(self, other):
        if not isinstance(other, Matrix) or other.shape != self.shape:
            raise ValueError(f"shape mismatch: {self.shape} vs {getattr(other, 'shape', None)}")

    def __add__(self, other):
        self._same_shape(other)
        return Matrix([[a + b for a, b in zip(r, s)] for r, s in zip(self._rows, other._rows)])

    def __sub__(self, other):
        self._same_shape(other)
        return Matrix([[a - b for a, b in zip(r, s)] for r, s in zip(self._rows, other._rows)])

    def __mul__(self, k):
        if isinstance(k, Matrix):
            raise TypeError("use @ for the matrix product")
        return Matrix([[a * k for a in r] for r in self._rows])

    __rmul__ = __mul__

    def __matmul__(self, other):
        if self.cols != other.rows:
            raise ValueError(f"cannot multiply {self.shape} by {other.shape}")
        cols = [other.col(j) for j in range(other.cols)]
        return Matrix([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self._rows])

    def __eq__(self, other):
        return isinstance(other, Matrix) and self.shape == other.shape and self._rows == other._rows

    def __repr__(self):
        return f"Matrix({self._rows!r})"

    def trace(self):
        self._square()
        return sum(self._rows[i][i] for i in range(self.rows))

    def _square(self):
        if self.rows != self.cols:
            raise ValueError(f"square matrix required, got {self.shape}")

    # -- elimination ------------------------------------------------------------------------
    def determinant(self):
        self._square()
        a = [[_exact(x) for x in r] for r in self._rows]
        n = self.rows
        det = Fraction(1) if all(isinstance(x, Fraction) for r in a for x in r) else 1.0
        for col in range(n):
            pivot_row = next((r for r in range(col, n) if a[r][col] != 0), None)
            if pivot_row is None:
                return 0
            if pivot_row != col:
                a[col], a[pivot_row] = a[pivot_row], a[col]
                det = -det
            det *= a[col][col]
            for r in range(col + 1, n):
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
        return _plain(det)

    def inverse(self):
        self._square()
        n = self.rows
        a = [[_exact(x) for x in r] + [Fraction(int(i == j)) for j in range(n)] for i, r in enumerate(self._rows)]
        for col in range(n):
            pivot_row = next((r for r in range(col, n) if a[r][col] != 0), None)
            if pivot_row is None:
                raise ValueError("singular matrix")
            a[col], a[pivot_row] = a[pivot_row], a[col]
            p = a[col][col]
            a[col] = [x / p for x in a[col]]
            for r in range(n):
                if r != col and a[r][col] != 0:
                    f = a[r][col]
                    a[r] = [x - f * y for x, y in zip(a[r], a[col])]
        return Matrix([[_plain(x) for x in r[n:]] for r in a])

    def solve(self, b):
        """x with self @ x == b, for a column vector b given as a list."""
        if len(b) != self.rows:
            raise ValueError("right-hand side has the wrong length")
        x = self.inverse() @ Matrix([[v] for v in b])
        return x.col(0)

    def rank(self):
        a = [[_exact(x) for x in r] for r in self._rows]
        rank = 0
        for col in range(self.cols):
            pivot_row = next((r for r in range(rank, self.rows) if a[r][col] != 0), None)
            if pivot_row is None:
                continue
            a[rank], a[pivot_row] = a[pivot_row], a[rank]
            for r in range(rank + 1, self.rows):
                f = a[r][col] / a[rank][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[rank])]
            rank += 1
        return rank
