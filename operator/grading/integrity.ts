/**
 * Defences of a grading test run against a candidate that tampers with it (issue 11 items 1, 5-8):
 *
 * - the runner cannot be shadowed: `python -m pytest|unittest` runs through runners/python_runner.py,
 *   which imports the framework before the work tree is on sys.path (hardenCommand);
 * - canary tests (tripwires) are appended to every hidden test file, in the task's own framework,
 *   under names drawn at random per run: one that must fail and one that must pass. A framework
 *   patched on import (a no-op assertEqual, forced "passed" reports), forged output or a forged exit
 *   status shows up as a canary with the wrong outcome, and the run is not resolved;
 * - the hidden test files are read-only during the run where bwrap works (bind-mounted over
 *   themselves, with .git; the rest of the file system read-only, no network, a PID namespace), and
 *   byte-identical afterwards in every case (hashes before and after);
 * - the run itself must be whole: not timed out, exit status 0 or 1, the runner's own closing
 *   summary present, and no more passing tests than its counts say (verdictOfRun).
 * Pure apart from the file helpers (injectCanaries, hashFiles).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Framework, ParsedLog, RunSummary } from './parse.ts';

// ---------------------------------------------------------------------------------------------
// The runner, outside the tree

/** Where python_runner.py is: next to this module (sources), or in the runtime's operator/ tree (from dist/). */
export function pythonRunnerPath(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'runners', 'python_runner.py'), path.join(here, '..', '..', '..', 'operator', 'grading', 'runners', 'python_runner.py')];
  return candidates.find((p) => existsSync(p));
}

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The test command with every `python[3[.x]] [flags] -m pytest|unittest ...` run through the runner
 * outside the tree (`python -s -B <runner> pytest|unittest ...`: no user site, no byte code). Other
 * commands are returned as they are. Pure.
 */
export function hardenCommand(command: string, runner: string | undefined, opts: { junitPath?: string } = {}): string {
  if (!runner) return command;
  return command.replace(
    /(^|&&|\|\||;|\n)(\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)((?:\S*\/)?python[0-9.]*)((?:\s+-[A-Za-z]+)*)\s+-m\s+(pytest|unittest)(?=\s|$)/g,
    (_m, sep: string, pre: string, py: string, flags: string, mod: string) => {
      // pytest also writes its junit XML report, outside the work tree.
      const report = mod === 'pytest' && opts.junitPath !== undefined ? ` --junitxml=${shQuote(opts.junitPath)} -o junit_family=xunit1` : '';
      return `${sep}${pre}${py}${flags} -s -B ${shQuote(runner)} ${mod}${report}`;
    },
  );
}

/** Whether a hardened command runs pytest through the runner with a junit report (exactly once). */
export const expectsJunitReport = (hardened: string): boolean => (hardened.match(/ --junitxml=/g) ?? []).length === 1;

// ---------------------------------------------------------------------------------------------
// Canaries

/** A run's canary names: the same random token in every hidden test file. */
export interface Canaries {
  nonce: string;
  framework: Framework;
  /** Files the canaries were appended to. */
  files: string[];
}

export const newNonce = (): string => randomBytes(6).toString('hex');

/** Whether a test command runs whole files (canaries in them then run too); selections by name or id do not. Pure. */
export function canariesApplicable(framework: Framework, command: string): boolean {
  if (framework === 'pytest') return !/::|(^|\s)(-k|--deselect|--lf|--last-failed|--sw|--stepwise)(\s|=|$)/.test(command);
  if (framework === 'unittest') return !/(^|\s)(-k|-f|--failfast)(\s|$)/.test(command);
  return !/--test-name-pattern|--test-skip-pattern|--test-only/.test(command);
}

/** Two numbers and their sum and product, from the nonce: the canaries' arithmetic. */
function numbers(nonce: string): { a: number; b: number } {
  return { a: 1000 + (parseInt(nonce.slice(0, 4), 16) % 9000), b: 1000 + (parseInt(nonce.slice(4, 8), 16) % 9000) };
}

