import test from 'ava';
import { normalisePatch, normalisedPatchHash } from '../../../operator/selection/patch.ts';

const git = [
  'diff --git a/src/a.py b/src/a.py',
  'index 3b18e51..a0c6c2b 100644',
  '--- a/src/a.py',
  '+++ b/src/a.py',
  '@@ -10,3 +10,3 @@ def f(x):',
  '     y = x',
  '-    return y',
  '+    return y + 1',
  '     # end',
  'diff --git a/b.py b/b.py',
  'new file mode 100644',
  'index 0000000..e69de29',
  '--- /dev/null',
  '+++ b/b.py',
  '@@ -0,0 +1,2 @@',
  '+-- not a header',
  '+print(1)',
  '\\ No newline at end of file',
  '',
].join('\n');

test('normalisePatch drops git metadata and line numbers, keeps paths and changed lines', (t) => {
  t.is(
    normalisePatch(git),
    [
      '--- /dev/null',
      '+++ b.py',
      '@@',
      '+-- not a header',
      '+print(1)',
      '--- src/a.py',
      '+++ src/a.py',
      '@@',
      ' y = x',
      '- return y',
      '+ return y + 1',
      ' # end',
    ].join('\n'),
  );
});

test('whitespace, CRLF, hunk offsets, file order and blank-line edits do not matter', (t) => {
  const other = [
    '--- /dev/null\t2026-01-01 00:00:00',
    '+++ b/b.py',
    '@@ -0,0 +1,3 @@',
    '+-- not a header   ',
    '+',
    '+print(1)',
    '--- src/a.py',
    '+++ src/a.py',
    '@@ -12,3 +12,3 @@',
    '     y  =  x',
    '-\treturn y',
    '+    return y + 1',
    '     # end',
  ].join('\r\n');
  t.is(normalisePatch(other), normalisePatch(git));
  t.is(normalisedPatchHash(other), normalisedPatchHash(git));
});

test('different changes stay different', (t) => {
  t.not(normalisePatch(git), normalisePatch(git.replace('return y + 1', 'return y - 1')));
  t.not(normalisePatch(git), normalisePatch(git.replace(/src\/a\.py/g, 'src/c.py')));
  // a removed line starting with "--" is body, not a file header
  const removed = '--- a/x\n+++ b/x\n@@ -1,2 +1,1 @@\n--- comment\n keep\n';
  t.is(normalisePatch(removed), '--- x\n+++ x\n@@\n--- comment\n keep');
});

test('the empty patch and whitespace-only text normalise to ""', (t) => {
  t.is(normalisePatch(''), '');
  t.is(normalisePatch('\n \r\n\t\n'), '');
  t.is(normalisedPatchHash(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});
