/**
 * Grading a SWE-bench task in its own environment (the task image's repository checkout, e.g.
 * /testbed in a sandbox Pod), as the SWE-bench harness does: the checkout put back to the base
 * commit, the candidate patch applied, test files put back to base (those of the test patch,
 * those the task's test ids name, those the candidate touched) and the test patch applied, the
 * task's test command run, its log graded (gradeLog: FAIL_TO_PASS -> hidden, PASS_TO_PASS ->
 * regression). Runs after the agent is done; the agent never sees it.
 * evaluatePatch (grading/) covers self-contained tasks; this covers checkouts it cannot make.
 */
import type { SweBenchTask } from '../api/records.ts';
import { failedGrade, frameworkOf, isTestPath, testFilesOfIds, type GradingSemantics } from './grade.ts';
import type { PatchEvaluation } from './evaluate.ts';
import { describeRun, runGradedTests } from './run.ts';
import { applyPatch, changedFiles, filesInBase, filesOfPatch, git, resetFilesToBase } from './worktree.ts';

async function gitOk(dir: string, args: string[]): Promise<void> {
  const r = await git(dir, args);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${dir}: ${r.output.trim()}`);
}

/** Puts a checkout back to `base`: tracked files reset, untracked files removed (ignored build products kept). */
export async function resetCheckout(dir: string, base: string): Promise<void> {
  await gitOk(dir, ['reset', '-q', '--hard', base]);
  await gitOk(dir, ['clean', '-q', '-fd']);
}

export async function evaluateInCheckout(
  task: SweBenchTask,
  patch: string,
  opts: { dir: string; base: string; timeoutSeconds: number; semantics?: GradingSemantics; env?: Record<string, string>; readOnlyDirs?: readonly string[] },
): Promise<PatchEvaluation> {
  const t0 = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
  if (!task.test_command) {
    throw new Error(`SWE-bench task ${task.instance_id} has no test_command: set it on the task, or as test_command of its environment (the harness's command for ${task.repo}, run from the checkout's root)`);
  }
  const notes = [`task ${task.instance_id}: grading in the checkout ${opts.dir} at ${opts.base}`];
  await resetCheckout(opts.dir, opts.base);
  try {
    const candidate = await applyPatch(opts.dir, patch);
    if (!candidate.applied) {
      notes.push(`candidate patch did not apply:\n${candidate.error}`);
      return { applied: false, applyError: candidate.error, ...failedGrade(task), log: notes.join('\n'), seconds: seconds() };
    }
    // As evaluatePatch does: the hidden tests' files, the existing test files the task's ids
    // name, and test files the candidate touched go back to base before the hidden tests go in.
    const testFiles = filesOfPatch(task.test_patch);
    const existingTests = await filesInBase(opts.dir, testFilesOfIds(frameworkOf(task), [...task.PASS_TO_PASS, ...task.FAIL_TO_PASS]), opts.base);
    const candidateTests = [...new Set([...(await changedFiles(opts.dir, opts.base)), ...filesOfPatch(patch)])].filter(isTestPath);
    await resetFilesToBase(opts.dir, [...new Set([...testFiles, ...existingTests, ...candidateTests])], opts.base);
    const hidden = await applyPatch(opts.dir, task.test_patch);
    if (!hidden.applied) throw new Error(`the task's test_patch does not apply on ${opts.base}: ${hidden.error}`);
    const graded = await runGradedTests({
      framework: frameworkOf(task),
      command: task.test_command,
      dir: opts.dir,
      timeoutSeconds: opts.timeoutSeconds,
      hiddenFiles: testFiles,
      task,
      ...(opts.semantics ? { semantics: opts.semantics } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.readOnlyDirs ? { readOnlyDirs: opts.readOnlyDirs } : {}),
    });
    const run = graded.exec;
    const g = graded.grade;
    notes.push(...describeRun(graded));
    notes.push(`exit ${run.code ?? run.signal}${run.timedOut ? ' (timed out)' : ''}; FAIL_TO_PASS ${g.hidden.passed.length}/${task.FAIL_TO_PASS.length}, PASS_TO_PASS ${g.regression.passed.length}/${task.PASS_TO_PASS.length}`);
    return {
      applied: true,
      ...(candidate.method ? { applyMethod: candidate.method } : {}),
      ...g,
      log: `${notes.join('\n')}\n----- test output -----\n${run.output}`,
      seconds: seconds(),
      timedOut: run.timedOut,
      exitCode: run.code,
      ...(graded.tampering.length ? { tampering: graded.tampering } : {}),
    };
  } finally {
    await resetCheckout(opts.dir, opts.base);
  }
}
