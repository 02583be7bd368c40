/**
 * Test-log parsers: turn the output of a test runner into a map test id -> status.
 * Pure functions, no I/O. The statuses follow SWE-bench's names (PASSED, FAILED, ERROR,
 * SKIPPED, XFAIL) plus XPASS.
 *
 * Test-id conventions (the ids FAIL_TO_PASS / PASS_TO_PASS lists must use):
 * - pytest:   the pytest node id, e.g. "tests/test_ini.py::TestParse::test_quotes[a-1]"
 *             (exactly what `pytest -rA` prints in its short test summary).
 * - unittest: the dotted id "module.Class.test_method", e.g. "tests.test_money.TestAdd.test_carry"
 *             (Python >= 3.11 prints it in the parentheses of `-v` output; older versions print
 *             "module.Class", and the method name is appended). Task ids in SWE-bench's Django
 *             form, "test_method (module.Class)", are matched too (see canonicalTestId).
 * - node:     the names of the enclosing describe()/test() blocks and the test's own name joined
 *             by " > ", e.g. "parse > quoted values > keeps inner quotes". The file is not part of
 *             the id: node's TAP reporter (Node >= 20.19) flattens files and reports no file for
 *             passing tests. Names must therefore be unique across a project's test files.
 *
 * When the same id is reported more than once (a pytest test that PASSED then ERRORed at
 * teardown, a unittest test whose subtests failed, two node files with the same test name),
 * the worst status wins, so a test cannot be reported passing by a line printed from inside it
 * while its real result failed.
 */

export const TestStatuses = ['PASSED', 'FAILED', 'ERROR', 'SKIPPED', 'XFAIL', 'XPASS'] as const;
export type TestStatus = (typeof TestStatuses)[number];

/** Test id -> status, in first-seen order. */
export type ParsedLog = Map<string, TestStatus>;

/**
 * Whether a status counts as a pass, as the SWE-bench harness's test_passed: PASSED or XFAIL.
 * (XPASS and SKIPPED are not passes; grade.ts's verdictOf says how they count.)
 */
export const isPassing = (s: TestStatus | undefined): boolean => s === 'PASSED' || s === 'XFAIL';

const SEVERITY: Record<TestStatus, number> = { PASSED: 0, XPASS: 1, XFAIL: 1, SKIPPED: 2, FAILED: 3, ERROR: 4 };

/** Records a status; the worse of the old and the new one wins. */
export function record(map: ParsedLog, id: string, status: TestStatus): void {
  const old = map.get(id);
  if (old === undefined || SEVERITY[status] > SEVERITY[old]) map.set(id, status);
}

// eslint-disable-next-line no-control-regex -- ANSI escape sequences are what we strip
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
const linesOf = (log: string) => stripAnsi(log).replace(/\r\n?/g, '\n').split('\n');

// ---------------------------------------------------------------------------------------------
// pytest

const PYTEST_STATUS = 'PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS';
/** `-v` progress line: "tests/test_x.py::test_a[1-2] PASSED   [ 50%]" (reason in parentheses for skips/xfails). */
const PYTEST_VERBOSE = new RegExp(`^(\\S.*?::.+?) (${PYTEST_STATUS})(?: \\(.*\\))?\\s+\\[\\s*\\d+%\\]$`);
/** Short-summary line of `-rA`: "FAILED tests/test_x.py::test_a[1-2] - assert 1 == 2". */
const PYTEST_SUMMARY = new RegExp(`^(${PYTEST_STATUS}) (.+)$`);
const SECTION = /^=+ (.*?) =+$/;

/** Splits "nodeid - message" where the node id's parameter part may itself contain spaces or " - ". */
function pytestNodeId(rest: string): string | undefined {
  const bracket = rest.indexOf('[');
  const space = rest.indexOf(' ');
  if (bracket >= 0 && (space < 0 || bracket < space)) {
    // Parametrised: the id ends at the first "]" followed by the end of the line or by " - "
    // (parameter ids may contain spaces, brackets and "::"; the failure message may contain "]").
    let id = rest;
    for (let i = bracket + 1; i < rest.length; i++) {
      if (rest[i] === ']' && (i === rest.length - 1 || rest.startsWith(' - ', i + 1))) {
        id = rest.slice(0, i + 1);
        break;
      }
    }
    return id.includes('::') || /\.py$/.test(id) ? id : undefined;
  }
  const id = space < 0 ? rest : rest.slice(0, space);
  return id.includes('::') || /\.py$/.test(id) ? id : undefined;
}

