/**
 * Test-time-scaling metrics (docs/method.md section 9): pass@1, unbiased pass@k, best@k of the
 * selector, the oracle gap, selection accuracy, distinct patches, finished rate, mean steps.
 * Pure functions. Grading (the resolved flag) is joined to the selector's pick by trajectory id
 * AFTER selection: the selector only ever sees SelectionCandidates.
 */
import type { EvalMetrics } from '../api/common.ts';
import type { ExitReason } from '../api/records.ts';
import { toCandidate, type CandidateSource } from './candidate.ts';
import { mulberry32, hash53 } from './hash.ts';
import { patchIdentity } from './patch.ts';
import {
  prepare,
  pickIndex,
  explainIndex,
  rankOrder,
  isRankable,
  toTaskSelection,
  type PreparedTask,
  type SelectionOptions,
  type SelectionResult,
  type TaskSelection,
} from './selector.ts';

function checkCounts(n: number, c: number, k: number): void {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k)) throw new RangeError('n, c and k must be integers');
  if (n < 1 || c < 0 || c > n || k < 1 || k > n) throw new RangeError(`need 0 <= c <= n and 1 <= k <= n (n=${n}, c=${c}, k=${k})`);
}

/**
 * Unbiased pass@k from n samples of which c are correct: 1 - C(n-c, k) / C(n, k), computed as
 * 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms a binomial coefficient (stable for any n).
 */
export function passAtK(n: number, c: number, k: number): number {
  checkCounts(n, c, k);
  if (n - c < k) return 1;
  let notPass = 1;
  for (let i = n - c + 1; i <= n; i++) notPass *= 1 - k / i;
  return 1 - notPass;
}

/** C(n, k) as a float (exact up to 2^53); Infinity when it overflows. */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  k = Math.min(k, n - k);
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return Math.round(r);
}

export type BestAtKMethod = 'rank' | 'exact' | 'sampled';

export interface BestAtKEstimate {
  k: number;
  value: number;
  /**
   * rank: exact, from the selector's preference order (pipelines without a majority step);
   * exact: every k-subset enumerated; sampled: `subsets` random k-subsets (seeded).
   */
  method: BestAtKMethod;
  /** k-subsets evaluated (rank: C(n, k) implicitly, reported as such). */
  subsets: number;
}

export interface SubsetOptions {
  /** Enumerate every k-subset when there are at most this many (default 256). */
  exactLimit?: number;
  /** Otherwise, this many seeded random k-subsets (default 256). */
  samples?: number;
  /** Seed of the subset sampling (default 0). */
  seed?: number;
}

/** Calls fn with every k-subset of 0..n-1 (one reused array, increasing indices). */
function forEachCombination(n: number, k: number, fn: (subset: number[]) => void): void {
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    fn(idx);
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
}

/**
 * best@k of one task for k = 1..kMax: the probability that the selector, given k of the task's
 * n candidates drawn uniformly without replacement, picks a resolved one. `resolved[i]` grades
 * task.candidates[i]; it is read only after each pick.
 */
