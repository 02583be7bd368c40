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