/** Names of the canaries as the parsers report them (a suffix of the id for Python, the whole id for node). */
export function canaryIds(framework: Framework, nonce: string): { mustFail: string; mustPass: string } {
  if (framework === 'pytest') return { mustFail: `::test_entropo_canary_${nonce}_must_fail`, mustPass: `::test_entropo_canary_${nonce}_must_pass` };
  if (framework === 'unittest') return { mustFail: `EntropoCanary${nonce}.test_must_fail`, mustPass: `EntropoCanary${nonce}.test_must_pass` };
  return { mustFail: `entropo canary ${nonce} must fail`, mustPass: `entropo canary ${nonce} must pass` };
}

/**
 * The text appended to a hidden test file (pure): in the framework's own terms, a test that must
 * fail (a wrong sum through the framework's assertion) and one that must pass. undefined when the
 * file is not one the framework runs (by extension).
 */
export function canarySource(framework: Framework, file: string, fileText: string, nonce: string): string | undefined {
  const { a, b } = numbers(nonce);
  if (framework === 'pytest' || framework === 'unittest') {
    if (!file.endsWith('.py')) return undefined;
    const nl = fileText.endsWith('\n') || fileText === '' ? '' : '\n';
    if (framework === 'pytest') {
      return (
        `${nl}\n\ndef test_entropo_canary_${nonce}_must_fail():\n    assert ${a} + ${b} == ${a + b + 1}\n\n\n` +
        `def test_entropo_canary_${nonce}_must_pass():\n    assert ${a} * ${b} == ${a * b}\n`
      );
    }
    return (
      `${nl}\n\nimport unittest as _entropo_unittest_${nonce}\n\n\n` +
      `class EntropoCanary${nonce}(_entropo_unittest_${nonce}.TestCase):\n` +
      `    def test_must_fail(self):\n        self.assertEqual(${a} + ${b}, ${a + b + 1})\n\n` +
      `    def test_must_pass(self):\n        self.assertEqual(${a} * ${b}, ${a * b})\n`
    );
  }
  if (!/\.[cm]?[jt]s$/.test(file)) return undefined;
  const esm = file.endsWith('.mjs') || (!file.endsWith('.cjs') && /^\s*(import|export)\s/m.test(fileText));
  const t = `__entropoCanaryTest${nonce}`;
  const eq = `__entropoCanaryAssert${nonce}`;
  const head = esm
    ? `import { test as ${t} } from 'node:test';\nimport ${eq} from 'node:assert/strict';\n`
    : `const { test: ${t} } = require('node:test');\nconst ${eq} = require('node:assert/strict');\n`;
  return (
    `\n${head}` +
    `${t}('entropo canary ${nonce} must fail', () => { ${eq}.equal(${a} + ${b}, ${a + b + 1}); });\n` +
    `${t}('entropo canary ${nonce} must pass', () => { ${eq}.equal(${a} * ${b}, ${a * b}); });\n`
  );
}

/** Appends the canaries to each hidden test file the framework runs; returns the files that got them. */
export async function injectCanaries(dir: string, framework: Framework, files: readonly string[], nonce: string): Promise<Canaries> {
  const done: string[] = [];
  for (const f of files) {
    const abs = path.join(dir, f);
    const text = await readFile(abs, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const src = canarySource(framework, f, text, nonce);
    if (!src) continue;
    await appendFile(abs, src);
    done.push(f);
  }
  return { nonce, framework, files: done };
}

/** What the canaries say about a run: problems (tampering) when one has the wrong outcome or is missing. Pure. */
export function canaryProblems(parsed: ParsedLog, c: Canaries): string[] {
  if (c.files.length === 0) return [];
  const ids = canaryIds(c.framework, c.nonce);
  const matching = (suffix: string) => [...parsed].filter(([id]) => (c.framework === 'node' ? id === suffix || id.endsWith(` > ${suffix}`) : id.endsWith(suffix)));
  const problems: string[] = [];
  const fails = matching(ids.mustFail);
  const passes = matching(ids.mustPass);
  if (fails.length === 0) problems.push('the canary test that must fail did not run');
  for (const [id, s] of fails) if (s !== 'FAILED') problems.push(`the canary test that must fail came out ${s} (${id})`);
  if (passes.length === 0) problems.push('the canary test that must pass did not run');
  for (const [id, s] of passes) if (s !== 'PASSED') problems.push(`the canary test that must pass came out ${s} (${id})`);
  return problems;
}

/** Removes the canaries' results from a parsed log (they are not the task's tests). */
export function withoutCanaries(parsed: ParsedLog, c: Canaries | undefined): ParsedLog {
  if (!c || c.files.length === 0) return parsed;
  return new Map([...parsed].filter(([id]) => !id.includes(c.nonce)));
}

// ---------------------------------------------------------------------------------------------
// Hidden files unchanged

/** sha256 of each file (missing: "-"). */
export async function hashFiles(dir: string, files: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of files) {
    const b = await readFile(path.join(dir, f)).catch(() => undefined);
    out.set(f, b ? createHash('sha256').update(b).digest('hex') : '-');
  }
  return out;
}