/**
 * pytest with `-rA` (short test summary of every outcome, the form SWE-bench runs) and/or `-v`
 * (one progress line per test). Progress lines are only read before the first report section
 * and summary lines only inside the "short test summary info" section, so text a test or the
 * code under test prints (shown in the captured-output sections) is not taken for a result. "SKIPPED [1] file.py:17: reason" names no test and is ignored (the test is then
 * missing, i.e. not passed). A collection error ("ERROR tests/test_x.py") is recorded under the
 * file's path; the tests of that file are missing from the log and so count as failed.
 */
export function parsePytestLog(log: string): ParsedLog {
  const out: ParsedLog = new Map();
  const lines = linesOf(log).map((l) => l.trimEnd());
  // The real short summary is the last one (a banner printed by code under test, shown inside a
  // captured-output section, comes before it); lines after the run's final counts line are not pytest's.
  const final = lastIndex(lines, (l) => PYTEST_FINAL.test(l));
  const end = final >= 0 ? final : lines.length;
  const summaryAt = lastIndex(lines.slice(0, end), (l) => SECTION.exec(l)?.[1] === 'short test summary info');
  let progress = true; // progress lines: only before the first report section
  for (let i = 0; i < end; i++) {
    const line = lines[i];
    const sec = SECTION.exec(line);
    if (sec) {
      if (sec[1] !== 'test session starts') progress = false;
      continue;
    }
    if (progress) {
      const v = PYTEST_VERBOSE.exec(line);
      if (v) record(out, v[1], v[2] as TestStatus);
      const sub = PYTEST_SUB_VERBOSE.exec(line);
      if (sub?.[2] === 'SUBFAILED') record(out, sub[1], 'FAILED');
      continue;
    }
    if (summaryAt < 0 || i <= summaryAt) continue;
    const s = PYTEST_SUMMARY.exec(line);
    if (s) {
      const id = pytestNodeId(s[2]);
      if (id) record(out, id, s[1] as TestStatus);
      continue;
    }
    // pytest >= 9: a failed subtest ("SUBFAILED(i=2) tests/x.py::C::test - ...") fails its test,
    // whose own line may still say PASSED.
    const sub = PYTEST_SUB_SUMMARY.exec(line);
    if (sub) {
      const id = pytestNodeId(sub[2]);
      if (id && sub[1] === 'SUBFAILED') record(out, id, 'FAILED');
    }
  }
  return out;
}

const lastIndex = <T>(xs: readonly T[], f: (x: T) => boolean): number => {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i])) return i;
  return -1;
};

/** pytest's last line: "==== 1 failed, 2 passed, 3 subtests passed in 0.15s ====" (or "no tests ran in ..."). */
const PYTEST_FINAL = /^=+ (?:(?:\d+ [\w ]+?(?:, )?)+|no tests ran) in [\d.]+s(?: \([^)]*\))? =+$/;
const PYTEST_SUB_VERBOSE = /^(\S.*?::.+?) (SUBFAILED|SUBPASSED|SUBSKIPPED)\(.*\)\s+\[\s*\d+%\]$/;
const PYTEST_SUB_SUMMARY = /^(SUBFAILED|SUBPASSED|SUBSKIPPED)(?:\(.*?\))? (.+)$/;

/** What a run's own closing lines say: whether the runner finished and its counts. */
export interface RunSummary {
  /** The runner printed its closing summary (it was not cut short). */
  complete: boolean;
  /** Counts by outcome as the runner states them (pytest: passed, failed, error, skipped, xfailed, xpassed; unittest: ran, failures, errors; node: tests, pass, fail). */
  counts: Record<string, number>;
  /** unittest: "OK" or "FAILED"; node: whether "# fail 0". */
  ok?: boolean;
}

/** The closing summary of a pytest, unittest or node TAP run (pure). */
export function runSummary(framework: Framework, log: string): RunSummary {
  const lines = linesOf(log).map((l) => l.trimEnd());
  const counts: Record<string, number> = {};
  if (framework === 'pytest') {
    const i = lastIndex(lines, (l) => PYTEST_FINAL.test(l));
    if (i < 0) return { complete: false, counts };
    for (const m of lines[i].matchAll(/(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?|subtests passed|subtests failed)/g)) {
      counts[m[2].replace(/s$/, '').replace(/^error$/, 'error')] = Number(m[1]);
    }
    return { complete: true, counts };
  }
  if (framework === 'unittest') {
    const ran = lastIndex(lines, (l) => /^Ran \d+ tests? in [\d.]+s$/.test(l));
    if (ran < 0) return { complete: false, counts };
    counts.ran = Number(/^Ran (\d+)/.exec(lines[ran])![1]);
    const verdict = lines.slice(ran + 1).find((l) => /^(OK|FAILED)\b/.test(l));
    if (!verdict) return { complete: false, counts };
    for (const m of verdict.matchAll(/(failures|errors|skipped|expected failures|unexpected successes)=(\d+)/g)) counts[m[1]] = Number(m[2]);
    return { complete: true, counts, ok: verdict.startsWith('OK') };
  }
  for (const l of lines) {
    const m = /^# (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(l);
    if (m) counts[m[1]] = Number(m[2]);
  }
  const complete = counts.tests !== undefined && counts.pass !== undefined && counts.fail !== undefined;
  return { complete, counts, ...(complete ? { ok: counts.fail === 0 } : {}) };
}

