/**
 * Measures a policy checkpoint the way the operator uses it: `entropo serve`'s policy server
 * (in-process, model in its worker thread) and rollouts through the REAL agent loop, sandbox
 * and grader (runRollout), N samples per task at the paper's sampling (temperature 0.7, top-p
 * 0.8, top-k 20) over a fixed seed. Reports per task and overall:
 *
 * - valid tool-call rate: assistant turns that carried a tool call the tools accepted (known
 *   tool, JSON arguments, a successful edit) / all assistant turns;
 * - completion rate: samples that called finish after a successful str_replace;
 * - resolve rate: samples the grader marked resolved; and how many tasks lie strictly between
 *   0 and 1 (issue 10's goal: sampling keeps both right and wrong answers).
 */
import { RolloutLimits, Sampling } from '../api/common.ts';
import type { TaskRecord, TrajectoryRecord } from '../api/records.ts';
import { parse } from '../api/validate.ts';
import { logger } from '../logging/logger.ts';
import { runRollout } from '../rollout/rollout.ts';
import { startPolicyServer } from '../serving/server.ts';

export interface MeasureOptions {
  modelDir: string;
  tasks: TaskRecord[];
  samplesPerTask: number;
  seed: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  /** Rollouts in flight at once (the server batches their turns). Default 4. */
  parallelism?: number;
  /** Assistant turns per rollout. Default 8. */
  maxSteps?: number;
  /** Called after each rollout (progress). */
  onRollout?: (t: TrajectoryRecord, done: number, total: number) => void;
}

export interface TaskFigures {
  taskId: string;
  samples: number;
  resolved: number;
  completed: number;
  turns: number;
  validToolCalls: number;
  /** Samples lost to infrastructure (sandbox_error / model_error): not counted as samples. */
  lost: number;
}

export interface MeasureReport {
  samplesPerTask: number;
  seed: number;
  sampling: { temperature: number; topP: number; topK: number };
  tasks: TaskFigures[];
  validToolCallRate: number;
  completionRate: number;
  resolveRate: number;
  /** Tasks whose resolve rate is strictly between 0 and 1. */
  tasksStrictlyBetween: number;
  /** pass@N over tasks (any sample resolved). */
  passAtN: number;
  seconds: number;
  trajectories: TrajectoryRecord[];
}

/** Figures of one task's trajectories (pure). */
export function taskFigures(taskId: string, ts: TrajectoryRecord[]): TaskFigures {
  const samples = ts.filter((t) => t.exitReason !== 'sandbox_error' && t.exitReason !== 'model_error');
  let turns = 0;
  let valid = 0;
  let completed = 0;
  for (const t of samples) {
    const m = t.messages;
    let edited = false;
    m.forEach((msg, i) => {
      if (msg.role !== 'assistant') return;
      turns++;
      const calls = msg.tool_calls ?? [];
      if (calls.length === 0) return;
      const results = calls.map((c) => m.slice(i + 1).find((x) => x.role === 'tool' && x.tool_call_id === c.id));
      const ok = calls.every((c, k) => c.function.name === 'finish' || (results[k] && !/^Error:/.test(results[k]!.content ?? '')));
      if (ok) valid++;
      calls.forEach((c, k) => {
        if (c.function.name === 'file_editor' && /"str_replace"/.test(c.function.arguments) && results[k] && !/^Error:/.test(results[k]!.content ?? '')) edited = true;
      });
    });
    const last = [...m].reverse().find((x) => x.role === 'assistant');
    if (t.finished && edited && last?.tool_calls?.some((c) => c.function.name === 'finish')) completed++;
  }
  return {
    taskId,
    samples: samples.length,
    resolved: samples.filter((t) => t.resolved).length,
    completed,
    turns,
    validToolCalls: valid,
    lost: ts.length - samples.length,
  };
}

/** The whole measurement (I/O: a policy server, sandboxes, the grader). */
export async function measurePolicy(o: MeasureOptions): Promise<MeasureReport> {
  const t0 = Date.now();
  const log = logger.child({ component: 'policy-measure' });
  const sampling = parse<Sampling>(Sampling, { temperature: o.temperature ?? 0.7, topP: o.topP ?? 0.8, topK: o.topK ?? 20, maxTokensPerTurn: 384, seed: o.seed }, 'sampling');
  const limits = parse<RolloutLimits>(RolloutLimits, { maxSteps: o.maxSteps ?? 8, maxTokens: 4096, timeoutSeconds: 600, toolTimeoutSeconds: 60 }, 'limits');
  const server = await startPolicyServer({ modelDir: o.modelDir, servedModelName: 'policy', host: '127.0.0.1', port: 0, metrics: false, backend: 'wasm', maxBatch: 8, log });
  const jobs: { task: TaskRecord; sample: number }[] = [];
  for (const task of o.tasks) for (let s = 0; s < o.samplesPerTask; s++) jobs.push({ task, sample: s });
  const out: TrajectoryRecord[] = [];
  try {
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const j = jobs[next++];
        const t = await runRollout(
          { task: j.task, sample: j.sample, run: `measure-${o.seed}`, model: 'policy', endpoint: { baseURL: server.baseURL, maxRetries: 0 }, sampling, limits },
          { log },
        );
        out.push(t);
        o.onRollout?.(t, out.length, jobs.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.parallelism ?? 4) }, worker));
  } finally {
    await server.close();
  }
  const tasks = o.tasks.map((task) => taskFigures(task.instance_id, out.filter((t) => t.taskId === task.instance_id)));
  const sum = (f: (x: TaskFigures) => number) => tasks.reduce((a, x) => a + f(x), 0);
  const samples = sum((x) => x.samples);
  return {
    samplesPerTask: o.samplesPerTask,
    seed: o.seed,
    sampling: { temperature: sampling.temperature, topP: sampling.topP, topK: sampling.topK },
    tasks,
    validToolCallRate: sum((x) => x.validToolCalls) / Math.max(1, sum((x) => x.turns)),
    completionRate: sum((x) => x.completed) / Math.max(1, samples),
    resolveRate: sum((x) => x.resolved) / Math.max(1, samples),
    tasksStrictlyBetween: tasks.filter((x) => x.resolved > 0 && x.resolved < x.samples).length,
    passAtN: tasks.filter((x) => x.resolved > 0).length / Math.max(1, tasks.length),
    seconds: (Date.now() - t0) / 1000,
    trajectories: out.sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** A Markdown table of a report (README / BUILD.md). */
export function reportTable(r: MeasureReport): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = ['| task | resolved | completed | valid tool calls |', '|---|---:|---:|---:|'];
  for (const t of r.tasks) lines.push(`| ${t.taskId} | ${t.resolved}/${t.samples} | ${t.completed}/${t.samples} | ${t.validToolCalls}/${t.turns} |`);
  lines.push(
    `| **all** | **${pct(r.resolveRate)}** | **${pct(r.completionRate)}** | **${pct(r.validToolCallRate)}** |`,
    '',
    `${r.tasksStrictlyBetween} of ${r.tasks.length} tasks strictly between 0 and 1; pass@${r.samplesPerTask} ${pct(r.passAtN)}; ` +
      `temperature ${r.sampling.temperature}, top-p ${r.sampling.topP}, top-k ${r.sampling.topK}, seed ${r.seed}; ${Math.round(r.seconds)} s.`,
  );
  return lines.join('\n');
}
