/**
 * bench:learn, the numbers: one evaluation's metrics from its trajectories (selection through
 * operator/selection, the same code the EvalSuite runs), the mean and spread over seeds, and the
 * verdict on each of the paper's claims. Pure functions.
 */
import { NoVerifierSelection, PaperSelection, type SelectionStep } from '../../operator/api/common.ts';
import type { TrajectoryRecord } from '../../operator/api/records.ts';
import { meanPairwiseCosine } from '../../operator/selection/diversity.ts';
import { computeEvalMetrics, groupByTask } from '../../operator/selection/index.ts';
import type { TrajectoryStat } from './model-stats.ts';

/** The selection pipelines of the ablation (docs/method.md section 8), by name. */
export function ablationPipelines(withVerifier: boolean): Record<string, SelectionStep[]> {
  const full = withVerifier ? PaperSelection : NoVerifierSelection;
  const out: Record<string, SelectionStep[]> = { hybrid: full };
  const name = (s: SelectionStep) => s.type.replace('VerifierThreshold', 'Verifier');
  for (const s of full) out[`${name(s)} only`] = [s];
  for (const s of full) out[`without ${name(s)}`] = full.filter((x) => x !== s);
  out.random = []; // no step: the seeded tie-break alone, a uniformly random pick
  return out;
}

/** One evaluation (one EvalSuite) of one arm, seed and split. */
export interface EvalResult {
  job: string;
  arm: string;
  seed: number;
  split: 'train' | 'variants';
  /** The arm could not update (its trainer had no preference examples): these are the seed checkpoint's numbers. */
  noUpdate?: boolean;
  tasks: number;
  samples: number;
  /** k = 1..N: unbiased pass@k and best@k of the hybrid selector (exact over k-subsets). */
  passAtK: number[];
  bestAtK: number[];
  /** best@k per ablation pipeline, k = 1..N. */
  ablation: Record<string, number[]>;
  /** best@N the EvalSuite itself reported (status.metrics), to check the recomputation. */
  statusBestAtN?: number;
  distinctPatches: number;
  /** Mean over tasks of the mean pairwise cosine similarity of final hidden states (lower: more diverse). */
  diversity?: number;
  /** Mean policy token entropy and KL(pi || pi_ref) per assistant token (nats). */
  entropy?: number;
  kl?: number;
  finishedRate?: number;
  /** The tfjs backend the model statistics (entropy, KL, hidden states) were computed on. */
  backend?: string;
}

/**
 * The metrics of one evaluation from its trajectories, the verifier scores (by trajectory id) and
 * the per-trajectory model statistics.
 */
export function evaluate(
  meta: Pick<EvalResult, 'job' | 'arm' | 'seed' | 'split' | 'noUpdate' | 'statusBestAtN'>,
  trajectories: readonly TrajectoryRecord[],
  scores: ReadonlyMap<string, number>,
  stats: readonly TrajectoryStat[],
): EvalResult {
  const groups = groupByTask(trajectories);
  const withVerifier = scores.size > 0;
  const report = computeEvalMetrics(groups, { selection: { pipeline: withVerifier ? PaperSelection : NoVerifierSelection }, verifierScores: scores });
  const m = report.metrics;
  const ablation: Record<string, number[]> = {};
  for (const [name, pipeline] of Object.entries(ablationPipelines(withVerifier))) {
    ablation[name] = (computeEvalMetrics(groups, { selection: { pipeline }, verifierScores: scores }).metrics.bestAtK ?? []).map((x) => x.value);
  }
  const byTask = new Map<string, number[][]>();
  for (const s of stats) byTask.set(s.taskId, [...(byTask.get(s.taskId) ?? []), s.hidden]);
  const sims = [...byTask.values()].map((v) => meanPairwiseCosine(v)).filter((x): x is number => x !== undefined);
  const tokens = stats.reduce((a, s) => a + s.tokens, 0);
  const out: EvalResult = {
    ...meta,
    tasks: report.tasks.length,
    samples: report.samples,
    passAtK: (m.passAtK ?? []).map((x) => x.value),
    bestAtK: (m.bestAtK ?? []).map((x) => x.value),
    ablation,
    distinctPatches: m.distinctPatchesPerTask ?? 0,
    finishedRate: m.finishedRate,
  };
  if (sims.length) out.diversity = sims.reduce((a, b) => a + b, 0) / sims.length;
  if (tokens > 0) {
    out.entropy = stats.reduce((a, s) => a + s.entropySum, 0) / tokens;
    out.kl = stats.reduce((a, s) => a + s.klSum, 0) / tokens;
  }
  return out;
}

