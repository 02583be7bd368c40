/**
 * bench:learn, the report: a markdown page with the tables (mean ± sd over seeds per arm), the
 * verdict per claim, and plots rendered to SVG by Vega-Lite (compiled to Vega, rendered headless
 * by vega's View.toSVG: a charting library, no hand-drawn SVG).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { armSpread, METRICS, spread, type Claim, type EvalResult, type MetricName, type Spread } from './analysis.ts';
import type { Arm, Budget } from './plan.ts';

export interface ReportInput {
  budget: Budget;
  arms: Arm[];
  results: EvalResult[];
  claims: Claim[];
  /** The command(s) that ran the jobs (and the one that wrote the report, if it only reported), as markdown. */
  command: string;
  machine: string;
  /** Which checkpoint builtin:tiny-coder was (hash, build time). */
  policy: string;
  /** Wall seconds spent in this benchmark's runs, summed over resumes, and per job. */
  wallSeconds: number;
  /** The part of wallSeconds spent in the analyses (model statistics of each evaluation). */
  analysisSeconds: number;
  jobSeconds: Record<string, number>;
  /** Jobs done / planned, and failures (name: message). */
  jobsDone: number;
  jobsTotal: number;
  failures: Record<string, string>;
  /** Sweep points: ratio -> arm id. */
  sweep: { ratio: number; arm: string }[];
  /** Trainer summaries per arm (loss, entropy, KL during training, the tfjs backend it ran on), by job name. */
  training: Record<string, TrainingSummary>;
  generatedAt: string;
}

/** A trainer's summary as the report shows it (status.history[].training of the arm's TrainingRun). */
export interface TrainingSummary {
  loss?: number;
  z0?: number;
  entropy?: number;
  klToReference?: number;
  examples?: number;
  rolloutResolveRate?: number;
  /** The tfjs backend the update ran on (tfjs-node-gpu, tfjs-node, wasm, cpu). */
  backend?: string;
}

/**
 * The tfjs backends the run actually used, for the machine line: the trainers' (from their
 * summaries) and the analyses' (EvalResult.backend), e.g. "tfjs wasm (trainer and analyses)",
 * "tfjs: trainer tfjs-node, analyses wasm", or "tfjs backend not recorded" when nothing says.
 */
export function backendsText(training: Record<string, Pick<TrainingSummary, 'backend'>>, results: readonly Pick<EvalResult, 'backend'>[]): string {
  const uniq = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => typeof x === 'string' && x.length > 0))].sort();
  const trainer = uniq(Object.values(training).map((x) => x.backend));
  const analyses = uniq(results.map((x) => x.backend));
  if (!trainer.length && !analyses.length) return 'tfjs backend not recorded';
  if (trainer.join() === analyses.join()) return `tfjs ${trainer.join(' + ')} (trainer and analyses)`;
  return `tfjs: trainer ${trainer.join(' + ') || 'not recorded'}, analyses ${analyses.join(' + ') || 'not recorded'}`;
}

/**
 * An error bar's ends, mean ± sd, clipped to `bounds` (a rate's [0, 1]): the spread of a rate
 * near 0 or 1 must not draw values it cannot take.
 */
export function errorBar(mean: number, sd: number, bounds?: readonly [number, number]): { lo: number; hi: number } {
  const [min, max] = bounds ?? [-Infinity, Infinity];
  return { lo: Math.min(max, Math.max(min, mean - sd)), hi: Math.max(min, Math.min(max, mean + sd)) };
}

/** Bounds of a rate (pass@k, best@k, resolve rate). */
export const RATE: readonly [number, number] = [0, 1];

const f = (s: Spread | undefined, d = 3) => (s ? `${s.mean.toFixed(d)} ± ${s.sd.toFixed(d)}` : '-');

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

/** mean ± sd points with error bars (clipped to `bounds`), one line per series. */
export function linesWithErrors(rows: { x: number; series: string; mean: number; sd: number; panel?: string }[], x: string, y: string, title: string, logX = false, bounds?: readonly [number, number]): TopLevelSpec {
  const data = rows.map((r) => ({ ...r, ...errorBar(r.mean, r.sd, bounds) }));
  const xEnc = { field: 'x', type: 'quantitative' as const, title: x, scale: logX ? { type: 'log' as const, base: 2 } : { zero: false }, axis: logX ? { values: [...new Set(rows.map((r) => r.x))] } : {} };
  const layer = {
    layer: [
      { mark: { type: 'line' as const, point: true }, encoding: { x: xEnc, y: { field: 'mean', type: 'quantitative' as const, title: y }, color: { field: 'series', type: 'nominal' as const, title: null } } },
      { mark: { type: 'errorbar' as const, ticks: true }, encoding: { x: xEnc, y: { field: 'lo', type: 'quantitative' as const, title: y }, y2: { field: 'hi' }, color: { field: 'series', type: 'nominal' as const } } },
    ],
  };
  if (rows.some((r) => r.panel)) {
    return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, data: { values: data }, facet: { column: { field: 'panel', type: 'nominal', title: null } }, spec: { width: 260, height: 200, ...layer } } as TopLevelSpec;
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, data: { values: data }, width: 360, height: 220, ...layer } as TopLevelSpec;
}

