import test from 'ava';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { evaluatePatch, EnvironmentUnavailableError } from '../../../operator/grading/evaluate.ts';
import { runShell } from '../../../operator/grading/exec.ts';
import { gradeOutcome } from '../../../operator/grading/grade.ts';
import { parseUnittestLog } from '../../../operator/grading/parse.ts';
import { applyPatch, diffAgainstBase, filesOfPatch, materialiseWorkTree } from '../../../operator/grading/worktree.ts';
import type { SelfContainedTask, SweBenchTask } from '../../../operator/api/records.ts';

const CALC = 'def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n';

const pyTask: SelfContainedTask = {
  instance_id: 'calc-1',
  repo: 'calc',
  problem_statement: 'add(2, 3) returns -1',
  language: 'python',
  files: {
    'calc.py': CALC,
    'tests/test_calc.py': 'from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n',
  },
  patch: [
    'diff --git a/calc.py b/calc.py',
    '--- a/calc.py',
    '+++ b/calc.py',
    '@@ -1,5 +1,5 @@',
    ' def add(a, b):',
    '-    return a - b',
    '+    return a + b',
    ' ',
    ' ',
    ' def mul(a, b):',
    '',
  ].join('\n'),
  test_patch: [
    'diff --git a/tests/test_hidden.py b/tests/test_hidden.py',
    'new file mode 100644',
    '--- /dev/null',
    '+++ b/tests/test_hidden.py',
    '@@ -0,0 +1,5 @@',
    '+import pytest',
    '+from calc import add',
    '+@pytest.mark.parametrize("a,b,s", [(2, 3, 5), (0, 0, 0)])',
    '+def test_add(a, b, s):',
    '+    assert add(a, b) == s',
    '',
  ].join('\n'),
  test_command: 'python3 -m pytest -rA -p no:cacheprovider tests',
  test_framework: 'pytest',
  FAIL_TO_PASS: ['tests/test_hidden.py::test_add[2-3-5]'],
  PASS_TO_PASS: ['tests/test_hidden.py::test_add[0-0-0]', 'tests/test_calc.py::test_mul'],
};

test('pytest task: the gold patch resolves it, the empty patch does not', async (t) => {
  const gold = await evaluatePatch(pyTask, pyTask.patch);
  t.true(gold.applied, gold.log);
  t.true(gold.resolved, gold.log);
  t.is(gold.reward, 1);
  t.deepEqual(gold.hidden, { passed: ['tests/test_hidden.py::test_add[2-3-5]'], failed: [] });
  t.is(gold.regression.passed.length, 2);
  t.is(gold.applyMethod, 'git-apply');
  t.false(gold.timedOut);
  t.true(gold.seconds > 0);

  const empty = await evaluatePatch(pyTask, '');
  t.true(empty.applied);
  t.false(empty.resolved);
  t.is(empty.reward, 0);
  t.deepEqual(empty.hidden, { passed: [], failed: ['tests/test_hidden.py::test_add[2-3-5]'] });
  t.deepEqual(empty.regression.failed, []);
  t.regex(empty.log, /FAILED tests\/test_hidden.py::test_add\[2-3-5\]/);
});

test('a patch that fixes the bug but breaks a regression test is not resolved', async (t) => {
  const breaking = pyTask.patch.replace(' def mul(a, b):\n', ' def mul(a, b):\n') + [
    '@@ -5,2 +5,2 @@',
    ' def mul(a, b):',
    '-    return a * b',
    '+    return a ** b',
    '',
  ].join('\n');
  const r = await evaluatePatch(pyTask, breaking);
  t.true(r.applied, r.log);
  t.false(r.resolved);
  t.deepEqual(r.hidden.failed, []);
  t.deepEqual(r.regression.failed, ['tests/test_calc.py::test_mul']);
});

test('a patch that does not apply is reported, nothing is graded as passing', async (t) => {
  const bad = 'diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def nothing_like_this():\n-    return 42\n+    return 43\n';
  const r = await evaluatePatch(pyTask, bad);
  t.false(r.applied);
  t.regex(r.applyError ?? '', /git-apply: .*patch failed|error/);
  t.regex(r.applyError ?? '', /patch-fuzz/);
  t.false(r.resolved);
  t.deepEqual(r.hidden.passed, []);
  t.deepEqual(r.regression.passed, []);
  t.is(r.regression.failed.length, 2);
});

