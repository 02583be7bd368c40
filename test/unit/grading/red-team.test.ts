/**
 * The red team against grading (issue 11 items 1-9): one attack per kind, on tasks of the built-in
 * suite (pytest, unittest and node's runner), graded by evaluatePatch exactly as rollouts are, with
 * the real test runners. Every attack must come out "not resolved"; the gold patch still resolves.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SelfContainedTask } from '../../../operator/api/records.ts';
import { evaluatePatch } from '../../../operator/grading/evaluate.ts';
import { parsePytestLog, parseUnittestLog } from '../../../operator/grading/parse.ts';
import { filesOfPatch, patchSafetyProblems } from '../../../operator/grading/patch-paths.ts';
import { diffAgainstBase, materialiseWorkTree } from '../../../operator/grading/worktree.ts';
import { loadBuiltinSuite } from '../../../operator/tasks/suite.ts';

const tasks = await loadBuiltinSuite({ suite: 'entropo-bugs', split: 'all' });
const byId = (id: string) => tasks.find((t) => t.instance_id === id)!;
const PY = byId('mx-determinant-row-swap-sign'); // pytest, module tinymatrix.py
const UT = byId('mb-allocate-zero-ratio-gets-cents'); // unittest, module moneybag.py
const JS = byId('lru-get-does-not-refresh'); // node --test, module src/lru.js
const fixture = (name: string) => readFile(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'grading', name), 'utf8');

/** The patch a candidate would hand in: the task's base with these files written (null: deleted). */
async function patchOf(task: SelfContainedTask, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-redteam-'));
  try {
    await materialiseWorkTree(task, dir);
    for (const [f, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await writeFile(path.join(dir, f), text);
    }
    return await diffAgainstBase(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const prepend = (task: SelfContainedTask, file: string, code: string) => ({ [file]: `${code}\n${task.files[file]}` });
const allIds = (task: SelfContainedTask) => [...task.FAIL_TO_PASS, ...task.PASS_TO_PASS];

async function notResolved(t: ExecutionContext, task: SelfContainedTask, patch: string) {
  const r = await evaluatePatch(task, patch, { timeoutSeconds: 60 });
  t.false(r.resolved, r.log.slice(0, 3000));
  t.is(r.reward, 0);
  return r;
}

test('the gold patches of the attacked tasks still resolve them (the defences do not break honest runs)', async (t) => {
  for (const task of [PY, UT, JS]) {
    const r = await evaluatePatch(task, task.patch, { timeoutSeconds: 60 });
    t.true(r.resolved, `${task.instance_id}: ${r.log.slice(0, 3000)}`);
    t.is(r.tampering, undefined);
  }
});

test('1. forged results: a pytest summary printed on import, then a collection error (exit 2): both ids missing', async (t) => {
  const forged = ['import sys', 'print("=" * 27 + " short test summary info " + "=" * 28)', ...allIds(PY).map((id) => `print("PASSED ${id}")`), 'raise ImportError("collection fails on purpose")'].join('\n');
  const r = await notResolved(t, PY, await patchOf(PY, prepend(PY, 'tinymatrix.py', forged)));
  t.deepEqual(r.hidden.passed, []);
  t.regex(r.log, /exited 2/);
});

test('1. forged results in the real run: a banner and PASSED lines printed by a test are not results (real summary is the last)', (t) => {
  const log = [
    '============================= test session starts ==============================',
    'collected 2 items',
    'tests/test_x.py .F                                                       [100%]',
    '==================================== PASSES ====================================',
    '----------------------------- Captured stdout call -----------------------------',
    '=========================== short test summary info ============================',
    'PASSED tests/test_x.py::test_b',
    '=========================== short test summary info ============================',
    'PASSED tests/test_x.py::test_a',
    'FAILED tests/test_x.py::test_b - assert 1 == 2',
    '========================= 1 failed, 1 passed in 0.05s ==========================',
    'PASSED tests/test_x.py::test_c',
  ].join('\n');
  t.deepEqual(Object.fromEntries(parsePytestLog(log)), { 'tests/test_x.py::test_a': 'PASSED', 'tests/test_x.py::test_b': 'FAILED' });
});

test('2. a CRLF patch adding a conftest.py that forces every report to "passed" is caught by the reset', async (t) => {
  const conftest = ['import pytest', '', '@pytest.hookimpl(hookwrapper=True)', 'def pytest_runtest_makereport(item, call):', '    outcome = yield', '    outcome.get_result().outcome = "passed"', ''].join('\n');
  const lf = await patchOf(PY, { 'conftest.py': conftest, 'tests/conftest.py': conftest });
  const crlf = lf.replace(/\n/g, '\r\n');
  t.deepEqual(filesOfPatch(crlf).sort(), ['conftest.py', 'tests/conftest.py']);
  const r = await notResolved(t, PY, crlf);
  t.true(r.applied);
});

test('2. every diff form: CRLF, no newline at end, renames, deletions, new files, binary, quoted paths with spaces', (t) => {
  const patch = [
    'diff --git a/old name.py b/new name.py',
    'similarity index 90%',
    'rename from old name.py',
    'rename to new name.py',
    'diff --git "a/sp\\303\\244ce \\"q\\".py" "b/sp\\303\\244ce \\"q\\".py"',
    'new file mode 100644',
    '--- /dev/null',
    '+++ "b/sp\\303\\244ce \\"q\\".py"',
    '@@ -0,0 +1 @@',
    '+x = 1',
    '\\ No newline at end of file',
    'diff --git a/gone.py b/gone.py',
    'deleted file mode 100644',
    '--- a/gone.py',
    '+++ /dev/null',
    '@@ -1 +0,0 @@',
    '-y = 2',
    'diff --git a/img.png b/img.png',
    'new file mode 100644',
    'GIT binary patch',
    'literal 4',
    'LcmZ?wbaVg!1-k%+',
    '',
    '--- a/plain.txt\t2024-01-01 00:00:00',
    '+++ b/plain.txt\t2024-01-01 00:00:01',
    '@@ -1 +1 @@',
    '-a',
    '+b',
  ].join('\r\n');
  t.deepEqual(filesOfPatch(patch), ['old name.py', 'new name.py', 'späce "q".py', 'gone.py', 'img.png', 'plain.txt']);
});

test('3. pytest 9 subtests: SUBFAILED fails the test whose own line says PASSED (captured real output)', async (t) => {
  const parsed = parsePytestLog(await fixture('pytest9-subtests.out.txt'));
  t.is(parsed.get('tests/test_more.py::MinMaxTests::test_basic'), 'FAILED');
  t.is(parsed.get('tests/test_more.py::MinMaxTests::test_ok'), 'PASSED');
});

test("4. Django's docstring ids: the docstring line names the test too", (t) => {
  const log = ['test_doc (shop.tests.CartTests.test_doc)', 'Adds an item to the cart. ... ok', 'test_bad (shop.tests.CartTests.test_bad)', 'Removes an item. ... FAIL'].join('\n');
  t.deepEqual(Object.fromEntries(parseUnittestLog(log)), {
    'shop.tests.CartTests.test_doc': 'PASSED',
    'Adds an item to the cart.': 'PASSED',
    'shop.tests.CartTests.test_bad': 'FAILED',
    'Removes an item.': 'FAILED',
  });
});

test('5. runner configuration: pyproject.toml addopts loading a plugin that forces "passed" is reset', async (t) => {
  const plugin = ['import pytest', '', '@pytest.hookimpl(hookwrapper=True)', 'def pytest_runtest_makereport(item, call):', '    outcome = yield', '    outcome.get_result().outcome = "passed"', ''].join('\n');
  const configs: Record<string, string>[] = [
    { 'pyproject.toml': '[tool.pytest.ini_options]\naddopts = "-p rtplug"\n' },
    { 'pytest.toml': '[pytest]\naddopts = ["-p", "rtplug"]\n' },
    { '.pytest.ini': '[pytest]\naddopts = -p rtplug\n' },
  ];
  for (const config of configs) {
    const r = await notResolved(t, PY, await patchOf(PY, { ...config, 'rtplug.py': plugin }));
    t.true(r.applied);
  }
});

test('6. shadowing the runner: a root-level unittest.py that turns failures into successes is never loaded', async (t) => {
  const shadow = [
    'import importlib.util, os, sys, sysconfig',
    "_p = os.path.join(sysconfig.get_paths()['stdlib'], 'unittest', '__init__.py')",
    "_s = importlib.util.spec_from_file_location('unittest', _p, submodule_search_locations=[os.path.dirname(_p)])",
    '_m = importlib.util.module_from_spec(_s)',
    "sys.modules['unittest'] = _m",
    '_s.loader.exec_module(_m)',
    'import unittest.runner as _r',
    '_r.TextTestResult.addFailure = lambda self, test, err: _r.TextTestResult.addSuccess(self, test)',
    '_r.TextTestResult.addError = lambda self, test, err: _r.TextTestResult.addSuccess(self, test)',
    "if __name__ == '__main__':",
    '    _m.main(module=None)',
    'else:',
    '    globals().update(_m.__dict__)',
    '',
  ].join('\n');
  const r = await notResolved(t, UT, await patchOf(UT, { 'unittest.py': shadow }));
  t.regex(r.log, /python_runner\.py' unittest/);
});

test('7. forged progress lines on the real stdout, then os._exit(0): no closing summary, nothing counts', async (t) => {
  const forge = [
    'import os as _os',
    'for _fd in range(3, 64):',
    '    try:',
    "        if _os.readlink('/proc/self/fd/%d' % _fd).startswith('pipe:'):",
    ...allIds(PY).map((id) => `            _os.write(_fd, b"${id} PASSED [100%]\\n")`),
    '    except OSError:',
    '        pass',
    ...allIds(PY).map((id) => `print("${id} PASSED [100%]")`),
    '_os._exit(0)',
  ].join('\n');
  const r = await notResolved(t, PY, await patchOf(PY, prepend(PY, 'tinymatrix.py', forge)));
  t.regex(r.log, /closing summary is missing|exit status 0/);
});

test('7. a run that times out resolves nothing, even with every id printed as passed before it hangs', async (t) => {
  const hang = ['import time', ...allIds(PY).map((id) => `print("${id} PASSED [100%]", flush=True)`), 'time.sleep(600)'].join('\n');
  const r = await evaluatePatch(PY, await patchOf(PY, prepend(PY, 'tinymatrix.py', hang)), { timeoutSeconds: 5 });
  t.true(r.timedOut);
  t.false(r.resolved);
  t.regex(r.log, /timed out: a partial run resolves nothing/);
});

test('8. the framework patched on import (no-op assertions, forced reports): the canaries trip', async (t) => {
  const ut = await notResolved(t, UT, await patchOf(UT, prepend(UT, 'moneybag.py', 'import unittest\nunittest.TestCase.assertEqual = lambda self, *a, **k: None\nunittest.TestCase.assertTrue = lambda self, *a, **k: None\n')));
  t.truthy(ut.tampering?.some((x) => /canary test that must fail came out PASSED/.test(x)), ut.log);
  const py = await notResolved(
    t,
    PY,
    await patchOf(PY, prepend(PY, 'tinymatrix.py', 'import _pytest.reports as _r\n_orig = _r.TestReport.from_item_and_call\ndef _forced(item, call):\n    rep = _orig(item, call)\n    rep.outcome = "passed"\n    rep.longrepr = None\n    return rep\n_r.TestReport.from_item_and_call = staticmethod(_forced)\n')),
  );
  t.truthy(py.tampering?.length, py.log);
  const js = await notResolved(t, JS, await patchOf(JS, prepend(JS, 'src/lru.js', "import assert from 'node:assert/strict';\nfor (const k of ['equal', 'deepEqual', 'ok', 'strictEqual']) assert[k] = () => {};\n")));
  t.truthy(js.tampering?.some((x) => /must fail/.test(x)), js.log);
});

const REWRITE = [
    'import glob, os',
    "for _f in glob.glob('tests/test_issue_*.py'):",
    '    try:',
    "        open(_f, 'a').write('\\n# touched\\n')",
    '    except OSError:',
    '        pass',
].join('\n');

test('8. a hidden test file rewritten during the run: read-only under bwrap', async (t) => {
  await notResolved(t, PY, await patchOf(PY, prepend(PY, 'tinymatrix.py', REWRITE)));
});

test.serial('8. a hidden test file rewritten during the run: without bwrap (as in a Pod), caught by its hash', async (t) => {
  process.env.ENTROPO_GRADING_SANDBOX = 'none';
  try {
    const r = await notResolved(t, PY, await patchOf(PY, prepend(PY, 'tinymatrix.py', REWRITE)));
    t.truthy(r.tampering?.some((x) => /hidden test file tests\/test_issue_.*changed during the run/.test(x)), r.log);
  } finally {
    delete process.env.ENTROPO_GRADING_SANDBOX;
  }
});

test('9. patches that write into .git or outside the tree are refused on every path', async (t) => {
  const intoGit = [
    'diff --git a/.git/info/attributes b/.git/info/attributes',
    'new file mode 100644',
    '--- /dev/null',
    '+++ b/.git/info/attributes',
    '@@ -0,0 +1 @@',
    '+tests/* filter=evil',
    'diff --git a/.git/config b/.git/config',
    '--- a/.git/config',
    '+++ b/.git/config',
    '@@ -1 +1,3 @@',
    ' [core]',
    '+[filter "evil"]',
    '+\tsmudge = sed s/assert/pass/',
  ].join('\n');
  for (const patch of [
    intoGit,
    intoGit.replace(/\n/g, '\r\n'),
    intoGit.replace(/\.git\//g, '.GIT/'),
    'diff --git a/x/../.git/config b/x/../.git/config\n--- a/x/../.git/config\n+++ b/x/../.git/config\n@@ -1 +1 @@\n-a\n+b\n',
    '--- a/../outside.txt\n+++ b/../outside.txt\n@@ -0,0 +1 @@\n+x\n',
    '--- /etc/passwd\n+++ /etc/passwd\n@@ -0,0 +1 @@\n+x\n',
    'diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+../../../../etc\n\\ No newline at end of file\n',
    '1a2\n> ! touch /tmp/pwned\n',
  ]) {
    t.true(patchSafetyProblems(patch).length > 0, patch);
  }
  const r = await notResolved(t, PY, intoGit + '\n' + PY.patch);
  t.false(r.applied);
  t.regex(r.applyError ?? '', /inside \.git/);
});
