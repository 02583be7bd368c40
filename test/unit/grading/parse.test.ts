import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseNodeTapLog, parsePytestLog, parseTestLog, parseUnittestLog, isPassing } from '../../../operator/grading/parse.ts';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/grading/${name}.out.txt`, import.meta.url), 'utf8');
const obj = (m: Map<string, string>) => Object.fromEntries(m);

test('pytest -rA: every outcome of a real run, parametrised ids with spaces, brackets and ::', (t) => {
  const parsed = parsePytestLog(fixture('pytest-rA'));
  t.deepEqual(obj(parsed), {
    'test_sample.py::test_pass': 'PASSED',
    'test_sample.py::test_param[1-1]': 'PASSED',
    'test_sample.py::test_param[x y-x y]': 'PASSED',
    'test_sample.py::TestGroup::test_method': 'PASSED',
    'test_sample.py::TestGroup::test_odd_ids[a::b]': 'PASSED',
    'test_sample.py::TestGroup::test_odd_ids[[x]]': 'PASSED',
    'test_sample.py::test_xfail': 'XFAIL',
    'test_sample.py::test_xpass': 'XPASS',
    'test_sample.py::test_error_in_fixture': 'ERROR',
    'test_sample.py::test_fail': 'FAILED',
    'test_sample.py::test_param[2-3]': 'FAILED',
  });
  // "SKIPPED [1] test_sample.py:17: not today" names no test: the skipped test is missing.
  t.false(parsed.has('test_sample.py::test_skipped'));
  // Captured stdout of the passing test appears in the PASSES section and is not a result.
  t.false([...parsed.keys()].some((k) => k.includes('some output')));
});

test('pytest -v: one progress line per test, skip reasons in parentheses', (t) => {
  const parsed = parsePytestLog(fixture('pytest-verbose'));
  t.is(parsed.size, 12);
  t.is(parsed.get('test_sample.py::test_skipped'), 'SKIPPED');
  t.is(parsed.get('test_sample.py::test_xfail'), 'XFAIL');
  t.is(parsed.get('test_sample.py::test_param[x y-x y]'), 'PASSED');
  t.is(parsed.get('test_sample.py::test_param[2-3]'), 'FAILED');
  t.is(parsed.get('test_sample.py::test_error_in_fixture'), 'ERROR');
  t.is(parsed.get('test_sample.py::TestGroup::test_odd_ids[[x]]'), 'PASSED');
  // Same outcomes as -rA wherever both name the test.
  const rA = parsePytestLog(fixture('pytest-rA'));
  for (const [id, s] of rA) t.is(parsed.get(id), s, id);
});

test('pytest: a collection error is recorded under the file and its tests are missing', (t) => {
  const parsed = parsePytestLog(fixture('pytest-collect-error'));
  t.deepEqual(obj(parsed), { 'test_collect_error.py': 'ERROR' });
});

test('pytest: result lines printed by a test outside the summary section are ignored; worst status wins', (t) => {
  const log = [
    '============================= test session starts ==============================',
    'collected 2 items',
    '',
    'tests/test_a.py .F                                                       [100%]',
    '==================================== PASSES ====================================',
    'PASSED tests/test_a.py::test_hidden',
    'tests/test_a.py::test_printed PASSED                                     [100%]',
    '=========================== short test summary info ============================',
    'PASSED tests/test_a.py::test_ok',
    'FAILED tests/test_a.py::test_hidden - assert [1] == [2]',
    'PASSED tests/test_a.py::test_teardown_err',
    'ERROR tests/test_a.py::test_teardown_err - RuntimeError',
    'FAILED tests/test_a.py::test_p[a - b] - AssertionError: x]',
    '========================= 1 failed, 1 passed in 0.01s ==========================',
    'PASSED tests/test_a.py::test_after_summary',
  ].join('\n');
  t.deepEqual(obj(parsePytestLog(log)), {
    'tests/test_a.py::test_ok': 'PASSED',
    'tests/test_a.py::test_hidden': 'FAILED',
    'tests/test_a.py::test_teardown_err': 'ERROR',
    'tests/test_a.py::test_p[a - b]': 'FAILED',
  });
});

test('pytest: ANSI colours and CRLF line ends are tolerated', (t) => {
  const log = '\x1b[1m=== short test summary info ===\x1b[0m\r\n\x1b[32mPASSED\x1b[0m t.py::test_x\r\n';
  t.deepEqual(obj(parsePytestLog(log)), { 't.py::test_x': 'PASSED' });
});

test('unittest -v: a real run with failures, errors, skips, expected failures, subtests, docstrings, printed output', (t) => {
  const parsed = parseUnittestLog(fixture('unittest-verbose'));
  t.deepEqual(obj(parsed), {
    'unittest.loader._FailedTest.test_import_error': 'ERROR',
    'test_sample.TestArith.test_error': 'ERROR',
    'test_sample.TestArith.test_expected_failure': 'XFAIL',
    'test_sample.TestArith.test_fail': 'FAILED',
    'test_sample.TestArith.test_pass': 'PASSED',
    'test_sample.TestArith.test_prints': 'PASSED',
    'test_sample.TestArith.test_skipped': 'SKIPPED',
    'test_sample.TestArith.test_subtests': 'FAILED',
    'test_sample.TestArith.test_unexpected_success': 'FAILED',
    'test_sample.TestArith.test_with_docstring': 'PASSED',
    'A docstring that unittest prints on its own line.': 'PASSED',
    'test_sample.TestBrokenSetup.setUpClass': 'ERROR',
  });
  // The tests of the class whose setUpClass failed never ran: missing, so not passing.
  t.false(isPassing(parsed.get('test_sample.TestBrokenSetup.test_never_runs')));
});

test('unittest: the pre-3.11 form "test_x (mod.Class)" and Django-style lines give the same dotted ids', (t) => {
  const log = [
    'test_a (tests.test_m.TestM) ... ok',
    'test_b (tests.test_m.TestM) ... FAIL',
    "test_c (tests.test_m.TestM) ... skipped 'why'",
    'test_d (tests.test_m.TestM)',
    'Docstring text ... ERROR',
    'tests.test_broken (unittest.loader._FailedTest.tests.test_broken) ... ERROR',
  ].join('\n');
  t.deepEqual(obj(parseUnittestLog(log)), {
    'tests.test_m.TestM.test_a': 'PASSED',
    'tests.test_m.TestM.test_b': 'FAILED',
    'tests.test_m.TestM.test_c': 'SKIPPED',
    'tests.test_m.TestM.test_d': 'ERROR',
    // Django / SWE-bench: a test with a docstring is also known by the docstring's first line.
    'Docstring text': 'ERROR',
    'unittest.loader._FailedTest.tests.test_broken': 'ERROR',
  });
});

test('node TAP: nested suites and subtests, skips and todos, escaped names, a file that fails to load', (t) => {
  const parsed = parseNodeTapLog(fixture('node-tap'));
  t.deepEqual(obj(parsed), {
    '/work/main/test/fixtures/grading/src/node/test/crash.test.js': 'FAILED',
    'top level passes': 'PASSED',
    'top level fails': 'FAILED',
    'outer suite > inner passes': 'PASSED',
    'outer suite > nested suite > deep fails': 'FAILED',
    'outer suite > nested suite > deep passes': 'PASSED',
    'outer suite > nested suite': 'FAILED',
    'outer suite > skipped one': 'SKIPPED',
    'outer suite > todo one': 'SKIPPED',
    'outer suite': 'FAILED',
    'with subtests > sub a': 'PASSED',
    'with subtests > sub b': 'FAILED',
    'with subtests': 'FAILED',
    'name with # hash and > arrow': 'PASSED',
    'prints output': 'PASSED',
  });
  // "ok 99 - fake line from stdout" printed by a test is a TAP comment, not a result.
  t.false(parsed.has('fake line from stdout'));
});

test('node TAP: the same name in two files is passing only if it passes in both', (t) => {
  const parsed = parseNodeTapLog(fixture('node-tap-no-crash'));
  t.is(parsed.get('top level passes'), 'PASSED');
  const log = ['TAP version 13', '# Subtest: dup', 'ok 1 - dup', '# Subtest: dup', 'not ok 2 - dup', '1..2'].join('\n');
  t.is(parseNodeTapLog(log).get('dup'), 'FAILED');
});

test('node TAP: YAML diagnostics that look like results are skipped', (t) => {
  const log = [
    'TAP version 13',
    '# Subtest: a',
    'not ok 1 - a',
    '  ---',
    '  error: |-',
    '    ok 2 - b',
    '  ...',
    '1..1',
  ].join('\n');
  t.deepEqual(obj(parseNodeTapLog(log)), { a: 'FAILED' });
});

test('parseTestLog dispatches by framework', (t) => {
  t.is(parseTestLog('pytest', fixture('pytest-rA')).get('test_sample.py::test_pass'), 'PASSED');
  t.is(parseTestLog('unittest', fixture('unittest-verbose')).get('test_sample.TestArith.test_pass'), 'PASSED');
  t.is(parseTestLog('node', fixture('node-tap')).get('top level passes'), 'PASSED');
  t.true(isPassing('XFAIL'));
  t.false(isPassing('SKIPPED'));
  t.false(isPassing(undefined));
});

test("pytest's junit report (xunit1, captured real): node ids rebuilt from file and classname, every outcome", async (t) => {
  const { parsePytestJunit } = await import('../../../operator/grading/parse.ts');
  const xml = readFileSync(new URL('../../fixtures/grading/pytest-junit-xunit1.xml', import.meta.url), 'utf8');
  t.deepEqual(Object.fromEntries(parsePytestJunit(xml)!), {
    'test_sample.py::test_pass': 'PASSED',
    'test_sample.py::test_fail': 'FAILED',
    'test_sample.py::test_param[1-1]': 'PASSED',
    'test_sample.py::test_param[2-3]': 'FAILED',
    'test_sample.py::test_param[x y-x y]': 'PASSED',
    'test_sample.py::test_skipped': 'SKIPPED',
    'test_sample.py::test_xfail': 'XFAIL',
    'test_sample.py::test_xpass': 'PASSED',
    'test_sample.py::test_error_in_fixture': 'ERROR',
    'test_sample.py::TestGroup::test_method': 'PASSED',
    'test_sample.py::TestGroup::test_odd_ids[a::b]': 'PASSED',
    'test_sample.py::TestGroup::test_odd_ids[[x]]': 'PASSED',
  });
  // Cut short (no closing tag): not a report.
  t.is(parsePytestJunit(xml.slice(0, xml.length / 2)), undefined);
});
