import pytest

from wraptext import dedent, fill, indent, shorten, wrap

LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt"


def test_wrap_basic():
    assert wrap("The quick brown fox jumps", width=10) == ["The quick", "brown fox", "jumps"]


def test_wrap_collapses_whitespace():
    assert wrap("  a \n\t b  ", width=10) == ["a b"]
    assert wrap("", width=10) == []


@pytest.mark.parametrize("width", [12, 20, 33])
def test_lines_never_exceed_width(width):
    assert all(len(line) <= width for line in wrap(LOREM, width))
    assert " ".join(wrap(LOREM, width)) == LOREM


def test_initial_indent():
    assert wrap("aaa bbb ccc", width=8, initial_indent="* ", subsequent_indent="  ") == ["* aaa", "  bbb", "  ccc"]


def test_long_words_are_broken():
    assert wrap("abcdefghij", width=4) == ["abcd", "efgh", "ij"]


def test_long_words_kept_whole():
    assert wrap("a abcdefghij b", width=4, break_long_words=False) == ["a", "abcdefghij", "b"]


def test_invalid_width():
    with pytest.raises(ValueError):
        wrap("x", width=0)


def test_fill():
    assert fill("a b c", width=4) == "a b\nc"


def test_dedent():
    assert dedent("    a\n      b\n    c") == "a\n  b\nc"
    assert dedent("no margin\n  x") == "no margin\n  x"


def test_indent():
    assert indent("a\n\nb\n", "> ") == "> a\n\n> b\n"
    assert indent("a\nb", "-", predicate=lambda line: line.startswith("b")) == "a\n-b"


def test_indent_keeps_crlf():
    assert indent("a\r\nb\r\n", "  ") == "  a\r\n  b\r\n"


def test_shorten_fits():
    assert shorten("Hello   world", 20) == "Hello world"


def test_shorten_nothing_fits():
    assert shorten("Supercalifragilistic", 10) == "[...]"
