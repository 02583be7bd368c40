/**
 * `entropo grade`'s work (issue 18): SWE-bench predictions graded locally against a task file of
 * either form, with the semantics and the files of the SWE-bench harness
 * (swebench.harness.run_evaluation):
 *
 *   <outDir>/logs/run_evaluation/<run_id>/<model>/<instance_id>/
 *       patch.diff        the prediction's patch
 *       report.json       {instance_id: {patch_is_None, patch_exists, patch_successfully_applied, resolved, tests_status}}
 *                         (only for instances that were run to the end, as the harness writes it)
 *       test_output.txt   the test run's output
 *       run_instance.log  what was done: clone, patch, hidden tests, command, verdict, or the error
 *   <outDir>/<model>.<run_id>.json   the run summary (make_run_report's fields)
 *
 * SWE-bench tasks are graded in a clone of their checkout with their environment
 * (operator/tasks/environments.ts); self-contained tasks in a fresh work tree (evaluatePatch). A
 * prediction whose grading fails (patch does not apply, environment broken) is an error instance
 * with its log, never a crash of the run; the others are graded. Prediction lines that cannot be
 * read, and predictions of ids the task file does not have, are reported and left out.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isSelfContained, type ResolvedEnvironment, type TaskRecord } from '../api/records.ts';
import { evaluatePatch, type PatchEvaluation } from '../grading/evaluate.ts';
import { evaluationSummary, instanceReport, isEmptyPatch, modelDirName, type EvaluationSummary, type InstanceReport, type Prediction } from '../grading/harness-report.ts';
import { keySegment } from './assignment.ts';
import { mapPool } from './batch.ts';
import { gradeSweBench } from './rollout.ts';
import type { SandboxOptions } from './sandbox/sandbox.ts';

export interface GradePredictionsOptions {
  tasks: readonly TaskRecord[];
  predictions: readonly Prediction[];
  /** Environment of a SWE-bench task (may throw: the instance is then an error with that message). */
  environmentOf: (task: TaskRecord) => ResolvedEnvironment | undefined;
  runId: string;
  outDir: string;
  /** Instances graded at a time. */
  concurrency: number;
  /** Wall-clock limit of one instance's test run, seconds. */
  timeoutSeconds: number;
  /** Where clones and work trees go (default: the OS temp dir). */
  tmpDir?: string;
  /** Called as each instance is done (progress). */
  onDone?: (id: string, outcome: InstanceOutcome) => void;
}

/** How one instance ended. */
export type InstanceOutcome = 'resolved' | 'unresolved' | 'error' | 'empty_patch';

export interface GradePredictionsResult {
  /** One summary per model, and the file it was written to. */
  summaries: { model: string; file: string; summary: EvaluationSummary }[];
  /** Predictions of ids the task file does not have (not graded). */
  unknown: Prediction[];
}

/** Grades one patch: a clone of the checkout (SWE-bench) or a fresh work tree (self-contained). Throws when it cannot. */
export async function gradePatch(task: TaskRecord, patch: string, env: ResolvedEnvironment | undefined, opts: { timeoutSeconds: number; tmpDir?: string }): Promise<PatchEvaluation> {
  if (isSelfContained(task)) return evaluatePatch(task, patch, { timeoutSeconds: opts.timeoutSeconds, ...(opts.tmpDir ? { workDir: opts.tmpDir } : {}) });
  const sandbox: SandboxOptions = { ...(env ? { environment: env } : {}), ...(opts.tmpDir ? { tmpDir: opts.tmpDir } : {}) };
  return gradeSweBench(task, patch, sandbox, opts.timeoutSeconds);
}

export async function gradePredictions(o: GradePredictionsOptions): Promise<GradePredictionsResult> {
  const byId = new Map(o.tasks.map((t) => [t.instance_id, t]));
  const unknown = o.predictions.filter((p) => !byId.has(p.instance_id));
  const known = o.predictions.filter((p) => byId.has(p.instance_id));
  const reports = new Map<string, Map<string, boolean>>();
  for (const p of known) if (!reports.has(p.model_name_or_path)) reports.set(p.model_name_or_path, new Map());

  await mapPool(known, o.concurrency, async (p) => {
    const task = byId.get(p.instance_id)!;
    const dir = path.join(o.outDir, 'logs', 'run_evaluation', keySegment(o.runId), modelDirName(p.model_name_or_path), keySegment(p.instance_id));
    if (isEmptyPatch(p.model_patch)) {
      o.onDone?.(p.instance_id, 'empty_patch');
      return;
    }
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'patch.diff'), p.model_patch!);
    const log: string[] = [`instance ${p.instance_id} of ${p.model_name_or_path}, run ${o.runId}`];
    let outcome: InstanceOutcome = 'error';
    try {
      const ev = await gradePatch(task, p.model_patch!, o.environmentOf(task), o);
      const [head, tests = ''] = ev.log.split('\n----- test output -----\n');
      log.push(head);
      await writeFile(path.join(dir, 'test_output.txt'), tests);
      if (!ev.applied || ev.applyError) {
        // The harness: a patch that does not apply ends the instance with an error and no report.
        log.push(`>>>>> Patch Apply Failed: ${ev.applyError ?? 'the patch did not apply'}`);
      } else {
        const report: Record<string, InstanceReport> = { [p.instance_id]: instanceReport(ev) };
        await writeFile(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 4)}\n`);
        reports.get(p.model_name_or_path)!.set(p.instance_id, ev.resolved);
        outcome = ev.resolved ? 'resolved' : 'unresolved';
        log.push(`${ev.timedOut ? 'tests timed out; ' : ''}${ev.tampering?.length ? `tampering: ${ev.tampering.join('; ')}; ` : ''}resolved: ${ev.resolved}`);
      }
    } catch (e) {
      log.push(`>>>>> Evaluation error: ${(e as Error).message}`);
    }
    await writeFile(path.join(dir, 'run_instance.log'), `${log.join('\n')}\n`);
    o.onDone?.(p.instance_id, outcome);
  });

  const ids = o.tasks.map((t) => t.instance_id);
  const summaries: GradePredictionsResult['summaries'] = [];
  await mkdir(o.outDir, { recursive: true });
  for (const [model, modelReports] of reports) {
    const preds = new Map(known.filter((p) => p.model_name_or_path === model).map((p) => [p.instance_id, p]));
    const summary = evaluationSummary(ids, preds, modelReports);
    const file = path.join(o.outDir, `${modelDirName(model)}.${keySegment(o.runId)}.json`);
    await writeFile(file, `${JSON.stringify(summary, null, 4)}\n`);
    summaries.push({ model, file, summary });
  }
  return { summaries, unknown };
}
