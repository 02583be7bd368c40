"""A small INI-file reader/writer with interpolation."""

import re

_MISSING = object()
DEFAULT = "DEFAULT"
MAX_DEPTH = 10

TRUE = {"1", "yes", "true", "on"}
FALSE = {"0", "no", "false", "off"}


class ParseError(ValueError):
    def __init__(self, line, message):
        super().__init__(f"line {line}: {message}")
        self.line = line


class InterpolationError(ValueError):
    pass


def _strip_inline_comment(value):
    """Removes an inline comment: whitespace then '#' or ';', outside double quotes."""
    in_quotes = False
    for i, ch in enumerate(value):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch in "#;" and not in_quotes and i > 0 and value[i - 1].isspace():
            return value[:i].rstrip()
    return value


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


_REF = re.compile(r"\$\$|\$\{([^}:]+)(?::([^}]+))?\}")


class Config:
    def __init__(self):
        self._sections = {DEFAULT: {}}

    # -- structure -----------------------------------------------------------------------
    def sections(self):
        return [s for s in self._sections if s != DEFAULT]

    def has_section(self, section):
        return section in self._sections and section != DEFAULT

    def add_section(self, section):
        if section in self._sections:
            raise ValueError(f"duplicate section {section!r}")
        self._sections[section] = {}

    def options(self, section):
        own = self._section(section)
        keys = list(own)
        keys += [k for k in self._sections[DEFAULT] if k not in own]
        return keys

    def has_option(self, section, key):
        return self._raw(section, key) is not _MISSING

    def _section(self, section):
        try:
            return self._sections[section]
        except KeyError:
            raise KeyError(f"no section {section!r}") from None

    # -- values --------------------------------------------------------------------------
    def set(self, section, key, value):
        self._section(section)[key.lower()] = str(value)

    def _raw(self, section, key):
        key = key.lower()
        own = self._section(section)
        if key in own:
            return own[key]
        return self._sections[DEFAULT].get(key, _MISSING)

    def get(self, section, key, fallback=_MISSING, raw=False):
        value = self._raw(section, key)
        if value is _MISSING:
            if fallback is _MISSING:
                raise KeyError(f"no option {key!r} in section {section!r}")
            return fallback
        return value if raw else self._interpolate(section, value, 0)

    def _interpolate(self, section, value, depth):
        if depth > MAX_DEPTH:
            raise InterpolationError(f"interpolation too deep in section {section!r}: {value!r}")

        def repl(m):
            if m.group(0) == "$$":
                return "$"
            if m.group(2) is not None:
                sec, key = m.group(1), m.group(2)
            else:
                sec, key = section, m.group(1)
            try:
                found = self._raw(sec, key)
            except KeyError:
                found = _MISSING
            if found is _MISSING:
                raise InterpolationError(f"bad reference {m.group(0)} in section {section!r}")
            return self._interpolate(sec, found, depth + 1)

        return _REF.sub(repl, value)

    def getint(self, section, key, fallback=_MISSING):
        v = self.get(section, key, fallback)
        return v if v is fallback else int(v)

    def getfloat(self, section, key, fallback=_MISSING):
        v = self.get(section, key, fallback)
        return v if v is fallback else float(v)

    def getboolean(self, section, key, fallback=_MISSING):
        v = self.get(section, key, fallback)
        if v is fallback:
            return v
        s = v.strip().lower()
        if s in TRUE:
            return True
        if s in FALSE:
            return False
        raise ValueError(f"not a boolean: {v!r}")

    def as_dict(self):
        return {s: {k: self.get(s, k) for k in self.options(s)} for s in self.sections()}


def loads(text):
    cfg = Config()
    section = None
    last_key = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if raw[0].isspace() and last_key is not None:
            # continuation of the previous value
            values = cfg._sections[section]
            values[last_key] = values[last_key] + "\n" + _strip_inline_comment(stripped)
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise ParseError(lineno, f"unterminated section header {stripped!r}")
            section = stripped[1:-1].strip()
            if not section:
                raise ParseError(lineno, "empty section name")
            if section in cfg._sections and section != DEFAULT:
                raise ParseError(lineno, f"duplicate section {section!r}")
            cfg._sections.setdefault(section, {})
            last_key = None
            continue
        m = re.search(r"[=:]", stripped)
        if not m:
            raise ParseError(lineno, f"expected 'key = value', got {stripped!r}")
        if section is None:
            raise ParseError(lineno, "key outside of any section")
        key = stripped[: m.start()].strip().lower()
        if not key:
            raise ParseError(lineno, "empty key")
        value = _unquote(_strip_inline_comment(stripped[m.end():].strip()))
        cfg._sections[section][key] = value
        last_key = key
    return cfg


def _quote(value):
    if value != value.strip() or any(c in value for c in "#;") or value == "":
        return '"' + value + '"'
    return value


def dumps(cfg):
    out = []
    for section, values in cfg._sections.items():
        if section == DEFAULT and not values:
            continue
        out.append(f"[{section}]")
        for key, value in values.items():
            lines = value.split("\n")
            out.append(f"{key} = {_quote(lines[0])}")
            out.extend(f"    {cont}" for cont in lines[1:])
        out.append("")
    return "\n".join(out)