/** Bars of mean with ± sd error bars (clipped to `bounds`), one panel per metric (independent y scales). */
export function barsWithErrors(rows: { bar: string; panel: string; mean: number; sd: number }[], title: string, horizontal = false, dots = false, bounds?: readonly [number, number]): TopLevelSpec {
  const data = rows.map((r) => ({ ...r, ...errorBar(r.mean, r.sd, bounds) }));
  const cat = { field: 'bar', type: 'nominal' as const, title: null, sort: null };
  // dots: values far from 0 (similarities near 1) read better on a scale that does not start at 0
  const val = (field: string) => ({ field, type: 'quantitative' as const, title: null, ...(dots ? { scale: { zero: false } } : {}) });
  const enc = (field: string) => (horizontal ? { y: cat, x: val(field) } : { x: cat, y: val(field) });
  const spec = {
    layer: [
      { mark: dots ? { type: 'point' as const, filled: true, size: 60 } : ('bar' as const), encoding: { ...enc('mean'), color: { field: 'bar', type: 'nominal' as const, legend: null } } },
      { mark: { type: 'errorbar' as const, ticks: true }, encoding: horizontal ? { y: cat, x: val('lo'), x2: { field: 'hi' } } : { x: cat, y: val('lo'), y2: { field: 'hi' } } },
    ],
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: data },
    facet: { column: { field: 'panel', type: 'nominal', title: null } },
    spec: { width: horizontal ? 220 : 150, height: horizontal ? 260 : 180, ...spec },
    resolve: { scale: { y: horizontal ? 'shared' : 'independent', x: horizontal ? 'independent' : 'shared' } },
  } as TopLevelSpec;
}

