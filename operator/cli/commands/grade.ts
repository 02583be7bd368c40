/**
 * `entropo grade`: SWE-bench predictions JSONL graded locally against a task file (SWE-bench form
 * with checkouts named by an environments file or the records, or self-contained), with the
 * harness's semantics and files (operator/rollout/grade-predictions.ts). Prints one summary line
 * per model and writes the harness's report files.
 *
 * Exit status: 0 every submitted instance was graded (resolved or not, empty patches included);
 * 1 some instances ended in error (see their run_instance.log); 2 bad input (unreadable files, no
 * usable prediction).
 */
import { plainProgress } from '../plain-progress.ts';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { int, seconds } from '../args.ts';
import { routeLogs } from '../../logging/logger.ts';
import { parsePredictions } from '../../grading/harness-report.ts';
import { formatError, loadTaskFile, selectTasks } from '../../tasks/dataset.ts';
import { loadEnvironments, resolveEnvironment } from '../../tasks/environments.ts';
import { gradePredictions, type InstanceOutcome } from '../../rollout/grade-predictions.ts';
import { cleanupOnSignals } from '../../rollout/sandbox/sandbox.ts';

interface GradeCliOptions {
  tasks: string;
  predictions: string;
  environments?: string;
  instanceIds?: string;
  runId: string;
  outDir: string;
  maxWorkers: number;
  timeout: number;
  progress: boolean;
}

/** Exit statuses of `entropo grade`. */
export const GRADE_EXIT = { ok: 0, instanceErrors: 1, badInput: 2 } as const;

export function registerGrade(program: Command): void {
  program
    .command('grade')
    .description('grade SWE-bench predictions (JSONL) locally, as the SWE-bench harness does: per-instance reports and a run summary')
    .requiredOption('--predictions <file>', 'predictions JSONL: {instance_id, model_name_or_path, model_patch} per line')
    .requiredOption('--tasks <file>', 'task file (JSONL): SWE-bench records (with checkouts) or self-contained ones')
    .option('--environments <file>', 'environments file naming each repository\'s checkout and test environment (SWE-bench tasks)')
    .option('--instance-ids <ids>', 'only these tasks (comma-separated)')
    .option('--run-id <id>', 'run id (directory and summary file names, as the harness\'s --run_id)', 'entropo')
    .option('--out-dir <dir>', 'where logs/run_evaluation/... and <model>.<run_id>.json go', '.')
    .option('--max-workers <n>', 'instances graded at a time', int, 2)
    .option('--timeout <duration>', 'wall time of one instance\'s test run: seconds or a duration such as 30m', seconds, 1800)
    .option('--no-progress', 'no progress bar')
    .action(async (o: GradeCliOptions) => {
      if (o.maxWorkers < 1) throw new Error('--max-workers must be at least 1');
      cleanupOnSignals();
      const bad = (message: string) => {
        console.error(`entropo grade: ${message}`);
        process.exitCode = GRADE_EXIT.badInput;
      };
      let predText: string;
      try {
        predText = await readFile(o.predictions, 'utf8');
      } catch (e) {
        return bad(`cannot read the predictions ${o.predictions}: ${(e as Error).message}`);
      }
      const parsed = parsePredictions(predText);
      for (const e of parsed.errors) console.error(`entropo grade: ${o.predictions}:${e.line}: ${e.message} (line left out)`);
      const loaded = await loadTaskFile(o.tasks, 'Auto').catch((e: Error) => e);
      if (loaded instanceof Error) return bad(`cannot read the tasks ${o.tasks}: ${loaded.message}`);
      for (const e of loaded.errors) console.error(`entropo grade: ${formatError(e, o.tasks)} (task left out)`);
      const sel = selectTasks(loaded.tasks, o.instanceIds ? { instanceIds: o.instanceIds.split(',') } : {});
      if (sel.missing.length) return bad(`${o.tasks}: no task named ${sel.missing.join(', ')}`);
      const wanted = new Set(sel.tasks.map((t) => t.instance_id));
      const predictions = parsed.predictions.filter((p) => !o.instanceIds || wanted.has(p.instance_id));
      if (!predictions.length) return bad(`${o.predictions}: no prediction to grade`);
      let envs;
      try {
        envs = o.environments ? await loadEnvironments(o.environments) : undefined;
      } catch (e) {
        return bad((e as Error).message);
      }
      const taskDir = path.dirname(path.resolve(o.tasks));

      const total = predictions.filter((p) => wanted.has(p.instance_id)).length;
      const counts: Record<InstanceOutcome, number> = { resolved: 0, unresolved: 0, error: 0, empty_patch: 0 };
      const bars = o.progress && process.stderr.isTTY
        ? new cliProgress.MultiBar({ stream: process.stderr, format: 'grading [{bar}] {value}/{total} | resolved {resolved} | error {error} | {duration_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic)
        : undefined;
      const bar = bars?.create(total, 0, counts);
      const line = o.progress && !bars ? plainProgress('grading', total) : undefined;
      const restoreLogs = bars && process.stderr.isTTY ? routeLogs((line) => bars.log(line)) : () => {};
      const result = await gradePredictions({
        tasks: sel.tasks,
        predictions,
        environmentOf: (t) => resolveEnvironment(t, envs, taskDir),
        runId: o.runId,
        outDir: o.outDir,
        concurrency: o.maxWorkers,
        timeoutSeconds: o.timeout,
        onDone: (_id, outcome) => {
          counts[outcome]++;
          bar?.increment(1, counts);
          line?.({ resolved: counts.resolved, error: counts.error });
        },
      });
      bars?.stop();
      restoreLogs();
      for (const p of result.unknown) console.error(`entropo grade: ${o.predictions}: no task ${p.instance_id} in ${o.tasks} (prediction of ${p.model_name_or_path} left out)`);
      for (const s of result.summaries) {
        const x = s.summary;
        console.log(
          `${s.model}: ${x.total_instances} instances, ${x.submitted_instances} submitted, ${x.completed_instances} completed, ` +
            `${x.resolved_instances} resolved, ${x.unresolved_instances} unresolved, ${x.empty_patch_instances} empty patch, ${x.error_instances} error -> ${s.file}`,
        );
      }
      if (result.summaries.some((s) => s.summary.error_instances > 0)) process.exitCode = GRADE_EXIT.instanceErrors;
    });
}
