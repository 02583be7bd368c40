/**
 * Many rollouts on one machine (`entropo rollout`): every task x sample, a bounded number at a
 * time; whether a rollout is run again is the caller's `retry` rule (the decision core's
 * retryRollout in controllers/sandbox-fleet.ts: the one place the retry and no-sample policy
 * lives). Summaries and SWE-bench predictions are pure functions of the trajectories.
 */
import type { ResolvedEnvironment, TaskRecord, TrajectoryRecord } from '../api/records.ts';
import { runRolloutDetailed, type RolloutAssignment, type RolloutDeps, type RolloutPhases } from './rollout.ts';
import { isSample } from './trajectory.ts';

/** Runs fn over items with at most `concurrency` in flight; results in input order. */
export async function mapPool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return out;
}

export interface BatchOptions extends Omit<RolloutAssignment, 'task' | 'sample'> {
  tasks: TaskRecord[];
  samples: number;
  concurrency: number;
  /** Run this rollout again? `failures`: its attempts so far that ended like t (default: never). */
  retry?: (t: TrajectoryRecord, failures: number) => boolean;
  /** Called as each rollout ends (progress). */
  onDone?: (t: TrajectoryRecord, phases: RolloutPhases) => void;
  /** The environment of a SWE-bench task (its checkout, venv, ...: operator/tasks/environments.ts), for the agent's sandbox and grading. */
  environmentOf?: (task: TaskRecord) => ResolvedEnvironment | undefined;
}

export interface BatchResult {
  /** In task order, then sample order. */
  trajectories: TrajectoryRecord[];
  phases: RolloutPhases[];
  seconds: number;
}

export async function runBatch(o: BatchOptions, deps: RolloutDeps = {}): Promise<BatchResult> {
  const t0 = process.hrtime.bigint();
  const jobs = o.tasks.flatMap((task) => Array.from({ length: o.samples }, (_, sample) => ({ task, sample })));
  const { tasks: _t, samples: _s, concurrency: _c, retry, onDone: _d, environmentOf, ...common } = o;
  const results = await mapPool(jobs, o.concurrency, async ({ task, sample }) => {
    let failures = 0;
    const environment = environmentOf?.(task);
    const sandbox = environment ? { ...common.sandbox, environment } : common.sandbox;
    for (;;) {
      const r = await runRolloutDetailed({ ...common, ...(sandbox ? { sandbox } : {}), task, sample }, deps);
      if (isSample(r.trajectory) || !retry?.(r.trajectory, ++failures)) {
        o.onDone?.(r.trajectory, r.phases);
        return r;
      }
    }
  });
  return { trajectories: results.map((r) => r.trajectory), phases: results.map((r) => r.phases), seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

// ---- pure reporting -------------------------------------------------------------------------

export interface SwePrediction {
  instance_id: string;
  model_name_or_path: string;
  model_patch: string;
}

/** SWE-bench predictions (one per task) from the trajectories of one sample index. */
export function predictions(trajectories: readonly TrajectoryRecord[], sample = 0): SwePrediction[] {
  return trajectories
    .filter((t) => t.sample === sample && isSample(t))
    .map((t) => ({ instance_id: t.taskId, model_name_or_path: t.model, model_patch: t.patch }));
}

export interface TaskRow {
  task: string;
  samples: number;
  resolved: number;
  finished: number;
  errors: number;
  meanSteps: number;
  meanSeconds: number;
  exits: Record<string, number>;
}

export function summaryRows(trajectories: readonly TrajectoryRecord[]): TaskRow[] {
  const by = new Map<string, TrajectoryRecord[]>();
  for (const t of trajectories) by.set(t.taskId, [...(by.get(t.taskId) ?? []), t]);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const row = (task: string, ts: TrajectoryRecord[]): TaskRow => {
    const exits: Record<string, number> = {};
    for (const t of ts) exits[t.exitReason] = (exits[t.exitReason] ?? 0) + 1;
    return {
      task,
      samples: ts.length,
      resolved: ts.filter((t) => t.resolved).length,
      finished: ts.filter((t) => t.finished).length,
      errors: ts.filter((t) => !isSample(t)).length,
      meanSteps: mean(ts.map((t) => t.steps)),
      meanSeconds: mean(ts.map((t) => t.durationSeconds)),
      exits,
    };
  };
  const rows = [...by.entries()].map(([task, ts]) => row(task, ts));
  if (rows.length > 1) rows.push(row('TOTAL', [...trajectories]));
  return rows;
}

/** A markdown table of the rows. The resolve rate counts samples only (not sandbox_error / model_error). */
export function formatSummaryTable(rows: readonly TaskRow[]): string {
  const head = ['task', 'rollouts', 'resolved', 'resolve rate', 'finished', 'no sample', 'mean steps', 'mean s', 'exit reasons'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const graded = r.samples - r.errors;
    const rate = graded ? `${((100 * r.resolved) / graded).toFixed(1)}%` : 'n/a';
    const exits = Object.entries(r.exits)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    lines.push(`| ${[r.task, r.samples, r.resolved, rate, r.finished, r.errors, r.meanSteps.toFixed(1), r.meanSeconds.toFixed(1), exits].join(' | ')} |`);
  }
  return lines.join('\n');
}