/** Mean, sample standard deviation and count. */
export interface Spread {
  mean: number;
  sd: number;
  n: number;
}

export function spread(xs: readonly number[]): Spread | undefined {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return undefined;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, sd, n: v.length };
}

/** The metrics reported per arm, at a given N (index N-1 of the curves). */
export const METRICS = ['pass@1', 'pass@N', 'best@N', 'oracle gap', 'entropy', 'KL', 'distinct patches', 'diversity'] as const;
export type MetricName = (typeof METRICS)[number];

export function metricAt(r: EvalResult, name: MetricName, n: number): number | undefined {
  const k = Math.min(n, r.passAtK.length) - 1;
  switch (name) {
    case 'pass@1':
      return r.passAtK[0];
    case 'pass@N':
      return r.passAtK[k];
    case 'best@N':
      return r.bestAtK[k];
    case 'oracle gap':
      return r.passAtK[k] - r.bestAtK[k];
    case 'entropy':
      return r.entropy;
    case 'KL':
      return r.kl;
    case 'distinct patches':
      return r.distinctPatches;
    case 'diversity':
      return r.diversity;
  }
}

/** Spread over seeds of a metric of one arm and split. */
export function armSpread(results: readonly EvalResult[], arm: string, split: EvalResult['split'], name: MetricName, n: number): Spread | undefined {
  return spread(results.filter((r) => r.arm === arm && r.split === split).map((r) => metricAt(r, name, n)).filter((x): x is number => x !== undefined));
}

export type Verdict = 'reproduced' | 'not reproduced' | 'inconclusive';

/**
 * The rule for a difference d (expected > 0 when the claim holds) measured once per seed:
 * reproduced when mean(d) - sd(d) > 0, not reproduced when mean(d) + sd(d) < 0 (the direction
 * is beyond one standard deviation of the seeds either way), inconclusive otherwise or with fewer
 * than 2 seeds (no spread to judge by).
 */
export function verdictOf(d: Spread | undefined): Verdict {
  if (!d || d.n < 2) return 'inconclusive';
  if (d.mean - d.sd > 0) return 'reproduced';
  if (d.mean + d.sd < 0) return 'not reproduced';
  return 'inconclusive';
}

/** Per-seed differences f(a, seed) - f(b, seed) over the seeds both have. */
export function pairedDiff(results: readonly EvalResult[], split: EvalResult['split'], a: string, b: string, f: (r: EvalResult) => number | undefined): Spread | undefined {
  const d: number[] = [];
  for (const ra of results.filter((r) => r.arm === a && r.split === split)) {
    const rb = results.find((r) => r.arm === b && r.split === split && r.seed === ra.seed);
    const x = f(ra);
    const y = rb ? f(rb) : undefined;
    if (x !== undefined && y !== undefined) d.push(x - y);
  }
  return spread(d);
}

export interface Claim {
  claim: string;
  /** What was measured, in words with numbers. */
  measured: string;
  verdict: Verdict;
}

const fmt = (s: Spread | undefined, digits = 3, unit = 'seeds') => (s ? `${s.mean >= 0 ? '+' : ''}${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)} (${s.n} ${unit})` : 'no data');