test('a candidate that writes the hidden test file itself cannot pre-empt the hidden tests', async (t) => {
  const cheat = [
    'diff --git a/tests/test_hidden.py b/tests/test_hidden.py',
    'new file mode 100644',
    '--- /dev/null',
    '+++ b/tests/test_hidden.py',
    '@@ -0,0 +1,2 @@',
    '+def test_add():',
    '+    pass',
    '',
  ].join('\n');
  const r = await evaluatePatch(pyTask, cheat);
  t.true(r.applied, r.log);
  t.false(r.resolved);
  t.deepEqual(r.hidden.failed, ['tests/test_hidden.py::test_add[2-3-5]']);
});

test('fall-backs: wrong hunk counts go in with --recount, a drifted context line with patch --fuzz', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-apply-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await materialiseWorkTree(pyTask, dir);
  const wrongCounts = pyTask.patch.replace('@@ -1,5 +1,5 @@', '@@ -1,9 +1,7 @@');
  const a = await applyPatch(dir, wrongCounts);
  t.deepEqual(a, { applied: true, method: 'git-apply-recount' });
  t.regex(await readFile(path.join(dir, 'calc.py'), 'utf8'), /return a \+ b/);
  t.regex(await diffAgainstBase(dir), /^- {4}return a - b\n\+ {4}return a \+ b$/m);

  const dir2 = await mkdtemp(path.join(os.tmpdir(), 'entropo-apply-'));
  t.teardown(() => rm(dir2, { recursive: true, force: true }));
  await materialiseWorkTree(pyTask, dir2);
  const drifted = pyTask.patch.replace(' def mul(a, b):', ' def mul(x, y):');
  const b = await applyPatch(dir2, drifted);
  t.deepEqual(b, { applied: true, method: 'patch-fuzz' });
  t.regex(await readFile(path.join(dir2, 'calc.py'), 'utf8'), /return a \+ b/);
  t.deepEqual(await applyPatch(dir2, '  \n'), { applied: true, method: 'empty' });
});

test('node task graded from TAP, unittest task graded from -v output', async (t) => {
  const nodeTask: SelfContainedTask = {
    instance_id: 'js-1',
    repo: 'js',
    problem_statement: 'x',
    language: 'javascript',
    files: {
      'package.json': '{ "type": "module" }\n',
      'src/clamp.js': 'export const clamp = (x, lo, hi) => Math.min(lo, Math.max(x, hi));\n',
      'test/old.test.js': "import { test } from 'node:test';\nimport assert from 'node:assert';\ntest('old > works', () => assert.ok(true));\n",
    },
    patch: '--- a/src/clamp.js\n+++ b/src/clamp.js\n@@ -1 +1 @@\n-export const clamp = (x, lo, hi) => Math.min(lo, Math.max(x, hi));\n+export const clamp = (x, lo, hi) => Math.max(lo, Math.min(x, hi));\n',
    test_patch: [
      '--- /dev/null',
      '+++ b/test/hidden.test.js',
      '@@ -0,0 +1,6 @@',
      "+import { describe, it } from 'node:test';",
      "+import assert from 'node:assert/strict';",
      "+import { clamp } from '../src/clamp.js';",
      "+describe('clamp', () => {",
      "+  it('keeps values inside the range', () => assert.equal(clamp(5, 0, 10), 5));",
      '+});',
      '',
    ].join('\n'),
    test_command: 'node --test --test-reporter=tap test/*.test.js',
    test_framework: 'node',
    FAIL_TO_PASS: ['clamp > keeps values inside the range'],
    PASS_TO_PASS: ['old > works'],
  };
  const [gold, empty] = await Promise.all([evaluatePatch(nodeTask, nodeTask.patch), evaluatePatch(nodeTask, '')]);
  t.true(gold.resolved, gold.log);
  t.false(empty.resolved);
  t.deepEqual(empty.regression.passed, ['old > works']);

  const uTask: SelfContainedTask = {
    ...pyTask,
    instance_id: 'calc-unittest',
    files: { ...pyTask.files, 'tests/__init__.py': '', 'tests/test_calc.py': 'import unittest\nfrom calc import mul\n\n\nclass TestMul(unittest.TestCase):\n    def test_mul(self):\n        self.assertEqual(mul(2, 3), 6)\n' },
    test_patch: '--- /dev/null\n+++ b/tests/test_hidden.py\n@@ -0,0 +1,6 @@\n+import unittest\n+from calc import add\n+\n+\n+class TestAdd(unittest.TestCase):\n+    def test_add(self): self.assertEqual(add(2, 3), 5)\n',
    test_command: 'python3 -m unittest -v',
    test_framework: 'unittest',
    FAIL_TO_PASS: ['tests.test_hidden.TestAdd.test_add'],
    PASS_TO_PASS: ['tests.test_calc.TestMul.test_mul'],
  };
  const [ug, ue] = await Promise.all([evaluatePatch(uTask, uTask.patch), evaluatePatch(uTask, '')]);
  t.true(ug.resolved, ug.log);
  t.false(ue.resolved);
  t.deepEqual(ue.regression.passed, ['tests.test_calc.TestMul.test_mul']);
});

