/**
 * Hybrid best-trajectory selection (docs/method.md section 8): an ordered pipeline of steps over one
 * task's N candidates. Pure: no I/O, no clock, no global randomness.
 *
 * Semantics, for every step type:
 * - a step keeps the candidates of the pool that score best on one key (a flag, a count, a
 *   score); when none of the pool has the information a step needs (no verifier scores, no
 *   agent-written tests, no regression results) the step is skipped and says so;
 * - a step that would leave no candidate is skipped (the pool is kept);
 * - once one candidate remains, later steps are not run (they could not change the pick);
 * - if several remain after the last step, the one with the smallest seeded hash of its id wins
 *   ("tie-break"), so the pick never depends on the order of the input.
 * Every step is a filter on a set, so permuting the candidates never changes the pick.
 */
import type { Selection, SelectionStep } from '../api/common.ts';
import { PaperSelection } from '../api/common.ts';
import type { TaskSelection as TaskSelectionSchema } from '../api/kinds.ts';
import type { Static } from '../api/schema.ts';
import type { SelectionCandidate } from './candidate.ts';
import { hash53 } from './hash.ts';
import { patchIdentity } from './patch.ts';

/** The EvalSuite status entry of one task (status.selections[]). */
export type TaskSelection = Static<typeof TaskSelectionSchema>;

export type StepStatus = 'applied' | 'skipped-empty' | 'skipped-unavailable' | 'not-run';

/** What one step did. */
export interface StepOutcome {
  /** Position in the pipeline, from 0. */
  index: number;
  /** The step with its defaults applied. */
  step: ResolvedStep;
  status: StepStatus;
  /** Pool size before and after the step. */
  before: number;
  after: number;
  /** One line for people: what the step kept or why it was skipped. */
  note: string;
}

export interface SelectionResult {
  /** Id of the picked candidate. */
  selected: string;
  /**
   * What decided: the type of the step that left one candidate, "OnlyCandidate" when there was
   * one from the start, or "TieBreak" when several were left after the last step.
   */
  decidedBy: string;
  /** Index of the deciding step, or -1 (only-candidate, tie-break). */
  decidedAt: number;
  /** Candidates left after each step, starting with N (length = pipeline length + 1). */
  survivors: number[];
  steps: StepOutcome[];
  /** Ids left after the last step (before the tie-break), sorted. */
  remaining: string[];
}

/** A pipeline step with every option set. */
export type ResolvedStep =
  | { type: 'Finished' }
  | { type: 'Regression'; mode: 'AllPass' | 'MaxCount' }
  | { type: 'Reproduction' }
  | { type: 'VerifierThreshold'; threshold: number }
  | { type: 'VerifierArgmax' }
  | { type: 'Steps'; order: 'Most' | 'Fewest' }
  | { type: 'Majority' }
  | { type: 'Random' };

export const DEFAULT_VERIFIER_THRESHOLD = 0.01;

export function resolveStep(step: SelectionStep): ResolvedStep {
  switch (step.type) {
    case 'Regression':
      return { type: 'Regression', mode: step.mode ?? 'AllPass' };
    case 'VerifierThreshold':
      return { type: 'VerifierThreshold', threshold: step.threshold ?? DEFAULT_VERIFIER_THRESHOLD };
    case 'Steps':
      return { type: 'Steps', order: step.order ?? 'Most' };
    case 'Finished':
    case 'Reproduction':
    case 'VerifierArgmax':
    case 'Majority':
    case 'Random':
      return { type: step.type };
    default:
      throw new RangeError(`unknown selection step type ${JSON.stringify((step as { type: unknown }).type)}`);
  }
}

/**
 * A task's candidates prepared once for any number of selections over subsets of them (best@k
 * sub-sampling runs thousands per task).
 */
export interface PreparedTask {
  readonly candidates: readonly SelectionCandidate[];
  readonly pipeline: readonly ResolvedStep[];
  readonly seed: number;
  /** Seeded hash of each candidate's id: the tie-break key (smaller wins); NaN until needed. */
  readonly tieKey: Float64Array;
  /** Normalised-patch group of each candidate (-1: empty patch); only when the pipeline votes. */
  readonly patchGroup?: Int32Array;
}

export interface SelectionOptions {
  pipeline?: readonly SelectionStep[];
  seed?: number;
}

export function prepare(candidates: readonly SelectionCandidate[], selection: SelectionOptions = {}): PreparedTask {
  const pipeline = (selection.pipeline ?? PaperSelection).map(resolveStep);
  const seed = selection.seed ?? 0;
  const seen = new Set<string>();
  for (const c of candidates) {
    if (seen.has(c.id)) throw new Error(`duplicate candidate id ${JSON.stringify(c.id)}`);
    seen.add(c.id);
  }
  const tieKey = new Float64Array(candidates.length).fill(Number.NaN);
  let patchGroup: Int32Array | undefined;
  if (pipeline.some((s) => s.type === 'Majority')) {
    patchGroup = new Int32Array(candidates.length);
    const groups = new Map<string, number>();
    candidates.forEach((c, i) => {
      const norm = patchIdentity(c);
      if (norm === '') {
        patchGroup![i] = -1;
        return;
      }
      let g = groups.get(norm);
      if (g === undefined) groups.set(norm, (g = groups.size));
      patchGroup![i] = g;
    });
  }
  return { candidates, pipeline, seed, tieKey, patchGroup };
}

