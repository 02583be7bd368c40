from fractions import Fraction

import pytest

from tinymatrix import Matrix


def test_construction_and_shape():
    m = Matrix([[1, 2, 3], [4, 5, 6]])
    assert m.shape == (2, 3)
    assert m[1, 2] == 6
    assert m.row(0) == [1, 2, 3]
    assert m.col(1) == [2, 5]


@pytest.mark.parametrize("rows", [[], [[]], [[1, 2], [3]]])
def test_invalid_construction(rows):
    with pytest.raises(ValueError):
        Matrix(rows)


def test_add_sub_scalar():
    a = Matrix([[1, 2], [3, 4]])
    assert a + a == Matrix([[2, 4], [6, 8]])
    assert a - a == Matrix.zeros(2, 2)
    assert 3 * a == Matrix([[3, 6], [9, 12]])
    with pytest.raises(ValueError):
        a + Matrix([[1, 2, 3], [4, 5, 6]])


def test_square_product():
    a = Matrix([[1, 2], [3, 4]])
    b = Matrix([[0, 1], [1, 0]])
    assert a @ b == Matrix([[2, 1], [4, 3]])
    assert a @ Matrix.identity(2) == a


def test_product_shape_mismatch():
    with pytest.raises(ValueError):
        Matrix([[1, 2], [3, 4]]) @ Matrix([[1, 2, 3]])


def test_transpose_square():
    assert Matrix([[1, 2], [3, 4]]).T == Matrix([[1, 3], [2, 4]])


@pytest.mark.parametrize(
    "rows,det",
    [([[5]], 5), ([[2, 1], [7, 4]], 1), ([[1, 2], [2, 4]], 0), ([[2, 0, 1], [1, 3, 2], [1, 1, 2]], 6)],
)
def test_determinant(rows, det):
    assert Matrix(rows).determinant() == det


def test_inverse():
    a = Matrix([[2, 0], [1, 1]])
    assert a.inverse() == Matrix([[Fraction(1, 2), 0], [Fraction(-1, 2), 1]])
    assert Matrix([[2]]).inverse() == Matrix([[Fraction(1, 2)]])


def test_solve():
    a = Matrix([[2, 0], [1, 3]])
    assert a.solve([4, 5]) == [2, 1]


def test_trace_and_rank():
    assert Matrix([[1, 2], [3, 4]]).trace() == 5
    assert Matrix([[1, 2], [2, 4]]).rank() == 1
    assert Matrix([[1, 0, 0], [0, 1, 0]]).rank() == 2


def test_non_square_rejected():
    with pytest.raises(ValueError):
        Matrix([[1, 2, 3]]).determinant()