test('a test command past its timeout is killed with its whole process group; the work dir is removed', async (t) => {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'entropo-parent-'));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  // A background process known by a unique argument (the run may be in a PID namespace of its own).
  const marker = `61.${process.pid}${Date.now() % 100000}`;
  const slow: SelfContainedTask = { ...pyTask, test_command: `sleep ${marker} & sleep 60` };
  const r = await evaluatePatch(slow, pyTask.patch, { timeoutSeconds: 1, workDir: parent });
  t.true(r.timedOut);
  // Killed at its 1 s timeout, not after the 60 s the command would run (margin for a loaded machine).
  t.true(r.seconds < 45, `took ${r.seconds}`);
  t.false(r.resolved);
  t.regex(r.log, /timed out after 1 s/);
  // Gone, or a zombie waiting for its new parent to reap it (killed, not running).
  const alive = async () => {
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmd !== `sleep\0${marker}\0`) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      if (stat && !/^\d+ \(.*\) Z/.test(stat)) return true;
    }
    return false;
  };
  for (let i = 0; i < 30 && (await alive()); i++) await new Promise((res) => setTimeout(res, 100));
  t.false(await alive(), 'background process of the test command survived');
  t.deepEqual(await readdir(parent), []);
});

test('a SWE-bench task cannot be evaluated without its per-instance environment', async (t) => {
  const swe: SweBenchTask = {
    instance_id: 'django__django-11099',
    repo: 'django/django',
    base_commit: 'abc123',
    problem_statement: 'x',
    patch: '',
    test_patch: '',
    FAIL_TO_PASS: ['a'],
    PASS_TO_PASS: [],
  };
  const err = await t.throwsAsync(evaluatePatch(swe, ''), { instanceOf: EnvironmentUnavailableError });
  t.regex(err?.message ?? '', /sweb\.eval\.x86_64\.django__django-11099/);
  t.regex(err?.message ?? '', /gradeLog/);
});

test('materialiseWorkTree refuses paths outside the tree; filesOfPatch lists both sides', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-mat-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await t.throwsAsync(materialiseWorkTree({ instance_id: 'x', files: { '../evil.py': '' } }, dir), { message: /inside the work tree/ });
  await t.throwsAsync(materialiseWorkTree({ instance_id: 'x', files: { '.git/config': '' } }, dir), { message: /inside the work tree/ });
  t.deepEqual(filesOfPatch(pyTask.test_patch), ['tests/test_hidden.py']);
  t.deepEqual(filesOfPatch('diff --git a/x.py b/y.py\nrename from x.py\nrename to y.py\n'), ['x.py', 'y.py']);
});

test('tests run with a pinned, clean environment (TZ, PYTHONHASHSEED, locale; no inherited NODE_OPTIONS / PYTEST_ADDOPTS)', async (t) => {
  const before = { NODE_OPTIONS: process.env.NODE_OPTIONS, PYTEST_ADDOPTS: process.env.PYTEST_ADDOPTS };
  process.env.PYTEST_ADDOPTS = '-p no:everything';
  t.teardown(() => {
    if (before.PYTEST_ADDOPTS === undefined) delete process.env.PYTEST_ADDOPTS;
    else process.env.PYTEST_ADDOPTS = before.PYTEST_ADDOPTS;
  });
  const envTask: SelfContainedTask = {
    ...pyTask,
    test_command: 'echo "TZ=$TZ HASHSEED=$PYTHONHASHSEED LC_ALL=$LC_ALL NODE_OPTIONS=[$NODE_OPTIONS] ADDOPTS=[$PYTEST_ADDOPTS]"; date +%Z',
  };
  const r = await evaluatePatch(envTask, '');
  t.regex(r.log, /TZ=UTC HASHSEED=0 LC_ALL=C\.UTF-8 NODE_OPTIONS=\[\] ADDOPTS=\[\]/);
  t.regex(r.log, /^UTC$/m);
});

test('runShell keeps the head and tail of an oversized output', async (t) => {
  const r = await runShell('i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done', { cwd: os.tmpdir(), maxOutputBytes: 4096 });
  t.is(r.code, 0);
  t.regex(r.output, /^line 0\n/);
  t.regex(r.output, /line 1999\n$/);
  t.regex(r.output, /bytes of output dropped/);
  t.true(r.output.length < 6000);
});