/** True when a step's pick over any subset is the best of a fixed ranking (see rankOrder). */
export function isRankable(pipeline: readonly ResolvedStep[]): boolean {
  return pipeline.every((s) => s.type !== 'Majority');
}

const reproScore = (c: SelectionCandidate) =>
  c.reproduction && c.reproduction.total > 0 ? c.reproduction.passed / c.reproduction.total : undefined;

/** Keeps the pool members with the maximum key (keys < 0 mean "lacks it" where noted). */
function keepMax(pool: number[], key: (i: number) => number): number[] {
  let best = -Infinity;
  let kept: number[] = [];
  for (const i of pool) {
    const k = key(i);
    if (k > best) {
      best = k;
      kept = [i];
    } else if (k === best) kept.push(i);
  }
  return kept;
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(3));

interface StepRun {
  pool: number[];
  unavailable?: string;
  note: string;
}

function runStep(task: PreparedTask, step: ResolvedStep, pool: number[], explain: boolean): StepRun {
  const cs = task.candidates;
  switch (step.type) {
    case 'Finished': {
      const kept = pool.filter((i) => cs[i].finished);
      return { pool: kept, note: explain ? `${kept.length} of ${pool.length} finished` : '' };
    }
    case 'Regression': {
      if (!pool.some((i) => cs[i].regression)) return { pool, unavailable: 'no regression results', note: '' };
      if (step.mode === 'AllPass') {
        const kept = pool.filter((i) => cs[i].regression !== undefined && cs[i].regression!.failed === 0);
        return { pool: kept, note: explain ? `${kept.length} of ${pool.length} pass every existing test` : '' };
      }
      const kept = keepMax(pool, (i) => cs[i].regression?.passed ?? -1);
      return { pool: kept, note: explain ? `${kept.length} with the most existing tests passing (${cs[kept[0]].regression?.passed ?? 0})` : '' };
    }
    case 'Reproduction': {
      if (!pool.some((i) => reproScore(cs[i]) !== undefined)) return { pool, unavailable: 'no agent-written test results', note: '' };
      // a candidate without its own tests scores 0, like one whose tests all fail
      const kept = keepMax(pool, (i) => reproScore(cs[i]) ?? 0);
      return { pool: kept, note: explain ? `${kept.length} with the best agent-written test score (${fmt(reproScore(cs[kept[0]]) ?? 0)})` : '' };
    }
    case 'VerifierThreshold': {
      const scored = pool.filter((i) => cs[i].verifierScore !== undefined).length;
      if (scored === 0) return { pool, unavailable: 'no verifier scores', note: '' };
      // unscored candidates are kept: the filter removes only what the verifier judged unlikely
      const kept = pool.filter((i) => cs[i].verifierScore === undefined || cs[i].verifierScore! >= step.threshold);
      const unscored = pool.length - scored;
      return {
        pool: kept,
        note: explain ? `${kept.length} of ${pool.length} with p(YES) >= ${step.threshold}${unscored ? ` (${unscored} unscored, kept)` : ''}` : '',
      };
    }
    case 'VerifierArgmax': {
      if (!pool.some((i) => cs[i].verifierScore !== undefined)) return { pool, unavailable: 'no verifier scores', note: '' };
      const kept = keepMax(pool, (i) => cs[i].verifierScore ?? -1);
      return { pool: kept, note: explain ? `${kept.length} with the highest p(YES) (${fmt(cs[kept[0]].verifierScore!)})` : '' };
    }
    case 'Steps': {
      const sign = step.order === 'Most' ? 1 : -1;
      const kept = keepMax(pool, (i) => sign * cs[i].steps);
      return { pool: kept, note: explain ? `${kept.length} with the ${step.order.toLowerCase()} steps (${cs[kept[0]].steps})` : '' };
    }
    case 'Majority': {
      const group = task.patchGroup!;
      const counts = new Map<number, number>();
      for (const i of pool) if (group[i] >= 0) counts.set(group[i], (counts.get(group[i]) ?? 0) + 1);
      if (counts.size === 0) return { pool, unavailable: 'no non-empty patches', note: '' };
      let top = 0;
      for (const n of counts.values()) top = Math.max(top, n);
      const kept = pool.filter((i) => group[i] >= 0 && counts.get(group[i]) === top);
      const groups = [...counts.values()].filter((n) => n === top).length;
      return {
        pool: kept,
        note: explain ? `${kept.length} in the largest patch group${groups > 1 ? 's' : ''} (${top} vote${top > 1 ? 's' : ''}; ${counts.size} distinct patches)` : '',
      };
    }
    case 'Random': {
      const kept = [tieBreak(task, pool)];
      return { pool: kept, note: explain ? `seeded random pick (seed ${task.seed})` : '' };
    }
  }
}

