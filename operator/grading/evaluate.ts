/**
 * evaluatePatch: grade a candidate patch for a task the way SWE-bench does, in a throw-away work
 * tree: base state, candidate patch, hidden tests (test_patch, after putting the files it
 * touches, the existing test files named by the test ids and the test files or test-runner
 * configuration the candidate touched, back to base), the task's
 * test command under a timeout, the log parsed by the task's framework, the resolved rule.
 * The work tree is always removed afterwards.
 *
 * SWE-bench tasks need their per-instance image (repository at base_commit with its
 * dependencies installed); they cannot be run here. For them, run the tests in that image and
 * grade the log with gradeLog(task, log).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isSelfContained, type SelfContainedTask, type TaskRecord, type TestOutcome } from '../api/records.ts';
import { failedGrade, isTestPath, testFilesOfIds, type GradingSemantics } from './grade.ts';
import { describeRun, runGradedTests, type GradedRun } from './run.ts';
import { applyPatch, changedFiles, filesInBase, filesOfPatch, materialiseWorkTree, resetFilesToBase, type ApplyMethod } from './worktree.ts';

export interface PatchEvaluation {
  applied: boolean;
  applyError?: string;
  /** Outcome of the PASS_TO_PASS tests. */
  regression: TestOutcome;
  /** Outcome of the FAIL_TO_PASS (hidden) tests. */
  hidden: TestOutcome;
  resolved: boolean;
  reward: number;
  /** What happened, then the test command's output (capped). */
  log: string;
  seconds: number;
  /** How the candidate patch was applied. */
  applyMethod?: ApplyMethod;
  /** The test command ran past its timeout and was killed (missing tests count as failed). */
  timedOut?: boolean;
  /** Exit code of the test command (null: killed by a signal; absent: it did not run). */
  exitCode?: number | null;
  /**
   * Signs that the candidate tampered with the test run (canary tests with the wrong outcome,
   * hidden test files changed during the run, a forged or inconsistent report). Never resolved.
   */
  tampering?: string[];
}

export interface EvaluateOptions {
  /** Wall-clock limit of the test command (default 300 s). */
  timeoutSeconds?: number;
  /** Directory under which the throw-away work tree is created (default: the OS temp dir). */
  workDir?: string;
  /** How SKIPPED / XPASS count (default 'swebench', the harness's rules). */
  semantics?: GradingSemantics;
}

/** Thrown for tasks whose environment this process cannot provide (SWE-bench per-instance images). */
export class EnvironmentUnavailableError extends Error {
  constructor(readonly task: string, message: string) {
    super(message);
    this.name = 'EnvironmentUnavailableError';
  }
}

export const DEFAULT_TEST_TIMEOUT_SECONDS = 300;

export type TestRun = GradedRun;

/**
 * Runs a self-contained task's test command in dir (as it is) and grades the log, with the
 * defences of run.ts (hardened command, canaries in `hiddenFiles`, read-only / unchanged hidden
 * files, the run judged whole). Without hidden files (the suite builder's runs) no canary is added.
 */
export async function runTaskTests(
  task: SelfContainedTask,
  dir: string,
  timeoutSeconds = DEFAULT_TEST_TIMEOUT_SECONDS,
  opts: { hiddenFiles?: readonly string[]; semantics?: GradingSemantics } = {},
): Promise<TestRun> {
  return runGradedTests({
    framework: task.test_framework,
    command: task.test_command,
    dir,
    timeoutSeconds,
    task,
    ...(opts.hiddenFiles ? { hiddenFiles: opts.hiddenFiles } : {}),
    ...(opts.semantics ? { semantics: opts.semantics } : {}),
  });
}

