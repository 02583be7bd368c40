import test from 'ava';
import { insertAfter, numbered, snippet, strReplace } from '../../../operator/rollout/tools/edit.ts';

const src = 'a\nb\nc\nb\n';

test('numbered: whole file and ranges, 1-based, -1 to the end', (t) => {
  const all = numbered(src);
  t.true(all.ok);
  if (all.ok) t.is(all.text, '     1\ta\n     2\tb\n     3\tc\n     4\tb');
  const r = numbered(src, [3, -1]);
  t.deepEqual(r, { ok: true, text: '     3\tc\n     4\tb' });
  const bad = numbered(src, [3, 9]);
  t.false(bad.ok);
  if (!bad.ok) t.regex(bad.error, /has 4 lines/);
});

test('strReplace: unique match replaced, reports its line', (t) => {
  t.deepEqual(strReplace(src, 'c\n', 'C\nC2\n'), { ok: true, content: 'a\nb\nC\nC2\nb\n', line: 3 });
});

test('strReplace: several matches are refused with their lines, none is refused', (t) => {
  const many = strReplace(src, 'b', 'x');
  t.false(many.ok);
  if (!many.ok) t.regex(many.error, /occurs 2 times, at lines 2, 4/);
  const none = strReplace(src, 'zzz', 'x');
  t.false(none.ok);
  if (!none.ok) t.regex(none.error, /did not appear verbatim/);
  t.false(strReplace(src, '', 'x').ok);
});

test('insertAfter: top, middle, end; out of range refused', (t) => {
  t.deepEqual(insertAfter(src, 0, 'top'), { ok: true, content: 'top\na\nb\nc\nb\n', line: 1 });
  t.deepEqual(insertAfter(src, 2, 'x\ny'), { ok: true, content: 'a\nb\nx\ny\nc\nb\n', line: 3 });
  t.deepEqual(insertAfter(src, 4, 'end'), { ok: true, content: 'a\nb\nc\nb\nend\n', line: 5 });
  t.deepEqual(insertAfter('', 0, 'only'), { ok: true, content: 'only\n', line: 1 });
  const bad = insertAfter(src, 5, 'x');
  t.false(bad.ok);
  t.false(insertAfter(src, -1, 'x').ok);
});

test('snippet shows context lines around an edit', (t) => {
  const text = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join('\n') + '\n';
  const s = snippet(text, 10, 0, 2);
  t.is(s.split('\n').length, 5);
  t.true(s.startsWith('     8\tl8'));
  t.true(s.endsWith('    12\tl12'));
});

const crlf = 'def f():\r\n    return 1\r\n\r\ndef g():\r\n    return 2\r\n';

test('CRLF files: an LF old_str matches, and the file is written back in CRLF', (t) => {
  const r = strReplace(crlf, 'def g():\n    return 2\n', 'def g():\n    x = 2\n    return x\n');
  t.deepEqual(r, { ok: true, content: 'def f():\r\n    return 1\r\n\r\ndef g():\r\n    x = 2\r\n    return x\r\n', line: 4 });
  // a one-line old_str with a multi-line new_str takes the line's CRLF
  t.deepEqual(strReplace(crlf, '    return 1', '    y = 1\n    return y'), {
    ok: true,
    content: 'def f():\r\n    y = 1\r\n    return y\r\n\r\ndef g():\r\n    return 2\r\n',
    line: 2,
  });
  // a CRLF old_str in an LF file matches too, and the LF file stays LF
  t.deepEqual(strReplace('a\nb\nc\n', 'a\r\nb\r\n', 'A\r\nB\r\n'), { ok: true, content: 'A\nB\nc\n', line: 1 });
  // several matches across styles are still refused with their lines
  const many = strReplace('x\r\ny\nx\ny\n', 'x\ny', 'z');
  t.false(many.ok);
  if (!many.ok) t.regex(many.error, /occurs 2 times, at lines 1, 3/);
});

test('CRLF files: a real mismatch says the file is CRLF; view hides the CR; insert keeps CRLF', (t) => {
  const none = strReplace(crlf, 'def h():\n', 'x');
  t.false(none.ok);
  if (!none.ok) t.regex(none.error, /CRLF \(\\r\\n\) line endings/);
  const v = numbered(crlf, [1, 2]);
  t.deepEqual(v, { ok: true, text: '     1\tdef f():\n     2\t    return 1' });
  t.deepEqual(insertAfter(crlf, 2, '# one\n# two\n'), { ok: true, content: 'def f():\r\n    return 1\r\n# one\r\n# two\r\n\r\ndef g():\r\n    return 2\r\n', line: 3 });
  // no final newline: the old last line gains a CRLF, the inserted last line ends the file
  t.deepEqual(insertAfter('a\r\nb', 2, 'c\nd'), { ok: true, content: 'a\r\nb\r\nc\r\nd', line: 3 });
  t.deepEqual(insertAfter('a\nb', 2, 'c'), { ok: true, content: 'a\nb\nc', line: 3 });
});

test('file_editor on a CRLF file: view says so, str_replace with LF text and insert keep the file CRLF on disk, undo restores the bytes', async (t) => {
  const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { FileEditor } = await import('../../../operator/rollout/tools/file-editor.ts');
  const dir = mkdtempSync(join(tmpdir(), 'entropo-crlf-'));
  writeFileSync(join(dir, 'm.py'), crlf);
  const ed = new FileEditor(dir);
  t.regex(await ed.run({ command: 'view', path: 'm.py' }), /CRLF line endings/);
  t.regex(await ed.run({ command: 'str_replace', path: 'm.py', old_str: 'def f():\n    return 1\n', new_str: 'def f():\n    return 10\n' }), /has been edited/);
  await ed.run({ command: 'insert', path: 'm.py', insert_line: 0, new_str: 'import os\n' });
  t.is(readFileSync(join(dir, 'm.py'), 'utf8'), 'import os\r\ndef f():\r\n    return 10\r\n\r\ndef g():\r\n    return 2\r\n');
  await ed.run({ command: 'undo_edit', path: 'm.py' });
  await ed.run({ command: 'undo_edit', path: 'm.py' });
  t.is(readFileSync(join(dir, 'm.py'), 'utf8'), crlf);
});