/** Files whose hash changed between two hashFiles results. Pure. */
export function changedHashes(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([f, h]) => after.get(f) !== h).map(([f]) => f);
}

// ---------------------------------------------------------------------------------------------
// The run as a whole

export interface RunFacts {
  framework: Framework;
  exitCode: number | null;
  signal?: string | null;
  timedOut: boolean;
  summary: RunSummary;
  parsed: ParsedLog;
  /** The run includes a canary that must fail (so a clean run exits 1). */
  expectsFailure: boolean;
}

/**
 * Whether a run's results can be trusted (pure). `untrusted`: the run was cut short or broke
 * down (timed out, killed, exit status other than 0/1, no closing summary from the runner):
 * nothing it printed counts. `tampering`: what it printed contradicts itself (exit 0 with a failing
 * canary expected, more passing tests than the runner's counts, an "OK" with failures).
 */
export function verdictOfRun(f: RunFacts): { untrusted: string[]; tampering: string[] } {
  const untrusted: string[] = [];
  const tampering: string[] = [];
  if (f.timedOut) untrusted.push('the test command timed out: a partial run resolves nothing');
  else if (f.exitCode === null) untrusted.push(`the test command was killed by ${f.signal ?? 'a signal'}`);
  else if (f.exitCode !== 0 && f.exitCode !== 1) untrusted.push(`the test command exited ${f.exitCode} (a runner error, interrupted run or collection error, not test results)`);
  if (!f.timedOut && !f.summary.complete) untrusted.push("the runner's closing summary is missing (the run ended early or its output is not the runner's)");
  const statuses = [...f.parsed.values()];
  const passedN = statuses.filter((s) => s === 'PASSED').length;
  const failedN = statuses.filter((s) => s === 'FAILED' || s === 'ERROR').length;
  if (f.exitCode === 0 && (failedN > 0 || f.expectsFailure)) tampering.push(`exit status 0 although ${failedN > 0 ? `${failedN} test(s) failed` : 'a canary test must fail'}`);
  if (f.exitCode === 1 && failedN === 0 && statuses.length > 0 && !untrusted.length) {
    // exit 1 with nothing failing: the log lacks the failures the runner saw (hidden from the parser).
    untrusted.push('exit status 1 but no failing test in the log');
  }
  if (f.summary.complete) {
    const c = f.summary.counts;
    if (f.framework === 'pytest') {
      const limit = (c.passed ?? 0) + (c.xpassed ?? 0) + (c['subtests passed'] ?? 0);
      if (passedN > limit) tampering.push(`${passedN} tests reported passed, but pytest counted ${c.passed ?? 0}`);
    } else if (f.framework === 'unittest') {
      if (f.summary.ok && failedN > 0) tampering.push('unittest said OK while tests failed');
      if (f.summary.ok === false && f.exitCode === 0) tampering.push('unittest said FAILED but exited 0');
    } else if (f.framework === 'node') {
      if (f.summary.ok && failedN > 0) tampering.push(`node counted no failure while ${failedN} test(s) failed`);
    }
  }
  return { untrusted, tampering };
}
