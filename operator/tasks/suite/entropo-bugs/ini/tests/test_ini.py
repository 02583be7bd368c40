import pytest

import ini

SAMPLE = """
# a comment
; another comment
[DEFAULT]
root = /srv

[server]
host = example.org   ; the public name
port = 8080
debug = yes
ratio = 0.75
data = ${root}/data

[paths]
logs = ${server:data}/logs
"""


@pytest.fixture
def cfg():
    return ini.loads(SAMPLE)


def test_sections(cfg):
    assert cfg.sections() == ["server", "paths"]
    assert cfg.has_section("server")
    assert not cfg.has_section("DEFAULT")


def test_plain_values_and_inline_comment(cfg):
    assert cfg.get("server", "host") == "example.org"


def test_typed_getters(cfg):
    assert cfg.getint("server", "port") == 8080
    assert cfg.getfloat("server", "ratio") == 0.75
    assert cfg.getboolean("server", "debug") is True


@pytest.mark.parametrize("text,expected", [("yes", True), ("No", False), ("TRUE", True), ("0", False), ("on", True)])
def test_booleans(text, expected):
    c = ini.loads(f"[s]\nflag = {text}\n")
    assert c.getboolean("s", "flag") is expected


def test_bad_boolean():
    c = ini.loads("[s]\nflag = maybe\n")
    with pytest.raises(ValueError):
        c.getboolean("s", "flag")


def test_interpolation(cfg):
    assert cfg.get("server", "data") == "/srv/data"
    assert cfg.get("paths", "logs") == "/srv/data/logs"
    assert cfg.get("server", "data", raw=True) == "${root}/data"


def test_defaults_are_inherited(cfg):
    assert cfg.get("paths", "root") == "/srv"
    assert "root" in cfg.options("server")


def test_fallback(cfg):
    assert cfg.get("server", "missing", fallback="x") == "x"
    with pytest.raises(KeyError):
        cfg.get("server", "missing")


def test_bad_reference():
    c = ini.loads("[s]\na = ${nope}\n")
    with pytest.raises(ini.InterpolationError):
        c.get("s", "a")


def test_dollar_escape():
    c = ini.loads("[s]\nprice = $$5\n")
    assert c.get("s", "price") == "$5"


def test_quoted_values_keep_spaces():
    c = ini.loads('[s]\npad = "  x  "\n')
    assert c.get("s", "pad") == "  x  "


def test_continuation_lines():
    c = ini.loads("[s]\nhosts = a\n  b\n  c\nnext = 1\n")
    assert c.get("s", "hosts") == "a\nb\nc"
    assert c.get("s", "next") == "1"


@pytest.mark.parametrize(
    "text,line",
    [("key = 1\n", 1), ("[s]\n[s]\n", 2), ("[s]\njust a line\n", 2), ("[s\n", 1)],
)
def test_parse_errors(text, line):
    with pytest.raises(ini.ParseError) as e:
        ini.loads(text)
    assert e.value.line == line


def test_round_trip(cfg):
    again = ini.loads(ini.dumps(cfg))
    assert again.as_dict() == cfg.as_dict()
