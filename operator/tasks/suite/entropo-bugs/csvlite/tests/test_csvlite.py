import pytest

import csvlite
from csvlite import CSVError, format_rows, parse, parse_dicts


def test_simple_records():
    assert parse("a,b,c\n1,2,3\n") == [["a", "b", "c"], ["1", "2", "3"]]


def test_no_final_newline():
    assert parse("a,b\n1,2") == [["a", "b"], ["1", "2"]]


def test_quoted_delimiter_and_newline():
    assert parse('name,note\n"Smith, J","line1\nline2"\n') == [["name", "note"], ["Smith, J", "line1\nline2"]]


def test_escaped_quotes():
    assert parse('"say ""hi"""\n') == [['say "hi"']]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(eol):
    assert parse(f"a,b{eol}c,d{eol}") == [["a", "b"], ["c", "d"]]


def test_empty_fields():
    assert parse(",,\n") == [["", "", ""]]


def test_other_delimiter():
    assert parse("a;b\n", delimiter=";") == [["a", "b"]]
    with pytest.raises(ValueError):
        parse("x", delimiter='"')


def test_strip_unquoted_only():
    assert parse(' a , " b " \n', strip=True) == [["a", " b "]]


def test_unterminated_quote_names_line():
    with pytest.raises(CSVError) as e:
        parse('a,b\nc,"oops\nmore\n')
    assert e.value.line == 2


def test_dicts():
    assert parse_dicts("a,b\n1,2\n3,4\n") == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


def test_dicts_with_given_header():
    assert parse_dicts("1,2\n", header=["x", "y"]) == [{"x": "1", "y": "2"}]


def test_format_rows_quotes_when_needed():
    assert format_rows([["plain", "a,b", 'q"q', None, 3]]) == 'plain,"a,b","q""q",,3\r\n'


def test_round_trip():
    rows = [["id", "text"], ["1", "multi\nline"], ["2", 'with "quotes", commas']]
    assert parse(format_rows(rows)) == rows


def test_module_exports():
    assert callable(csvlite.format_field)


def test_blank_lines():
    assert parse("a\n\nb\n") == [["a"], [""], ["b"]]
    assert parse("a\n\nb\n", skip_blank=True) == [["a"], ["b"]]
