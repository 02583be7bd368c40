import test from 'ava';
import { gradeOutcome, gradeLog, frameworkOf, isTestPath, outcomeOf, testFilesOfIds } from '../../../operator/grading/grade.ts';
import type { TestStatus } from '../../../operator/grading/parse.ts';
import type { SweBenchTask } from '../../../operator/api/records.ts';

const task = { FAIL_TO_PASS: ['t::hidden1', 't::hidden2'], PASS_TO_PASS: ['t::old1', 't::old2'] };

test('resolved only when every FAIL_TO_PASS and every PASS_TO_PASS test passes', (t) => {
  const all = new Map<string, TestStatus>([
    ['t::hidden1', 'PASSED'],
    ['t::hidden2', 'XFAIL'],
    ['t::old1', 'PASSED'],
    ['t::old2', 'PASSED'],
    ['t::unrelated', 'FAILED'],
  ]);
  const g = gradeOutcome(new Map(all), task);
  t.true(g.resolved);
  t.is(g.reward, 1);
  t.deepEqual(g.hidden, { passed: ['t::hidden1', 't::hidden2'], failed: [] });
  t.deepEqual(g.regression, { passed: ['t::old1', 't::old2'], failed: [] });

  for (const [id, status] of [['t::hidden2', 'FAILED'], ['t::old1', 'ERROR'], ['t::hidden1', 'ERROR']] as const) {
    const m = new Map(all);
    m.set(id, status);
    const r = gradeOutcome(m, task);
    t.false(r.resolved, `${id} ${status}`);
    t.is(r.reward, 0);
  }
});

test('a test missing from the log counts as failed', (t) => {
  const g = gradeOutcome(new Map([['t::hidden1', 'PASSED'], ['t::old1', 'PASSED'], ['t::old2', 'PASSED']]), task);
  t.false(g.resolved);
  t.deepEqual(g.hidden, { passed: ['t::hidden1'], failed: ['t::hidden2'] });
  t.deepEqual(outcomeOf(new Map(), ['a', 'b']), { passed: [], failed: ['a', 'b'] });
});

test('a task without FAIL_TO_PASS tests is never resolved (nothing proves the fix)', (t) => {
  t.false(gradeOutcome(new Map([['a', 'PASSED']]), { FAIL_TO_PASS: [], PASS_TO_PASS: ['a'] }).resolved);
});

test('SWE-bench tasks: framework by repo, a log graded with the same rule', (t) => {
  const base: SweBenchTask = {
    instance_id: 'astropy__astropy-1',
    repo: 'astropy/astropy',
    base_commit: 'abc',
    problem_statement: 'x',
    patch: '',
    test_patch: '',
    FAIL_TO_PASS: ['astropy/tests/test_a.py::test_new[1]'],
    PASS_TO_PASS: ['astropy/tests/test_a.py::test_old'],
  };
  t.is(frameworkOf(base), 'pytest');
  t.is(frameworkOf({ ...base, repo: 'django/django' }), 'unittest');
  t.is(frameworkOf({ ...base, test_framework: 'node' }), 'node');
  const log = '=== short test summary info ===\nPASSED astropy/tests/test_a.py::test_new[1]\nPASSED astropy/tests/test_a.py::test_old\n';
  t.true(gradeLog(base, log).resolved);
  t.false(gradeLog(base, log.replace('PASSED astropy/tests/test_a.py::test_old', 'FAILED astropy/tests/test_a.py::test_old - x')).resolved);
  const django = { ...base, repo: 'django/django', FAIL_TO_PASS: ['a.tests.T.test_x'], PASS_TO_PASS: [] };
  t.true(gradeLog(django, 'test_x (a.tests.T) ... ok\n').resolved);
  // SWE-bench lists Django tests as "test_x (module.Class)" (older logs) or
  // "test_x (module.Class.test_x)" (Python >= 3.11 logs); both grade against either log form.
  const swe = {
    ...django,
    FAIL_TO_PASS: ['test_reverse_lazy (urlpatterns_reverse.tests.ReverseLazyTest)'],
    PASS_TO_PASS: ['test_no_urls (urlpatterns_reverse.tests.NoURLPatternsTests.test_no_urls)'],
  };
  const oldLog = 'test_reverse_lazy (urlpatterns_reverse.tests.ReverseLazyTest) ... ok\ntest_no_urls (urlpatterns_reverse.tests.NoURLPatternsTests) ... ok\n';
  const newLog = 'test_reverse_lazy (urlpatterns_reverse.tests.ReverseLazyTest.test_reverse_lazy) ... ok\ntest_no_urls (urlpatterns_reverse.tests.NoURLPatternsTests.test_no_urls) ... ok\n';
  for (const log of [oldLog, newLog]) {
    const g = gradeLog(swe, log);
    t.true(g.resolved);
    t.deepEqual(g.hidden.passed, swe.FAIL_TO_PASS, 'ids keep the task spelling');
  }
  t.false(gradeLog(swe, newLog.replace('test_no_urls) ... ok', 'test_no_urls) ... FAIL')).resolved);
});