/** Writes <out>/results.md and its plots; returns the markdown. */
export async function writeReport(r: ReportInput, out: string): Promise<string> {
  mkdirSync(out, { recursive: true });
  const b = r.budget;
  const N = b.evalN;
  const main = r.arms.filter((a) => !a.sweepOnly);
  const splits = (['train', 'variants'] as const).filter((s) => r.results.some((x) => x.split === s));
  const plots: { file: string; title: string; spec: TopLevelSpec }[] = [];
  const curve = (name: 'best@N' | 'pass@N') =>
    splits.flatMap((split) =>
      main.flatMap((a) =>
        b.ns.flatMap((n) => {
          const s = armSpread(r.results, a.id, split, name, n);
          return s ? [{ x: n, series: a.label, mean: s.mean, sd: s.sd, panel: split === 'train' ? 'train split' : 'train-variant split' }] : [];
        }),
      ),
    );
  plots.push({ file: 'best-at-n.svg', title: 'best@N (hybrid selection) by N', spec: linesWithErrors(curve('best@N'), 'N (samples per task)', 'best@N', 'best@N, hybrid selection (mean ± sd over seeds, clipped to [0, 1])', true, RATE) });
  plots.push({ file: 'pass-at-n.svg', title: 'pass@N by N', spec: linesWithErrors(curve('pass@N'), 'N (samples per task)', 'pass@N', 'pass@N, unbiased (mean ± sd over seeds, clipped to [0, 1])', true, RATE) });
  const divRows = (['diversity', 'entropy', 'KL', 'distinct patches'] as MetricName[]).flatMap((m) =>
    main.flatMap((a) => {
      const s = armSpread(r.results, a.id, 'train', m, N);
      const panel = m === 'diversity' ? 'hidden-state similarity (lower: more diverse)' : m === 'entropy' ? 'token entropy (nats)' : m === 'KL' ? 'KL to reference (nats/token)' : `distinct patches per task (N = ${N})`;
      return s ? [{ bar: a.label, panel, mean: s.mean, sd: s.sd }] : [];
    }),
  );
  plots.push({ file: 'diversity.svg', title: 'Diversity, entropy, KL, distinct patches (train split)', spec: barsWithErrors(divRows, 'Diversity of the policy (train split, mean ± sd over seeds)', false, true) });
  const sweepRows = r.sweep.flatMap((p) => {
    const s = armSpread(r.results, p.arm, 'train', 'pass@1', 1);
    return s ? [{ x: p.ratio, series: 'EntroPO-KTO', mean: s.mean, sd: s.sd }] : [];
  });
  plots.push({ file: 'sweep.svg', title: 'zeta/gamma sweep (EntroPO-KTO, pass@1)', spec: linesWithErrors(sweepRows, 'zeta / gamma', 'pass@1', 'EntroPO-KTO zeta/gamma sweep, pass@1 on the train split (mean ± sd over seeds, clipped to [0, 1])', false, RATE) });
  const pooled = r.results.filter((x) => x.split === 'train' && !x.noUpdate);
  const names = Object.keys(pooled[0]?.ablation ?? {});
  const ablation = names.map((name) => ({ name, s: spread(pooled.map((x) => x.ablation[name]?.[N - 1] ?? NaN)) }));
  plots.push({
    file: 'selection-ablation.svg',
    title: `Selection ablation (best@${N})`,
    spec: barsWithErrors(ablation.filter((x) => x.s).map((x) => ({ bar: x.name, panel: `best@${N}, train split`, mean: x.s!.mean, sd: x.s!.sd })), `Selection ablation: best@${N} pooled over arms and seeds (mean ± sd over ${pooled.length} evaluations, clipped to [0, 1])`, true, false, RATE),
  });
  for (const p of plots) writeFileSync(path.join(out, p.file), await svg(p.spec));

  const L: string[] = [];
  L.push(`# The learning benchmark (${b.name === 'quick' ? '`--quick`' : 'full'})`, '');
  L.push('Generated by `npm run bench:learn` (bench/learn.ts); do not edit by hand. What it is and how to read it: [docs/learning-benchmark.md](' + (b.name === 'quick' ? '../../' : '../') + 'learning-benchmark.md).', '');
  L.push(`- command: ${r.command}`);
  L.push(`- machine: ${r.machine}; ${backendsText(r.training, r.results)}`);
  L.push(`- seed checkpoint: \`builtin:tiny-coder\` (${r.policy})`);
  L.push(`- wall time: ${(r.wallSeconds / 60).toFixed(1)} min of job time (the jobs ${((r.wallSeconds - r.analysisSeconds) / 60).toFixed(1)} min and the analyses ${(r.analysisSeconds / 60).toFixed(1)} min, summed over resumed runs and over processes that shared the store); jobs done: ${r.jobsDone} of ${r.jobsTotal}${r.jobsDone < r.jobsTotal ? ' (**incomplete**: the tables hold what is done)' : ''}`);
  L.push(`- seeds: ${b.seeds.join(', ')} (sampling seed of the rollouts and evaluations, and the trainer's seed); sweep points beyond the arms: seeds ${b.sweepSeeds.join(', ')}`);
  L.push(`- budget: policy \`builtin:tiny-coder\`; ${b.trainTasks.length} train task(s) (${b.trainTasks.join(', ')}); ${b.variantTasks.length} variant task(s); ${b.iterations} iteration(s) of ${b.rolloutSamples} rollouts per task -> LoRA update (lr ${b.learningRate}, batch ${b.batchSize}, ${b.epochs} epoch(s)); gamma ${b.gamma}, EntroPO zeta/gamma ${b.entropoRatio}; evaluation N = ${N} per task (smaller N: unbiased estimates from the same ${N}), verifier \`builtin:tiny-verifier\`; limits ${b.maxSteps} steps, ${b.maxTokens} tokens`);
  L.push(`- generated: ${r.generatedAt}`, '');
  if (Object.keys(r.failures).length) {
    L.push('Failed or degraded jobs:', '');
    for (const [k, v] of Object.entries(r.failures)) L.push(`- \`${k}\`: ${v}`);
    L.push('');
  }
  L.push('## Claims', '');
  L.push('Verdict rule: for each claim a difference is measured once per seed (paired by seed); **reproduced** when its mean minus one standard deviation over the seeds is above 0, **not reproduced** when its mean plus one standard deviation is below 0, **inconclusive** otherwise or with fewer than 2 seeds. The spread decides, not the mean alone.', '');
  L.push('| claim (paper) | measured here | verdict at this scale |', '|---|---|---|');
  for (const c of r.claims) L.push(`| ${c.claim} | ${c.measured} | **${c.verdict}** |`);
  L.push('');
  for (const split of splits) {
    L.push(`## Per arm, ${split === 'train' ? 'train split' : 'train-variant split'} (mean ± sd over seeds)`, '');
    L.push(`| arm | seeds | ${b.ns.map((n) => `pass@${n}`).join(' | ')} | ${b.ns.map((n) => `best@${n}`).join(' | ')} | oracle gap @${N} | token entropy | KL to ref | distinct patches / task | hidden-state similarity |`);
    L.push(`|---|---:|${b.ns.map(() => '---:').join('|')}|${b.ns.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`);
    for (const a of r.arms) {
      const seeds = r.results.filter((x) => x.arm === a.id && x.split === split).length;
      if (!seeds) continue;
      const m = (name: MetricName, n = N, d = 3) => f(armSpread(r.results, a.id, split, name, n), d);
      L.push(`| ${a.label} | ${seeds} | ${b.ns.map((n) => m('pass@N', n)).join(' | ')} | ${b.ns.map((n) => m('best@N', n)).join(' | ')} | ${m('oracle gap')} | ${m('entropy', N, 4)} | ${m('KL', N, 4)} | ${m('distinct patches', N, 2)} | ${m('diversity', N, 4)} |`);
    }
    L.push('');
  }
  L.push(`![best@N](best-at-n.svg)`, '', `![pass@N](pass-at-n.svg)`, '', `![diversity](diversity.svg)`, '');
  L.push('## zeta/gamma sweep (EntroPO-KTO, train split)', '');
  L.push('| zeta/gamma | zeta | seeds | pass@1 | best@' + N + ' | token entropy | hidden-state similarity |', '|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of r.sweep) {
    const seeds = r.results.filter((x) => x.arm === p.arm && x.split === 'train').length;
    L.push(`| ${p.ratio} | ${(b.gamma * p.ratio).toFixed(3)} | ${seeds} | ${f(armSpread(r.results, p.arm, 'train', 'pass@1', 1))} | ${f(armSpread(r.results, p.arm, 'train', 'best@N', N))} | ${f(armSpread(r.results, p.arm, 'train', 'entropy', N), 4)} | ${f(armSpread(r.results, p.arm, 'train', 'diversity', N), 4)} |`);
  }
  L.push('', '![sweep](sweep.svg)', '');
  L.push(`## Selection ablation (best@${N}, train split, pooled over ${pooled.length} evaluations of every arm and seed)`, '');
  L.push('Each pipeline re-selects among the same trajectories with operator/selection (a step that would leave no candidate is skipped); "random" has no step (the seeded tie-break alone).', '');
  L.push('| pipeline | best@' + N + ' | minus hybrid |', '|---|---:|---:|');
  const hybrid = ablation.find((x) => x.name === 'hybrid')?.s;
  for (const x of ablation) L.push(`| ${x.name} | ${f(x.s)} | ${x.s && hybrid ? (x.s.mean - hybrid.mean).toFixed(3) : '-'} |`);
  L.push('', '![selection ablation](selection-ablation.svg)', '');
  L.push('## Training (per TrainingRun)', '');
  L.push('| run | rollout resolve rate | examples | loss (last step) | z0 | entropy (trainer) | KL to ref (trainer) | wall s |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  const n3 = (x?: number, d = 3) => (x === undefined ? '-' : x.toFixed(d));
  for (const [job, t] of Object.entries(r.training)) L.push(`| ${job} | ${n3(t.rolloutResolveRate)} | ${t.examples ?? '-'} | ${n3(t.loss)} | ${n3(t.z0)} | ${n3(t.entropy, 4)} | ${n3(t.klToReference, 4)} | ${n3(r.jobSeconds[job], 0)} |`);
  L.push('');
  L.push('## Cost per job (wall seconds on this machine)', '');
  const byArm = new Map<string, number[]>();
  for (const [job, s] of Object.entries(r.jobSeconds)) {
    const arm = job.replace(/^learn-/, '').replace(/-s\d+(-.*)?$/, '');
    byArm.set(arm, [...(byArm.get(arm) ?? []), s]);
  }
  L.push('| arm | jobs timed | mean s per job | total s |', '|---|---:|---:|---:|');
  for (const [arm, xs] of byArm) L.push(`| ${arm} | ${xs.length} | ${(xs.reduce((a, v) => a + v, 0) / xs.length).toFixed(0)} | ${xs.reduce((a, v) => a + v, 0).toFixed(0)} |`);
  L.push('');
  const md = L.join('\n');
  writeFileSync(path.join(out, 'results.md'), md);
  return md;
}

export { METRICS };
