"""An RFC 4180 CSV reader and writer."""


class CSVError(ValueError):
    def __init__(self, line, message):
        super().__init__(f"line {line}: {message}")
        self.line = line


def parse(text, delimiter=",", strip=False, skip_blank=False):
    """Parses CSV text into a list of records (lists of strings)."""
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ValueError(f"bad delimiter {delimiter!r}")
    rows = []
    row = []
    field = []
    quoted = False  # the current field started with a quote
    in_quotes = False  # inside the quoted part
    line = 1
    field_line = 1
    i = 0
    n = len(text)

    def end_field():
        value = "".join(field)
        if strip and not quoted:
            value = value.strip()
        row.append(value)

    def end_record():
        end_field()
        if skip_blank and row == [""]:
            return
        rows.append(list(row))

    while i < n:
        ch = text[i]
        if in_quotes:
            if ch == '"':
                if i + 1 < n and text[i + 1] == '"':
                    field.append('"')
                    i += 2
                    continue
                in_quotes = False
            else:
                if ch == "\n":
                    line += 1
                field.append(ch)
            i += 1
            continue
        if ch == '"' and not "".join(field).strip():
            field.clear()
            quoted = True
            in_quotes = True
            field_line = line
        elif ch == delimiter:
            end_field()
            field.clear()
            quoted = False
        elif ch in "\r\n":
            if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            end_record()
            row.clear()
            field.clear()
            quoted = False
            line += 1
        elif quoted and ch in " \t":
            pass  # whitespace between a closing quote and the delimiter
        else:
            field.append(ch)
        i += 1
    if in_quotes:
        raise CSVError(field_line, "unterminated quoted field")
    if field or row or quoted:
        end_record()
    return rows


def parse_dicts(text, header=None, restval=None, restkey=None, **kwargs):
    rows = parse(text, **kwargs)
    if header is None:
        if not rows:
            return []
        header, rows = rows[0], rows[1:]
    out = []
    for r in rows:
        d = dict(zip(header, r))
        if len(r) < len(header):
            for key in header[len(r):]:
                d[key] = restval
        elif len(r) > len(header):
            d[restkey] = r[len(header):]
        out.append(d)
    return out


def _needs_quotes(value, delimiter):
    return (
        any(c in value for c in (delimiter, '"', "\r", "\n"))
        or value[:1] == " "
        or value[-1:] == " "
    )


def format_field(value, delimiter=","):
    if value is None:
        return ""
    s = str(value)
    if _needs_quotes(s, delimiter):
        return '"' + s.replace('"', '""') + '"'
    return s


def format_rows(rows, delimiter=","):
    return "".join(delimiter.join(format_field(v, delimiter) for v in r) + "\r\n" for r in rows)