export function bestAtKCurve(task: PreparedTask, resolved: readonly boolean[], kMax = task.candidates.length, options: SubsetOptions = {}): BestAtKEstimate[] {
  const n = task.candidates.length;
  if (resolved.length !== n) throw new RangeError('one resolved flag per candidate');
  if (n === 0) return [];
  kMax = Math.min(kMax, n);
  const out: BestAtKEstimate[] = [];
  if (isRankable(task.pipeline)) {
    // Candidate at preference rank r (0 = best) is the pick of a k-subset iff it is in the subset
    // and none of the r better ones is: P(r) = C(n-1-r, k-1) / C(n, k).
    const order = rankOrder(task);
    for (let k = 1; k <= kMax; k++) {
      let p = k / n;
      let value = 0;
      for (let r = 0; r < n && p > 0; r++) {
        if (resolved[order[r]]) value += p;
        if (r < n - 1) p *= (n - k - r) / (n - 1 - r);
      }
      out.push({ k, value: Math.min(1, value), method: 'rank', subsets: binomial(n, k) });
    }
    return out;
  }
  const exactLimit = options.exactLimit ?? 256;
  const samples = options.samples ?? 256;
  const indices = Array.from({ length: n }, (_, i) => i);
  for (let k = 1; k <= kMax; k++) {
    const total = binomial(n, k);
    let hits = 0;
    if (total <= exactLimit) {
      forEachCombination(n, k, (subset) => {
        if (resolved[pickIndex(task, subset)]) hits++;
      });
      out.push({ k, value: hits / total, method: 'exact', subsets: total });
    } else {
      const rng = mulberry32(hash53(`${k}`, options.seed ?? 0));
      const pool = indices.slice();
      for (let s = 0; s < samples; s++) {
        for (let i = 0; i < k; i++) {
          const j = i + Math.floor(rng() * (n - i));
          const t = pool[i];
          pool[i] = pool[j];
          pool[j] = t;
        }
        if (resolved[pickIndex(task, pool.slice(0, k))]) hits++;
      }
      out.push({ k, value: hits / samples, method: 'sampled', subsets: samples });
    }
  }
  return out;
}

/** What computeEvalMetrics needs of a trajectory: its test-time fields plus its grade. */
export interface GradedTrajectory extends CandidateSource {
  taskId: string;
  resolved: boolean;
  exitReason?: ExitReason;
}

export interface EvalOptions extends SubsetOptions {
  /** spec.selection of the EvalSuite (pipeline, seed). */
  selection?: SelectionOptions;
  /** Verifier scores by trajectory id; override the records' own verifierScore. */
  verifierScores?: ReadonlyMap<string, number>;
  /** Largest k for passAtK / bestAtK (default: the most samples any task has). */
  kMax?: number;
}

export interface KSummary {
  k: number;
  /** Tasks with fewer than k samples, whose value at k is their value at n (all samples). */
  cappedTasks: number;
  /** How best@k was computed: one method for every task, or "mixed". */
  method: BestAtKMethod | 'mixed';
  /** k-subsets evaluated, summed over tasks. */
  subsets: number;
}

export interface TaskResult {
  task: string;
  samples: number;
  resolved: number;
  selection: SelectionResult;
  pickResolved: boolean;
  distinctPatches: number;
}

export interface EvalReport {
  metrics: EvalMetrics;
  /** status.selections entries, in task order, graded. */
  selections: TaskSelection[];
  tasks: TaskResult[];
  perK: KSummary[];
  /** Rollouts counted (sandbox_error records excluded: they are no sample). */
  samples: number;
}

/** Groups trajectories by task id; tasks and trajectories sorted by id. */
export function groupByTask<T extends { taskId: string; id: string }>(trajectories: Iterable<T>): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const t of trajectories) {
    const g = groups.get(t.taskId);
    if (g) g.push(t);
    else groups.set(t.taskId, [t]);
  }
  const sorted = new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  for (const g of sorted.values()) g.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The EvalMetrics of an evaluation, from trajectories grouped by task (a Map from groupByTask,
 * or any iterable of [taskId, trajectories]). For each task the selector picks among
 * candidates built with toCandidate (test-time fields only); then the pick is graded.
 * Tasks whose value at k needs more samples than they have use all their samples (counted in
 * perK[].cappedTasks). Tasks with no usable trajectory are left out.
 */
