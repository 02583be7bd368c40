# Part of the EntroPO task suite: a variant of the original library.
# Identifiers are renamed and lines shifted on purpose; behaviour is unchanged.
# See operator/policy/variants.yaml.
"""Text wrapping and indentation helpers."""

import re


def _chunks(word, size):
    return [word[i:i + size] for i in range(0, len(word), size)]


def wrap(text, width=70, initial_indent="", subsequent_indent="", break_long_words=True):
    if width <= 0:
        raise ValueError(f"invalid width {width!r} (must be > 0)")
    words = text.split()
    lines = []
    cur = []
    cur_len = 0

    def indent_now():
        return initial_indent if not lines else subsequent_indent

    def flush():
        nonlocal cur, cur_len
        if cur:
            lines.append(indent_now() + " ".join(cur))
        cur = []
        cur_len = 0

    for word in words:
        avail = width - len(indent_now())
        if avail <= 0:
            raise ValueError("indent is wider than the line")
        extra = len(word) + (1 if cur else 0)
        if cur_len + extra <= avail:
            cur.append(word)
            cur_len += extra
            continue
        if len(word) <= avail or not break_long_words:
            flush()
            cur = [word]
            cur_len = len(word)
            continue
        # A word longer than a line: fill the rest of the current line, then whole lines.
        room = avail - cur_len - (1 if cur else 0)
        if room > 0:
            cur.append(word[:room])
            word = word[room:]
        flush()
        while word:
            avail = width - len(indent_now())
            piece, word = word[:avail], word[avail:]
            if word:
                lines.append(indent_now() + piece)
            else:
                cur = [piece]
                cur_len = len(piece)
    flush()
    return lines


def fill(text, width=70, **kwargs):
    return "\n".join(wrap(text, width, **kwargs))


def dedent(text):
    lines = text.split("\n")
    indents = [re.match(r"[ \t]*", line).group(0) for line in lines if line.strip()]
    common = indents[0] if indents else ""
    for m in indents[1:]:
        i = 0
        while i < min(len(common), len(m)) and common[i] == m[i]:
            i += 1
        common = common[:i]
    out = []
    for line in lines:
        if not line.strip():
            out.append("")
        else:
            out.append(line[len(common):])
    return "\n".join(out)


def indent(text, prefix, predicate=None):
    if predicate is None:
        def predicate(line):
            return bool(line.strip())
    return "".join(prefix + line if predicate(line) else line for line in text.splitlines(keepends=True))


def shorten(text, width, placeholder=" [...]"):
    words = text.split()
    collapsed = " ".join(words)
    if len(collapsed) <= width:
        return collapsed
    budget = width - len(placeholder)
    kept = []
    length = 0
    for word in words:
        extra = len(word) + (1 if kept else 0)
        if length + extra > budget:
            break
        kept.append(word)
        length += extra
    if not kept:
        return placeholder.lstrip()[:width]
    return " ".join(kept) + placeholder