test('runShell caps a single huge write too', async (t) => {
  const r = await runShell(`node -e "process.stdout.write('a'.repeat(300000) + 'END')"`, { cwd: os.tmpdir(), maxOutputBytes: 8192 });
  t.true(r.output.length < 8192 + 100, `${r.output.length}`);
  t.true(r.output.startsWith('aaaa'));
  t.true(r.output.endsWith('aEND'));
  t.regex(r.output, /\[\.\.\. \d+ bytes of output dropped \.\.\.\]/);
});

test('a candidate that edits an existing test into passing is graded against the original test', async (t) => {
  // Breaks mul, fixes add, and rewrites test_mul so that it would pass.
  const hack = [
    pyTask.patch.trimEnd(),
    '@@ -5,2 +5,2 @@',
    ' def mul(a, b):',
    '-    return a * b',
    '+    return a + b',
    'diff --git a/tests/test_calc.py b/tests/test_calc.py',
    '--- a/tests/test_calc.py',
    '+++ b/tests/test_calc.py',
    '@@ -4,2 +4,2 @@',
    ' def test_mul():',
    '-    assert mul(2, 3) == 6',
    '+    assert mul(2, 3) == 5',
    '',
  ].join('\n');
  const r = await evaluatePatch(pyTask, hack);
  t.true(r.applied, r.log);
  t.regex(r.log, /test files reset to base \(or removed when new\): tests\/test_calc.py/);
  t.deepEqual(r.regression.failed, ['tests/test_calc.py::test_mul']);
  t.false(r.resolved);
});

test('test-runner configuration and test files added by a candidate are removed before grading', async (t) => {
  // A conftest.py that turns every failing report into a pass, plus the real bug left in place.
  const conftest = [
    'diff --git a/conftest.py b/conftest.py',
    'new file mode 100644',
    '--- /dev/null',
    '+++ b/conftest.py',
    '@@ -0,0 +1,7 @@',
    '+import pytest',
    '+@pytest.hookimpl(hookwrapper=True)',
    '+def pytest_runtest_makereport(item, call):',
    '+    outcome = yield',
    '+    report = outcome.get_result()',
    '+    report.outcome = "passed"',
    '+    report.longrepr = None',
    '',
  ].join('\n');
  const r = await evaluatePatch(pyTask, conftest);
  t.true(r.applied, r.log);
  t.regex(r.log, /removed when new\): .*conftest\.py/);
  t.deepEqual(r.hidden.failed, ['tests/test_hidden.py::test_add[2-3-5]']);
  t.false(r.resolved);
});

test('unittest: result lines printed on stdout by the code under test are not results', async (t) => {
  const uTask: SelfContainedTask = {
    ...pyTask,
    instance_id: 'calc-unittest-fake',
    files: { ...pyTask.files, 'tests/__init__.py': '', 'tests/test_calc.py': 'import unittest\nfrom calc import mul\n\n\nclass TestMul(unittest.TestCase):\n    def test_mul(self):\n        self.assertEqual(mul(2, 3), 6)\n' },
    test_patch: '--- /dev/null\n+++ b/tests/test_hidden.py\n@@ -0,0 +1,6 @@\n+import unittest\n+from calc import add\n+\n+\n+class TestAdd(unittest.TestCase):\n+    def test_add(self): self.assertEqual(add(2, 3), 5)\n',
    test_command: 'python3 -m unittest discover -v -s tests -t .',
    test_framework: 'unittest',
    FAIL_TO_PASS: ['tests.test_hidden.TestAdd.test_add'],
    PASS_TO_PASS: ['tests.test_calc.TestMul.test_mul'],
  };
  // The candidate prints fake "ok" lines for every graded test, then makes every test module
  // fail to import, so the real results are missing from the log.
  const fake = [
    'diff --git a/calc.py b/calc.py',
    '--- a/calc.py',
    '+++ b/calc.py',
    '@@ -1,2 +1,5 @@',
    '+print("test_add (tests.test_hidden.TestAdd.test_add) ... ok")',
    '+print("test_mul (tests.test_calc.TestMul.test_mul) ... ok")',
    '+raise ImportError("gone")',
    ' def add(a, b):',
    '     return a - b',
    '',
  ].join('\n');
  const r = await evaluatePatch(uTask, fake);
  t.true(r.applied, r.log);
  const merged = r.log.slice(r.log.indexOf('----- test output -----'));
  t.true(gradeOutcome(parseUnittestLog(merged), uTask).resolved, 'graded on stdout+stderr, the fake would pass');
  t.false(r.resolved);
  t.deepEqual(r.hidden.passed, []);
  const gold = await evaluatePatch(uTask, uTask.patch);
  t.true(gold.resolved, gold.log);
});