export function computeEvalMetrics(
  groups: Iterable<readonly [string, readonly GradedTrajectory[]]>,
  options: EvalOptions = {},
): EvalReport {
  const tasks: TaskResult[] = [];
  const passCurves: number[][] = [];
  const bestCurves: BestAtKEstimate[][] = [];
  let samples = 0;
  let finished = 0;
  let steps = 0;
  const prepared: { task: string; prep: PreparedTask; resolved: boolean[] }[] = [];
  for (const [task, all] of groups) {
    const trajectories = all.filter((t) => t.exitReason !== 'sandbox_error');
    if (trajectories.length === 0) continue;
    for (const t of trajectories) {
      if (t.taskId !== task) throw new Error(`trajectory ${t.id} of task ${t.taskId} grouped under ${task}`);
    }
    const candidates = trajectories.map((t) => toCandidate(t, options.verifierScores?.get(t.id)));
    const prep = prepare(candidates, options.selection);
    const selection = explainIndex(prep);
    // grading, after selection
    const resolved = trajectories.map((t) => t.resolved);
    const pick = candidates.findIndex((c) => c.id === selection.selected);
    const c = resolved.filter(Boolean).length;
    samples += trajectories.length;
    finished += trajectories.filter((t) => t.finished).length;
    steps += trajectories.reduce((a, t) => a + t.steps, 0);
    tasks.push({
      task,
      samples: trajectories.length,
      resolved: c,
      selection,
      pickResolved: resolved[pick],
      distinctPatches: new Set(trajectories.map((t) => patchIdentity(t))).size,
    });
    prepared.push({ task, prep, resolved });
  }
  if (tasks.length === 0) return { metrics: {}, selections: [], tasks: [], perK: [], samples: 0 };
  const maxN = Math.max(...tasks.map((t) => t.samples));
  const kMax = Math.max(1, Math.min(options.kMax ?? maxN, maxN));
  for (const [i, t] of tasks.entries()) {
    const n = t.samples;
    passCurves.push(Array.from({ length: kMax }, (_, j) => passAtK(n, t.resolved, Math.min(j + 1, n))));
    const curve = bestAtKCurve(prepared[i].prep, prepared[i].resolved, Math.min(kMax, n), {
      ...options,
      seed: hash53(t.task, options.seed ?? 0),
    });
    // capped tasks: their value at k > n is their value at n
    while (curve.length < kMax) curve.push({ ...curve[curve.length - 1], k: curve.length + 1 });
    bestCurves.push(curve);
  }
  const passAtKs = Array.from({ length: kMax }, (_, j) => ({ k: j + 1, value: mean(passCurves.map((c) => c[j])) }));
  const bestAtKs = Array.from({ length: kMax }, (_, j) => ({ k: j + 1, value: mean(bestCurves.map((c) => c[j].value)) }));
  const perK: KSummary[] = Array.from({ length: kMax }, (_, j) => {
    const methods = new Set(bestCurves.map((c) => c[j].method));
    return {
      k: j + 1,
      cappedTasks: tasks.filter((t) => t.samples < j + 1).length,
      method: methods.size === 1 ? [...methods][0] : 'mixed',
      subsets: bestCurves.reduce((a, c, i) => a + (tasks[i].samples > j ? c[j].subsets : 0), 0),
    };
  });
  const solvable = tasks.filter((t) => t.resolved > 0);
  // pass@N and best@N use every sample of each task, whatever kMax is
  const passAtN = mean(tasks.map((t) => (t.resolved > 0 ? 1 : 0)));
  const bestAtN = mean(tasks.map((t) => (t.pickResolved ? 1 : 0)));
  const metrics: EvalMetrics = {
    pass1: mean(tasks.map((t) => t.resolved / t.samples)),
    passAtN,
    bestAtN,
    oracleGap: passAtN - bestAtN,
    passAtK: passAtKs,
    bestAtK: bestAtKs,
    distinctPatchesPerTask: mean(tasks.map((t) => t.distinctPatches)),
    finishedRate: finished / samples,
    meanSteps: steps / samples,
  };
  if (solvable.length > 0) metrics.selectionAccuracy = solvable.filter((t) => t.pickResolved).length / solvable.length;
  return {
    metrics,
    selections: tasks.map((t) => toTaskSelection(t.task, t.selection, t.pickResolved)),
    tasks,
    perK,
    samples,
  };
}
