/**
 * The resolved rule, pure. Default: the SWE-bench harness's semantics (swebench/harness/grading.py:
 * test_passed = PASSED or XFAIL; test_failed = missing, FAILED or ERROR; a SKIPPED or XPASS test is
 * neither and is left out of both rates; resolved = no FAIL_TO_PASS and no PASS_TO_PASS failure).
 * One deliberate departure: at least one FAIL_TO_PASS test must pass (the harness counts an empty
 * rate as 1, so a run whose hidden tests are all skipped would be resolved). The option
 * `semantics: 'strict'` (off by default) also fails SKIPPED and XPASS tests. Reward is binary
 * (1 resolved, 0 otherwise), as in the paper's outcome reward.
 */
import type { TaskRecord, TestOutcome } from '../api/records.ts';
import { canonicalTestId, parseTestLog, type Framework, type ParsedLog, type TestStatus } from './parse.ts';

export interface Grade {
  /** Outcome of the PASS_TO_PASS tests. */
  regression: TestOutcome;
  /** Outcome of the FAIL_TO_PASS (hidden) tests. */
  hidden: TestOutcome;
  resolved: boolean;
  reward: number;
}

/** 'swebench' (default): the harness's rules; 'strict': SKIPPED and XPASS fail too. */
export type GradingSemantics = 'swebench' | 'strict';

/** How one test's status counts: pass, fail, or neither (left out, as the harness does). Pure. */
export function verdictOf(status: TestStatus | undefined, semantics: GradingSemantics = 'swebench'): 'pass' | 'fail' | 'neither' {
  if (status === 'PASSED' || status === 'XFAIL') return 'pass';
  if (status === undefined || status === 'FAILED' || status === 'ERROR') return 'fail';
  return semantics === 'strict' ? 'fail' : 'neither';
}

/**
 * Splits ids into passed and failed by verdictOf (tests that count as neither are in no list).
 * Ids keep the task's spelling; Django-style unittest ids are looked up by their dotted form as well.
 */
export function outcomeOf(parsed: ParsedLog, ids: readonly string[], semantics: GradingSemantics = 'swebench'): TestOutcome {
  const passed: string[] = [];
  const failed: string[] = [];
  for (const id of ids) {
    const v = verdictOf(parsed.get(id) ?? parsed.get(canonicalTestId(id)), semantics);
    if (v === 'pass') passed.push(id);
    else if (v === 'fail') failed.push(id);
  }
  return { passed, failed };
}

/** Grades a parsed log against a task's FAIL_TO_PASS and PASS_TO_PASS lists. */
export function gradeOutcome(parsed: ParsedLog, task: Pick<TaskRecord, 'FAIL_TO_PASS' | 'PASS_TO_PASS'>, semantics: GradingSemantics = 'swebench'): Grade {
  const hidden = outcomeOf(parsed, task.FAIL_TO_PASS, semantics);
  const regression = outcomeOf(parsed, task.PASS_TO_PASS, semantics);
  // Nothing proves a fix unless a hidden test passed (also: a task without hidden tests is never resolved).
  const resolved = hidden.passed.length > 0 && hidden.failed.length === 0 && regression.failed.length === 0;
  return { regression, hidden, resolved, reward: resolved ? 1 : 0 };
}

/** The grade when no test ran (patch did not apply, environment missing): every test failed. */
export function failedGrade(task: Pick<TaskRecord, 'FAIL_TO_PASS' | 'PASS_TO_PASS'>): Grade {
  return gradeOutcome(new Map(), task);
}

/**
 * The framework whose log format a task's test command produces: task.test_framework when set;
 * for SWE-bench tasks without it, Django's runner prints unittest-style lines and the other
 * repositories of SWE-bench run pytest.
 */
export function frameworkOf(task: TaskRecord): Framework {
  if (task.test_framework) return task.test_framework;
  return /^django\//.test(task.repo) ? 'unittest' : 'pytest';
}

/** Parses a test log by the task's framework and grades it (e.g. a log from a SWE-bench image). */
export function gradeLog(task: TaskRecord, log: string, semantics: GradingSemantics = 'swebench'): Grade {
  return gradeOutcome(parseTestLog(frameworkOf(task), log), task, semantics);
}

/**
 * Files that hold the tests named by ids, as far as the ids tell (pure): the path of a pytest
 * node id; for a unittest id "pkg.mod.Class.test", every prefix as a module path
 * ("pkg/mod.py", ...). Node ids carry no file. Used to put the existing tests back to their
 * base state before grading, so a candidate patch cannot make PASS_TO_PASS pass by editing them.
 */
export function testFilesOfIds(framework: Framework, ids: readonly string[]): string[] {
  const out = new Set<string>();
  for (const id of ids) {
    if (framework === 'pytest') {
      const file = id.split('::')[0];
      if (file.endsWith('.py')) out.add(file);
    } else if (framework === 'unittest') {
      const parts = id.split('.');
      for (let i = 1; i < parts.length; i++) out.add(`${parts.slice(0, i).join('/')}.py`);
    }
  }
  return [...out];
}

/**
 * Test files, and every file through which a test runner reads options, plugins or start-up code
 * (pytest: pytest.ini, .pytest.ini, pytest.toml, .pytest.toml, pyproject.toml, tox.ini, setup.cfg,
 * conftest.py; Python start-up: sitecustomize/usercustomize, *.pth; node's runner: its default
 * test-file patterns; git: .gitattributes), by path (pure).
 */
const TEST_PATH = [
  /(^|\/)(tests?|__tests__)\//, // files under test/, tests/, __tests__/
  /(^|\/)test_[^/]*\.py$/,
  /_test\.py$/,
  /\.(test|spec)\.[cm]?[jt]s$/,
  /(^|\/)(test|test-[^/]*|[^/]*[-_]test)\.[cm]?[jt]s$/, // node --test's default file patterns
  /(^|\/)(conftest|sitecustomize|usercustomize)\.py$/,
  /\.pth$/,
  /(^|\/)(\.?pytest\.ini|\.?pytest\.toml|pyproject\.toml|tox\.ini|setup\.cfg)$/,
  /(^|\/)\.gitattributes$/,
];

/**
 * Whether a path is a test file or test-runner configuration. Such files a candidate patch
 * touches are put back to their base state (or removed when new) before grading: the tests
 * that grade a patch are the task's, not the candidate's.
 */
export const isTestPath = (p: string): boolean => TEST_PATH.some((re) => re.test(p));