function tieKey(task: PreparedTask, i: number): number {
  let key = task.tieKey[i];
  if (Number.isNaN(key)) key = task.tieKey[i] = hash53(task.candidates[i].id, task.seed);
  return key;
}

function tieBreak(task: PreparedTask, pool: readonly number[]): number {
  let best = pool[0];
  for (const i of pool) {
    const a = tieKey(task, i);
    const b = tieKey(task, best);
    if (a < b || (a === b && task.candidates[i].id < task.candidates[best].id)) best = i;
  }
  return best;
}

/** The pick over a subset of the prepared candidates (indices), without an explanation. */
export function pickIndex(task: PreparedTask, subset: readonly number[]): number {
  if (subset.length === 0) throw new RangeError('cannot select from no candidates');
  let pool = subset as number[];
  for (const step of task.pipeline) {
    if (pool.length === 1) return pool[0];
    const run = runStep(task, step, pool, false);
    if (run.unavailable === undefined && run.pool.length > 0) pool = run.pool;
  }
  return pool.length === 1 ? pool[0] : tieBreak(task, pool);
}

/** Runs the pipeline over a subset (default: every candidate) with its explanation. */
export function explainIndex(task: PreparedTask, subset?: readonly number[]): SelectionResult {
  let pool = subset ? [...subset] : task.candidates.map((_, i) => i);
  if (pool.length === 0) throw new RangeError('cannot select from no candidates');
  const survivors = [pool.length];
  const steps: StepOutcome[] = [];
  let decidedBy = pool.length === 1 ? 'OnlyCandidate' : '';
  let decidedAt = -1;
  task.pipeline.forEach((step, index) => {
    const before = pool.length;
    if (before === 1) {
      steps.push({ index, step, status: 'not-run', before, after: 1, note: 'one candidate left' });
    } else {
      const run = runStep(task, step, pool, true);
      if (run.unavailable !== undefined) {
        steps.push({ index, step, status: 'skipped-unavailable', before, after: before, note: `skipped: ${run.unavailable}` });
      } else if (run.pool.length === 0) {
        steps.push({ index, step, status: 'skipped-empty', before, after: before, note: `skipped: would leave no candidate (${run.note})` });
      } else {
        pool = run.pool;
        steps.push({ index, step, status: 'applied', before, after: pool.length, note: run.note });
        if (pool.length === 1) {
          decidedBy = step.type;
          decidedAt = index;
        }
      }
    }
    survivors.push(pool.length);
  });
  const remaining = pool.map((i) => task.candidates[i].id).sort();
  let picked = pool[0];
  if (pool.length > 1) {
    picked = tieBreak(task, pool);
    decidedBy = 'TieBreak';
  }
  return { selected: task.candidates[picked].id, decidedBy, decidedAt, survivors, steps, remaining };
}

/**
 * Selects one of a task's candidates. `selection` is the EvalSuite's spec.selection (pipeline
 * and seed); defaults: the paper's pipeline, seed 0. Throws on no candidates or duplicate ids.
 */
export function select(candidates: readonly SelectionCandidate[], selection: SelectionOptions | Selection = {}): SelectionResult {
  return explainIndex(prepare(candidates, selection));
}

/**
 * The candidates in the order the selector prefers them, best first. For a rankable pipeline
 * (no majority step) the pick over ANY subset is the subset's first member in this order: every
 * step keeps the maximum of a per-candidate key, skipping when that would empty the pool, which
 * is a lexicographic preference, and the tie-break is a fixed per-candidate key too.
 */
export function rankOrder(task: PreparedTask): number[] {
  const rest = task.candidates.map((_, i) => i);
  const order: number[] = [];
  while (rest.length > 0) {
    const pick = pickIndex(task, rest);
    order.push(pick);
    rest.splice(rest.indexOf(pick), 1);
  }
  return order;
}

/** The EvalSuite status entry for one task; `resolved` is graded after selection. */
export function toTaskSelection(task: string, result: SelectionResult, resolved?: boolean): TaskSelection {
  const out: TaskSelection = { task, selected: result.selected, decidedBy: result.decidedBy, survivors: result.survivors };
  if (resolved !== undefined) out.resolved = resolved;
  return out;
}

/** One line per step, for logs and `entropo` output. */
export function describeSelection(result: SelectionResult): string {
  const parts = result.steps.map((s) => `${s.index + 1}. ${s.step.type}: ${s.before} -> ${s.after} (${s.note})`);
  return [...parts, `picked ${result.selected} (decided by ${result.decidedBy})`].join('\n');
}