export async function evaluatePatch(task: TaskRecord, patch: string, opts: EvaluateOptions = {}): Promise<PatchEvaluation> {
  if (!isSelfContained(task)) {
    const image = task.image ?? `sweb.eval.x86_64.${task.instance_id}`;
    throw new EnvironmentUnavailableError(
      task.instance_id,
      `cannot evaluate SWE-bench task ${task.instance_id} here: it needs its per-instance environment (image ${image}, ` +
        `${task.repo} at ${task.base_commit}); run its tests in that image and grade the log with gradeLog(task, log)`,
    );
  }
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
  const timeoutSeconds = opts.timeoutSeconds ?? DEFAULT_TEST_TIMEOUT_SECONDS;
  const parent = opts.workDir ?? os.tmpdir();
  const dir = await mkdtemp(path.join(parent, `entropo-grade-${task.instance_id.replace(/[^\w.-]/g, '_').slice(0, 60)}-`));
  const notes: string[] = [`task ${task.instance_id}: grading in ${dir}`];
  try {
    await materialiseWorkTree(task, dir);
    const candidate = await applyPatch(dir, patch);
    if (!candidate.applied) {
      const g = failedGrade(task);
      notes.push(`candidate patch did not apply:\n${candidate.error}`);
      return { applied: false, applyError: candidate.error, ...g, log: notes.join('\n'), seconds: elapsed() };
    }
    notes.push(`candidate patch applied (${candidate.method})`);
    // The hidden tests' files, and the existing test files the task's test ids name, go back
    // to their base state: the candidate cannot pre-empt the hidden tests or edit the
    // PASS_TO_PASS tests into passing.
    const testFiles = filesOfPatch(task.test_patch);
    const existingTests = await filesInBase(dir, testFilesOfIds(task.test_framework, [...task.PASS_TO_PASS, ...task.FAIL_TO_PASS]));
    // What the candidate changed, as git sees the tree (whatever form its diff had), and as its diff says.
    const candidateTests = [...new Set([...(await changedFiles(dir)), ...filesOfPatch(patch)])].filter(isTestPath);
    await resetFilesToBase(dir, [...new Set([...testFiles, ...existingTests, ...candidateTests])]);
    const guarded = [...new Set([...existingTests, ...candidateTests])].filter((f) => !testFiles.includes(f));
    if (guarded.length) notes.push(`test files reset to base (or removed when new): ${guarded.join(', ')}`);
    const hiddenTests = await applyPatch(dir, task.test_patch);
    if (!hiddenTests.applied) {
      // The task's own test patch must apply on the base files; if it does not, nothing is graded.
      const g = failedGrade(task);
      const error = `hidden tests (test_patch) did not apply:\n${hiddenTests.error}`;
      notes.push(error);
      return { applied: true, applyError: error, applyMethod: candidate.method, ...g, log: notes.join('\n'), seconds: elapsed() };
    }
    notes.push(`hidden tests applied to ${testFiles.length} file(s); running: ${task.test_command} (timeout ${timeoutSeconds} s)`);
    const run = await runTaskTests(task, dir, timeoutSeconds, { hiddenFiles: testFiles, ...(opts.semantics ? { semantics: opts.semantics } : {}) });
    if (run.exec.timedOut) notes.push(`test command timed out after ${timeoutSeconds} s; its process group was killed`);
    notes.push(...describeRun(run));
    const g = run.grade;
    notes.push(
      `exit ${run.exec.code ?? run.exec.signal}; ${run.parsed.size} test result(s) parsed; ` +
        `FAIL_TO_PASS ${g.hidden.passed.length}/${task.FAIL_TO_PASS.length}, PASS_TO_PASS ${g.regression.passed.length}/${task.PASS_TO_PASS.length}; ` +
        `resolved=${g.resolved}`,
    );
    return {
      applied: true,
      applyMethod: candidate.method,
      ...g,
      log: `${notes.join('\n')}\n----- test output -----\n${run.exec.output}`,
      seconds: elapsed(),
      timedOut: run.exec.timedOut,
      exitCode: run.exec.code,
      ...(run.tampering.length ? { tampering: run.tampering } : {}),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
