/** The text operations of the file editor, pure: no file system. */

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
  for (let i = start; i <= end; i++) out.push(`${String(i).padStart(6)}\t${all[i - 1] ?? ''}`);
  return { ok: true, text: out.join('\n') };
}

/** 1-based line numbers where `needle` starts. */
function occurrenceLines(content: string, needle: string): number[] {
  const out: number[] = [];
  let from = 0;
  for (;;) {
    const i = content.indexOf(needle, from);
    if (i < 0) return out;
    out.push(content.slice(0, i).split('\n').length);
    from = i + Math.max(1, needle.length);
  }
}

export function strReplace(content: string, oldStr: string, newStr: string): EditResult {
  if (oldStr === '') return { ok: false, error: 'old_str must not be empty.' };
  const at = occurrenceLines(content, oldStr);
  if (at.length === 0) return { ok: false, error: 'No replacement was performed: old_str did not appear verbatim in the file.' };
  if (at.length > 1) {
    return { ok: false, error: `No replacement was performed: old_str occurs ${at.length} times, at lines ${at.join(', ')}. Include more context to make it unique.` };
  }
  const i = content.indexOf(oldStr);
  return { ok: true, content: content.slice(0, i) + newStr + content.slice(i + oldStr.length), line: at[0] };
}

export function insertAfter(content: string, line: number, text: string): EditResult {
  const all = lines(content);
  if (!Number.isInteger(line) || line < 0 || line > all.length) {
    return { ok: false, error: `Invalid insert_line ${line}: it must be between 0 and ${all.length}, the number of lines of the file.` };
  }
  const inserted = lines(text);
  const next = [...all.slice(0, line), ...inserted, ...all.slice(line)];
  const trailing = content === '' || content.endsWith('\n') ? '\n' : '';
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
