import test from 'ava';
import fc from 'fast-check';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { unifiedDiff, unifiedDiffOfFiles } from '../../../operator/tasks/diff.ts';
import { applyPatch, diffAgainstBase, materialiseWorkTree } from '../../../operator/grading/worktree.ts';

test('unifiedDiff produces git-style hunks with 3 lines of context', (t) => {
  const before = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
  const after = before.replace('line 6\n', 'LINE SIX\n');
  t.is(
    unifiedDiff('f.txt', before, after),
    [
      'diff --git a/f.txt b/f.txt',
      '--- a/f.txt',
      '+++ b/f.txt',
      '@@ -3,7 +3,7 @@',
      ' line 3',
      ' line 4',
      ' line 5',
      '-line 6',
      '+LINE SIX',
      ' line 7',
      ' line 8',
      ' line 9',
      '',
    ].join('\n'),
  );
  t.is(unifiedDiff('f.txt', before, before), '');
  t.regex(unifiedDiff('new.txt', null, 'a\n'), /^diff --git a\/new.txt b\/new.txt\nnew file mode 100644\n--- \/dev\/null\n\+\+\+ b\/new.txt\n@@ -0,0 \+1 @@\n\+a\n$/);
  t.regex(unifiedDiff('old.txt', 'a\nb\n', null), /deleted file mode 100644\n--- a\/old.txt\n\+\+\+ \/dev\/null\n@@ -1,2 \+0,0 @@\n-a\n-b\n$/);
});

test('unifiedDiff output is the same as git diff for the same change', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-diff-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const before = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n';
  const after = 'a\nB\nc\nd\ne\nf\ng\nh\ni\nJ\nk\nl\n';
  await materialiseWorkTree({ instance_id: 'x', files: { 'f.txt': before } }, dir);
  const ours = unifiedDiff('f.txt', before, after);
  t.true((await applyPatch(dir, ours)).applied);
  const theirs = await diffAgainstBase(dir);
  // git adds an "index" line and a section heading after "@@"; the hunks are identical.
  t.is(theirs.replace(/^index .*\n/m, '').replace(/^(@@ [^@]* @@).*$/gm, '$1'), ours);
});

test('property: git apply of unifiedDiff(before, after) onto before gives after (newlines at EOF included)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-diffprop-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const text = fc
    .tuple(fc.array(fc.constantFrom('a', 'b', 'c', 'd', '', 'x y'), { maxLength: 9 }), fc.boolean())
    .map(([lines, eol]) => (lines.length === 0 ? '' : lines.join('\n') + (eol ? '\n' : '')));
  let n = 0;
  await fc.assert(
    fc.asyncProperty(text, text, async (before, after) => {
      fc.pre(before !== after);
      const work = path.join(dir, String(n++));
      await materialiseWorkTree({ instance_id: 'p', files: { 'f.txt': before } }, work);
      const r = await applyPatch(work, unifiedDiff('f.txt', before, after));
      const got = await readFile(path.join(work, 'f.txt'), 'utf8');
      await rm(work, { recursive: true, force: true });
      return r.applied && r.method === 'git-apply' && got === after;
    }),
    { numRuns: 40, seed: 20260101 },
  );
  t.pass();
});

test('unifiedDiffOfFiles orders files by path', (t) => {
  const d = unifiedDiffOfFiles({ 'b.txt': ['1\n', '2\n'], 'a.txt': [null, 'x\n'] });
  t.true(d.indexOf('a/a.txt') < d.indexOf('a/b.txt'));
});