/** The verdict on each of the paper's claims (docs/method.md sections 2, 8, 9) at this scale. */
export function claims(results: readonly EvalResult[], n: number, sweep: { ratio: number; arm: string }[]): Claim[] {
  const out: Claim[] = [];
  const worst = (vs: Verdict[]): Verdict => (vs.includes('not reproduced') ? 'not reproduced' : vs.every((v) => v === 'reproduced') ? 'reproduced' : 'inconclusive');
  // 1. entropy regularisation keeps the policy more diverse
  for (const alg of ['KTO', 'DPO']) {
    const e = `entropo-${alg.toLowerCase()}`;
    const m = `m-${alg.toLowerCase()}`;
    const div = pairedDiff(results, 'train', m, e, (r) => r.diversity); // M - EntroPO: > 0 when EntroPO is more diverse
    const ent = pairedDiff(results, 'train', e, m, (r) => r.entropy);
    const vs = [verdictOf(div), verdictOf(ent)];
    out.push({
      claim: `EntroPO-${alg} keeps the policy more diverse than M-${alg} (lower hidden-state similarity, higher token entropy)`,
      measured: `similarity M-${alg} minus EntroPO-${alg}: ${fmt(div, 4)}; entropy EntroPO-${alg} minus M-${alg}: ${fmt(ent, 4)} nats/token`,
      verdict: worst(vs),
    });
  }
  // 2. EntroPO beats M-* and the advantage grows with N
  for (const alg of ['KTO', 'DPO']) {
    const e = `entropo-${alg.toLowerCase()}`;
    const m = `m-${alg.toLowerCase()}`;
    const at1 = pairedDiff(results, 'train', e, m, (r) => r.bestAtK[0]);
    const grow = pairedDiff(results, 'train', e, m, (r) => (r.bestAtK.length >= n ? r.bestAtK[n - 1] - r.bestAtK[0] : undefined));
    out.push({
      claim: `the advantage of EntroPO-${alg} over M-${alg} (best@N) grows from N = 1 to N = ${n}`,
      measured: `best@1 EntroPO minus M: ${fmt(at1)}; growth of that gap from N = 1 to ${n}: ${fmt(grow)}`,
      verdict: verdictOf(grow),
    });
  }
  // 3. the zeta/gamma sweep peaks near 1.1 (pass@1, no test-time scaling)
  const points = sweep.map((p) => ({ ...p, s: armSpread(results, p.arm, 'train', 'pass@1', 1) })).filter((p) => p.s);
  if (points.length >= 3) {
    const near = points.filter((p) => p.ratio >= 1.05 && p.ratio <= 1.2);
    const ends = points.filter((p) => p.ratio === Math.min(...points.map((q) => q.ratio)) || p.ratio === Math.max(...points.map((q) => q.ratio)));
    const best = [...points].sort((a, b) => b.s!.mean - a.s!.mean)[0];
    // per seed: the best near-1.1 point minus the better end point
    const seeds = [...new Set(results.map((r) => r.seed))];
    const d: number[] = [];
    for (const seed of seeds) {
      const v = (p: { arm: string }) => results.find((r) => r.arm === p.arm && r.split === 'train' && r.seed === seed)?.passAtK[0];
      const a = near.map(v).filter((x): x is number => x !== undefined);
      const b = ends.map(v).filter((x): x is number => x !== undefined);
      if (a.length === near.length && b.length === ends.length && a.length && b.length) d.push(Math.max(...a) - Math.max(...b));
    }
    const ds = spread(d);
    out.push({
      claim: 'the EntroPO-KTO zeta/gamma sweep peaks near 1.1 (pass@1 of 1.05-1.2 above both ends, 1.0 and 1.5)',
      measured: `pass@1 by ratio: ${points.map((p) => `${p.ratio}: ${p.s!.mean.toFixed(3)} ± ${p.s!.sd.toFixed(3)}`).join(', ')}; highest mean at ${best.ratio}; best of 1.05-1.2 minus best end, per seed: ${fmt(ds)}`,
      verdict: verdictOf(ds),
    });
  } else {
    out.push({ claim: 'the EntroPO-KTO zeta/gamma sweep peaks near 1.1', measured: `${points.length} sweep points measured`, verdict: 'inconclusive' });
  }
  // 4. hybrid selection beats each of its parts (pooled over arms and seeds, train split, best@N)
  const train = results.filter((r) => r.split === 'train' && !r.noUpdate);
  const names = Object.keys(train[0]?.ablation ?? {}).filter((k) => k !== 'hybrid');
  const parts: string[] = [];
  const verdicts: Verdict[] = [];
  for (const name of names) {
    const d = spread(train.map((r) => (r.ablation.hybrid?.[n - 1] ?? NaN) - (r.ablation[name]?.[n - 1] ?? NaN)));
    const v = verdictOf(d);
    if (name.endsWith(' only') || name === 'random') verdicts.push(v);
    parts.push(`vs ${name}: ${fmt(d, 3, 'evaluations')}`);
  }
  out.push({
    claim: `hybrid selection beats each of its steps alone and random (best@${n}, pooled over arms and seeds)`,
    measured: `hybrid minus each, over ${train.length} evaluations: ${parts.join('; ')}`,
    verdict: verdicts.length ? worst(verdicts) : 'inconclusive',
  });
  return out;
}
