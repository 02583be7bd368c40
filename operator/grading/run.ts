/**
 * One grading test run, defended (integrity.ts): the command hardened (runner outside the tree),
 * canaries in the hidden test files, the hidden files and .git read-only under bubblewrap where it
 * works (else checked byte-identical afterwards), the log parsed by the framework, the run judged
 * whole or not, and only then graded. A run that is untrusted or shows tampering grades as if no
 * test had passed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TaskRecord } from '../api/records.ts';
import { gradingEnv, gradingSandboxWorks, runProcess, runShell, sandboxedGradingArgv, type ExecResult } from './exec.ts';
import { gradeOutcome, type Grade, type GradingSemantics } from './grade.ts';
import {
  canariesApplicable,
  expectsJunitReport,
  canaryProblems,
  changedHashes,
  hardenCommand,
  hashFiles,
  injectCanaries,
  newNonce,
  pythonRunnerPath,
  verdictOfRun,
  withoutCanaries,
  type Canaries,
} from './integrity.ts';
import { parsePytestJunit, parseTestLog, record, runSummary, type Framework, type ParsedLog } from './parse.ts';

export interface GradedRunOptions {
  framework: Framework;
  command: string;
  dir: string;
  timeoutSeconds: number;
  /** The hidden test files (those test_patch wrote): canaries go in, they must not change. */
  hiddenFiles?: readonly string[];
  /** Add canary tests (default true when there are hidden files and the command runs whole files). */
  canaries?: boolean;
  semantics?: GradingSemantics;
  task: Pick<TaskRecord, 'FAIL_TO_PASS' | 'PASS_TO_PASS'>;
  /** Variables of the task's environment (PATH with its venv first, ...), over the pinned ones. */
  env?: Record<string, string>;
  /** Directories of the task's environment (venv, interpreter) the run must see, also under /tmp (bwrap gives the run a private /tmp). */
  readOnlyDirs?: readonly string[];
}

export interface GradedRun {
  exec: ExecResult;
  /** The results that count (empty when the run is untrusted or tampered with; canaries removed). */
  parsed: ParsedLog;
  /** Everything the log said, canaries included (for the record). */
  rawParsed: ParsedLog;
  grade: Grade;
  /** Why the run's results do not count (timed out, killed, cut short). */
  untrusted: string[];
  /** Signs of tampering (canaries, changed hidden files, contradictions). */
  tampering: string[];
  /** The command as it was run. */
  command: string;
  sandboxed: boolean;
  canaries?: Canaries;
}

export async function runGradedTests(o: GradedRunOptions): Promise<GradedRun> {
  const hidden = [...(o.hiddenFiles ?? [])];
  // pytest's junit report goes to a directory of its own outside the grading copy.
  const reportDir = o.framework === 'pytest' ? await mkdtemp(path.join(os.tmpdir(), 'entropo-report-')) : undefined;
  try {
    return await runGraded(o, hidden, reportDir);
  } finally {
    if (reportDir) await rm(reportDir, { recursive: true, force: true });
  }
}

async function runGraded(o: GradedRunOptions, hidden: string[], reportDir: string | undefined): Promise<GradedRun> {
  const reportFile = reportDir ? path.join(reportDir, 'junit.xml') : undefined;
  const runner = o.framework === 'node' ? undefined : pythonRunnerPath();
  const command = hardenCommand(o.command, runner, reportFile ? { junitPath: reportFile } : {});
  const junit = o.framework === 'pytest' && expectsJunitReport(command);
  let canaries: Canaries | undefined;
  if (hidden.length && (o.canaries ?? true) && canariesApplicable(o.framework, o.command)) {
    canaries = await injectCanaries(o.dir, o.framework, hidden, newNonce());
  }
  const before = await hashFiles(o.dir, hidden);
  const unittest = o.framework === 'unittest';
  const sandboxed = gradingSandboxWorks();
  const opts = { cwd: o.dir, timeoutSeconds: o.timeoutSeconds, env: gradingEnv(o.env), captureStderr: unittest };
  let exec: ExecResult;
  if (sandboxed) {
    const protect = [...hidden, '.git'].filter((f) => existsSync(path.join(o.dir, f)));
    const argv = sandboxedGradingArgv(command, o.dir, protect, junit && reportDir ? [reportDir] : [], [...(runner ? [runner] : []), ...(o.readOnlyDirs ?? []).filter((d) => existsSync(d))]);
    exec = await runProcess(argv[0], argv.slice(1), opts);
  } else {
    exec = await runShell(command, opts);
  }
  const changed = changedHashes(before, await hashFiles(o.dir, hidden));
  // unittest reports on stderr while the code under test prints to stdout: parse stderr alone
  // (unless the command sent everything to stdout, 2>&1, leaving stderr empty).
  const onlyStderr = unittest && (exec.stderrOutput ?? '').trim() !== '';
  const log = onlyStderr ? (exec.stderrOutput ?? '') : exec.output;
  const logParsed = parseTestLog(o.framework, log);
  // With pytest's own junit report: the report names the tests, each with the worse of its two
  // statuses (text printed into the log can neither add a test nor improve one).
  let rawParsed = logParsed;
  const reportProblems: string[] = [];
  if (junit) {
    const xml = parsePytestJunit(await readFile(reportFile!, 'utf8').catch(() => ''));
    if (!xml) reportProblems.push("pytest's junit report is missing or incomplete");
    else {
      rawParsed = new Map(xml);
      for (const [id, s] of logParsed) if (rawParsed.has(id)) record(rawParsed, id, s);
    }
  }
  const { untrusted, tampering } = verdictOfRun({
    framework: o.framework,
    exitCode: exec.code,
    signal: exec.signal,
    timedOut: exec.timedOut,
    summary: runSummary(o.framework, log),
    parsed: rawParsed,
    expectsFailure: (canaries?.files.length ?? 0) > 0,
  });
  if (!exec.timedOut && exec.code !== null && exec.code <= 1) untrusted.push(...reportProblems);
  if (canaries && !untrusted.length) tampering.push(...canaryProblems(rawParsed, canaries));
  for (const f of changed) tampering.push(`hidden test file ${f} changed during the run`);
  const parsed: ParsedLog = untrusted.length || tampering.length ? new Map() : withoutCanaries(rawParsed, canaries);
  return {
    exec,
    parsed,
    rawParsed,
    grade: gradeOutcome(parsed, o.task, o.semantics),
    untrusted,
    tampering,
    command,
    sandboxed,
    ...(canaries ? { canaries } : {}),
  };
}

/** Lines for a grading log: how the run was made and judged. */
export function describeRun(r: GradedRun): string[] {
  const lines = [`ran${r.sandboxed ? ' (bwrap: read-only hidden tests and .git, no network)' : ''}: ${r.command}`];
  if (expectsJunitReport(r.command)) lines.push("results: pytest's junit report (outside the tree), each test at the worse of its report and log statuses");
  if (r.canaries?.files.length) lines.push(`canary tests (nonce ${r.canaries.nonce}) in ${r.canaries.files.join(', ')}`);
  for (const u of r.untrusted) lines.push(`results not counted: ${u}`);
  for (const t of r.tampering) lines.push(`TAMPERING: ${t}`);
  return lines;
}