test('testFilesOfIds: pytest paths, unittest module candidates, nothing for node', (t) => {
  t.deepEqual(testFilesOfIds('pytest', ['tests/test_a.py::T::test_x[1]', 'tests/test_a.py::test_y', 'tests/test_b.py']), ['tests/test_a.py', 'tests/test_b.py']);
  t.deepEqual(testFilesOfIds('unittest', ['tests.test_m.TestM.test_a']), ['tests.py', 'tests/test_m.py', 'tests/test_m/TestM.py']);
  t.deepEqual(testFilesOfIds('node', ['suite > test']), []);
});

test('isTestPath: test files and runner configuration, not sources', (t) => {
  for (const p of ['tests/test_a.py', 'test/x.test.js', 'pkg/test_util.py', 'a_test.py', 'src/b.spec.ts', 'conftest.py', 'sub/conftest.py', 'pytest.ini', 'setup.cfg', '__tests__/a.js']) {
    t.true(isTestPath(p), p);
  }
  for (const p of ['src/lru.js', 'ini.py', 'contest.py', 'latest.py', 'src/testing_utils.js', 'package.json']) t.false(isTestPath(p), p);
});

/**
 * The SWE-bench harness's rules (swebench/harness/grading.py): test_passed = status in (PASSED,
 * XFAIL); test_failed = missing or status in (FAILED, ERROR); other statuses count in neither list;
 * resolved = FAIL_TO_PASS rate 1 and PASS_TO_PASS rate 1, a rate over an empty list being 1.
 */
function harnessResolved(statuses: Map<string, TestStatus>, f2p: string[], p2p: string[]): boolean {
  const passed = (id: string) => statuses.has(id) && ['PASSED', 'XFAIL'].includes(statuses.get(id)!);
  const failed = (id: string) => !statuses.has(id) || ['FAILED', 'ERROR'].includes(statuses.get(id)!);
  const rate = (ids: string[]) => {
    const s = ids.filter(passed).length;
    const f = ids.filter((id) => !passed(id) && failed(id)).length;
    return s + f === 0 ? 1 : s / (s + f);
  };
  return rate(f2p) === 1 && rate(p2p) === 1;
}

test('SWE-bench semantics by default: a table of every status for a FAIL_TO_PASS and a PASS_TO_PASS test against the harness rules', (t) => {
  const statuses: (TestStatus | undefined)[] = ['PASSED', 'FAILED', 'ERROR', 'SKIPPED', 'XFAIL', 'XPASS', undefined];
  let rows = 0;
  for (const f of statuses) {
    for (const p of statuses) {
      const m = new Map<string, TestStatus>([['f0', 'PASSED']]);
      if (f) m.set('f1', f);
      if (p) m.set('p1', p);
      const task = { FAIL_TO_PASS: ['f0', 'f1'], PASS_TO_PASS: ['p1'] };
      t.is(gradeOutcome(m, task).resolved, harnessResolved(m, task.FAIL_TO_PASS, task.PASS_TO_PASS), `F2P ${f} P2P ${p}`);
      rows++;
    }
  }
  t.is(rows, 49);
  // Spelled out: a SKIPPED PASS_TO_PASS test does not fail the task; an XPASS is no pass but no failure either.
  t.true(gradeOutcome(new Map([['f0', 'PASSED'], ['p1', 'SKIPPED']]), { FAIL_TO_PASS: ['f0'], PASS_TO_PASS: ['p1'] }).resolved);
  t.deepEqual(outcomeOf(new Map([['x', 'XPASS']]), ['x']), { passed: [], failed: [] });
  // The one departure: the harness resolves a run whose hidden tests were all skipped (empty rate = 1); we do not.
  const allSkipped = new Map<string, TestStatus>([['f0', 'SKIPPED']]);
  t.true(harnessResolved(allSkipped, ['f0'], []));
  t.false(gradeOutcome(allSkipped, { FAIL_TO_PASS: ['f0'], PASS_TO_PASS: [] }).resolved);
});

test('strict semantics (an option, off by default): SKIPPED and XPASS fail', (t) => {
  const m = new Map<string, TestStatus>([['f0', 'PASSED'], ['p1', 'SKIPPED'], ['p2', 'XPASS']]);
  const task = { FAIL_TO_PASS: ['f0'], PASS_TO_PASS: ['p1', 'p2'] };
  t.true(gradeOutcome(m, task).resolved);
  const strict = gradeOutcome(m, task, 'strict');
  t.false(strict.resolved);
  t.deepEqual(strict.regression, { passed: [], failed: ['p1', 'p2'] });
});