// ---------------------------------------------------------------------------------------------
// unittest

/**
 * "test_x (pkg.mod.Class.test_x)" optionally followed by a subtest description "(i=1)" and
 * " ... rest". The name may be dotted: a module that fails to import is reported as
 * "pkg.mod (unittest.loader._FailedTest.pkg.mod) ... ERROR".
 */
const UNITTEST_HEAD = /^(\s*)([\w.]+) \(([\w.]+)\)((?: \(.*?\))?)(?: \.\.\. ?(.*))?$/;
/** Block headers of the failure details: "FAIL: test_x (pkg.mod.Class.test_x) (i=1)". */
const UNITTEST_DETAIL = /^(FAIL|ERROR|UNEXPECTED SUCCESS): ([\w.]+) \(([\w.]+)\)/;

function unittestStatus(text: string): TestStatus | undefined {
  const t = text.trim();
  if (t === 'ok') return 'PASSED';
  if (t === 'FAIL') return 'FAILED';
  if (t === 'ERROR') return 'ERROR';
  if (t === 'expected failure') return 'XFAIL';
  if (t === 'unexpected success') return 'FAILED';
  if (t === 'skipped' || /^skipped ['"]/.test(t)) return 'SKIPPED';
  return undefined;
}

function unittestId(name: string, paren: string): string {
  // Python >= 3.11: "(mod.Class.name)"; older: "(mod.Class)".
  return paren === name || paren.endsWith(`.${name}`) ? paren : `${paren}.${name}`;
}

/**
 * The dotted id of a unittest id written the way SWE-bench lists Django tests,
 * "test_x (module.Class)" or "test_x (module.Class.test_x)"; any other id unchanged.
 */
export function canonicalTestId(id: string): string {
  const m = /^([\w.]+) \(([\w.]+)\)$/.exec(id);
  return m ? unittestId(m[1], m[2]) : id;
}

/**
 * `python -m unittest -v` (and Django's runner, which prints the same lines). Handles results on
 * a later line (output printed by the test, docstring descriptions), subtests (a failing subtest
 * fails its test), class/module fixtures ("setUpClass (mod.Class) ... ERROR"), and the
 * "FAIL: ..." / "ERROR: ..." detail headers, which are counted as failures as well.
 */
export function parseUnittestLog(log: string): ParsedLog {
  const out: ParsedLog = new Map();
  let pending: string | undefined;
  for (const raw of linesOf(log)) {
    const line = raw.trimEnd();
    const d = UNITTEST_DETAIL.exec(line);
    if (d) {
      record(out, unittestId(d[2], d[3]), d[1] === 'ERROR' ? 'ERROR' : 'FAILED');
      pending = undefined;
      continue;
    }
    const h = UNITTEST_HEAD.exec(line);
    if (h) {
      const id = unittestId(h[2], h[3]);
      const isSubtest = h[4] !== '';
      const rest = h[5];
      const status = rest === undefined ? undefined : unittestStatus(rest);
      if (status) {
        // A subtest line only ever reports a failure of its parent test.
        if (!isSubtest || status === 'FAILED' || status === 'ERROR') record(out, id, status);
        pending = undefined;
      } else {
        pending = isSubtest ? pending : id;
      }
      continue;
    }
    if (pending === undefined) continue;
    // The result of the pending test on a later line: alone ("ok"), or after a docstring ("Doc ... ok").
    const alone = unittestStatus(line);
    const tail = /\s\.\.\. (.+)$/.exec(line);
    const status = alone ?? (tail ? unittestStatus(tail[1]) : undefined);
    if (status) {
      record(out, pending, status);
      // Django's verbose runner puts a test's docstring (first line) before " ... ok"; SWE-bench's
      // Django instances name such tests by that line: the result is keyed both ways.
      if (alone === undefined && tail) {
        const doc = line.slice(0, tail.index).trim();
        if (doc) record(out, doc, status);
      }
      pending = undefined;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// node --test --test-reporter=tap

/** " ok 3 - name # SKIP reason": indentation, result, number, name (TAP-escaped), directive. */
const TAP_RESULT = /^(\s*)(not ok|ok)\b(?: \d+)?(?: -)?(?: (.*))?$/;
const TAP_SUBTEST = /^(\s*)# Subtest: (.*)$/;

const unescapeTap = (s: string) => s.replace(/\\([\\#])/g, '$1');

/** Splits "name \# with hash # SKIP why" into the unescaped name and the directive (SKIP/TODO). */
function splitDirective(text: string): { name: string; directive?: 'SKIP' | 'TODO' } {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] === '#' && (i === 0 || text[i - 1] === ' ')) {
      const m = /^#\s*(SKIP|TODO)\b/i.exec(text.slice(i));
      if (m) return { name: unescapeTap(text.slice(0, i).trimEnd()), directive: m[1].toUpperCase() as 'SKIP' | 'TODO' };
    }
  }
  return { name: unescapeTap(text.trim()) };
}

/**
 * TAP from node's test runner. Nesting is given by indentation (4 spaces per level); the id of
 * a test is the chain of enclosing "# Subtest:" names and its own name, joined by " > ".
 * Suites and parent tests get results of their own too (a describe() fails when one of its
 * tests fails). "# SKIP" and "# TODO" are SKIPPED. A file that fails to load is reported by
 * node as a failing test named by the file's path; its tests are missing (not passed).
 * Lines a test prints to stdout reach the TAP stream as "# ..." comments and are ignored; YAML
 * diagnostic blocks ("  ---" .. "  ...") are skipped.
 */
export function parseNodeTapLog(log: string): ParsedLog {
  const out: ParsedLog = new Map();
  const stack: string[] = [];
  let yamlIndent: number | undefined;
  for (const raw of linesOf(log)) {
    const line = raw.trimEnd();
    if (yamlIndent !== undefined) {
      const indent = line.length - line.trimStart().length;
      if (line.trim() === '...' && indent === yamlIndent) yamlIndent = undefined;
      continue;
    }
    if (/^\s*---$/.test(line)) {
      yamlIndent = line.length - line.trimStart().length;
      continue;
    }
    const sub = TAP_SUBTEST.exec(line);
    if (sub) {
      const depth = Math.floor(sub[1].length / 4);
      stack.length = depth;
      stack[depth] = unescapeTap(sub[2].trim());
      continue;
    }
    const r = TAP_RESULT.exec(line);
    if (!r) continue;
    const depth = Math.floor(r[1].length / 4);
    const { name, directive } = splitDirective(r[3] ?? '');
    const ancestors = stack.slice(0, depth).map((n) => n ?? '');
    const id = [...ancestors, name || stack[depth] || ''].join(' > ');
    const status: TestStatus = directive ? 'SKIPPED' : r[2] === 'ok' ? 'PASSED' : 'FAILED';
    record(out, id, status);
    stack.length = depth;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export type Framework = 'pytest' | 'unittest' | 'node';

/** Parses a log with the parser of the framework that produced it. */
export function parseTestLog(framework: Framework, log: string): ParsedLog {
  switch (framework) {
    case 'pytest':
      return parsePytestLog(log);
    case 'unittest':
      return parseUnittestLog(log);
    case 'node':
      return parseNodeTapLog(log);
  }
}

// ---------------------------------------------------------------------------------------------
// pytest's junit XML (a structured report the runner writes itself)

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (s: string): string =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : XML_ENTITIES[e],
  );

function xmlAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) out[m[1]] = unescapeXml(m[3] ?? m[4] ?? '');
  return out;
}

/**
 * pytest's junit XML report (`--junitxml`, `-o junit_family=xunit1`, which gives each testcase its
 * file) as test id -> status: the node id is file::Class::name (the class part is the classname
 * less the file's module path). failure -> FAILED, error -> ERROR, skipped -> SKIPPED, skipped of
 * type pytest.xfail -> XFAIL, none -> PASSED. Returns undefined when the text is not such a report.
 */
export function parsePytestJunit(xml: string): ParsedLog | undefined {
  if (!/<testsuites?\b/.test(xml) || !/<\/testsuites?>\s*$/.test(xml.trim())) return undefined;
  const out: ParsedLog = new Map();
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const a = xmlAttributes(m[1]);
    if (!a.name || !a.file) continue;
    const module = a.file.replace(/\.py$/, '').replace(/\//g, '.');
    const cls = a.classname && a.classname !== module && a.classname.startsWith(`${module}.`) ? a.classname.slice(module.length + 1).replace(/\./g, '::') : '';
    const id = cls ? `${a.file}::${cls}::${a.name}` : `${a.file}::${a.name}`;
    const body = m[3] ?? '';
    let status: TestStatus = 'PASSED';
    if (/<error\b/.test(body)) status = 'ERROR';
    else if (/<failure\b/.test(body)) status = 'FAILED';
    else {
      const skip = /<skipped\b([^>]*)/.exec(body);
      if (skip) status = xmlAttributes(skip[1]).type === 'pytest.xfail' ? 'XFAIL' : 'SKIPPED';
    }
    record(out, id, status);
  }
  return out;
}
