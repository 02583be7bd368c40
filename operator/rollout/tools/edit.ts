/**
 * The text operations of the file editor, pure: no file system. Files keep their own line
 * endings: old_str matches across LF / CRLF, and text written into a file takes the line
 * ending of the place it goes (the file's dominant style for insert).
 */

export type EditResult = { ok: true; content: string; line: number } | { ok: false; error: string };

const lines = (text: string): string[] => {
  if (text === '') return [];
  const parts = text.split('\n');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts;
};

/** `cat -n` of the given 1-based inclusive range (end -1: to the end). */
export function numbered(content: string, range?: [number, number]): { ok: true; text: string } | { ok: false; error: string } {
  const all = lines(content);
  let start = 1;
  let end = all.length;
  if (range) {
    [start, end] = range;
    if (end === -1) end = all.length;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 1 || start > Math.max(1, all.length) || end < start || end > all.length) {
      return { ok: false, error: `Invalid view_range [${range.join(', ')}]: the file has ${all.length} lines; use 1-based [start, end] with start <= end <= ${all.length} (or end = -1).` };
    }
  }
  const out: string[] = [];
  // A CR of a CRLF line ending is not shown (the agent copies lines into old_str without it).
  for (let i = start; i <= end; i++) out.push(`${String(i).padStart(6)}\t${(all[i - 1] ?? '').replace(/\r$/, '')}`);
  return { ok: true, text: out.join('\n') };
}

export type LineEnding = '\n' | '\r\n';

/** The file's line ending: CRLF when most of its line breaks are CRLF, else LF. */
export function lineEnding(content: string): LineEnding {
  const crlf = content.split('\r\n').length - 1;
  const lf = content.split('\n').length - 1 - crlf;
  return crlf > lf ? '\r\n' : '\n';
}

/** text with every line break written as eol. */
export const withLineEnding = (text: string, eol: LineEnding): string => text.replace(/\r?\n/g, eol);

/** The line ending at the end of the line holding position i (the file's style when it is the last line). */
function lineEndingAt(content: string, i: number): LineEnding {
  const nl = content.indexOf('\n', i);
  if (nl < 0) return lineEnding(content);
  return content[nl - 1] === '\r' ? '\r\n' : '\n';
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replaces the one occurrence of oldStr. Line breaks match across styles (an LF old_str finds
 * its text in a CRLF file, and the reverse); the rest matches verbatim. newStr is
 * written with the line ending of the text it replaces, so a CRLF file stays CRLF.
 */
export function strReplace(content: string, oldStr: string, newStr: string): EditResult {
  if (oldStr === '') return { ok: false, error: 'old_str must not be empty.' };
  let matches: { index: number; text: string }[] = [];
  if (oldStr.includes('\n')) {
    const re = new RegExp(escapeRegExp(oldStr.replace(/\r\n/g, '\n')).replace(/\n/g, '\\r?\\n'), 'g');
    matches = [...content.matchAll(re)].map((m) => ({ index: m.index, text: m[0] }));
  } else {
    for (let from = content.indexOf(oldStr); from >= 0; from = content.indexOf(oldStr, from + oldStr.length)) matches.push({ index: from, text: oldStr });
  }
  const lineOf = (i: number) => content.slice(0, i).split('\n').length;
  if (matches.length === 0) {
    const crlf = content.includes('\r\n');
    const hint = crlf ? ` The file has ${lineEnding(content) === '\r\n' ? 'CRLF (\\r\\n)' : 'mixed LF and CRLF'} line endings; line breaks in old_str match either style, so check the text itself (whitespace, indentation).` : '';
    return { ok: false, error: `No replacement was performed: old_str did not appear verbatim in the file.${hint}` };
  }
  if (matches.length > 1) {
    return { ok: false, error: `No replacement was performed: old_str occurs ${matches.length} times, at lines ${matches.map((m) => lineOf(m.index)).join(', ')}. Include more context to make it unique.` };
  }
  const [m] = matches;
  const eol = m.text.includes('\r\n') ? '\r\n' : m.text.includes('\n') ? '\n' : lineEndingAt(content, m.index);
  const replacement = withLineEnding(newStr, eol);
  return { ok: true, content: content.slice(0, m.index) + replacement + content.slice(m.index + m.text.length), line: lineOf(m.index) };
}

export function insertAfter(content: string, line: number, text: string): EditResult {
  const all = lines(content);
  if (!Number.isInteger(line) || line < 0 || line > all.length) {
    return { ok: false, error: `Invalid insert_line ${line}: it must be between 0 and ${all.length}, the number of lines of the file.` };
  }
  // Lines keep their own CR; inserted lines take the file's line ending.
  const eol = lineEnding(content);
  const cr = eol === '\r\n' ? '\r' : '';
  const trailing = content === '' || content.endsWith('\n') ? '\n' : '';
  const inserted = lines(withLineEnding(text, '\n')).map((l) => l + cr);
  const before = all.slice(0, line);
  // The old last line gains a line break when text goes after it in a file without a final newline.
  if (trailing === '' && line === all.length && before.length > 0) before[before.length - 1] += cr;
  if (trailing === '' && line === all.length && inserted.length > 0) inserted[inserted.length - 1] = inserted[inserted.length - 1].slice(0, inserted[inserted.length - 1].length - cr.length);
  const next = [...before, ...inserted, ...all.slice(line)];
  return { ok: true, content: next.join('\n') + trailing, line: line + 1 };
}

/** A few numbered lines around `line`, to show the agent the result of an edit. */
export function snippet(content: string, line: number, extraLines: number, context = 4): string {
  const all = lines(content);
  const start = Math.max(1, line - context);
  const end = Math.min(all.length, line + extraLines + context);
  if (end < start) return '';
  const r = numbered(content, [start, end]);
  return r.ok ? r.text : '';
}
