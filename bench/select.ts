/**
 * Selection benchmark: hybrid selection over 2,000 tasks x 16 candidates, with and without
 * verifier scores, and the EvalMetrics computation. Prints a markdown table.
 *   npm run bench:select [-- --tasks 2000 --n 16 --repeats 5]
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { PaperSelection, type SelectionStep } from '../operator/api/common.ts';
import { toCandidate } from '../operator/selection/candidate.ts';
import { select } from '../operator/selection/selector.ts';
import { computeEvalMetrics, groupByTask, type GradedTrajectory } from '../operator/selection/metrics.ts';
import { mulberry32 } from '../operator/selection/hash.ts';

const { values } = parseArgs({
  options: { tasks: { type: 'string', default: '2000' }, n: { type: 'string', default: '16' }, repeats: { type: 'string', default: '5' } },
});
const TASKS = Number(values.tasks);
const N = Number(values.n);
const REPEATS = Number(values.repeats);

// ---- synthetic evaluation: realistic field distributions, patches of a few hundred bytes ----
const rng = mulberry32(42);
const trajectories: GradedTrajectory[] = [];
const scores = new Map<string, number>();
for (let t = 0; t < TASKS; t++) {
  const task = `repo__pkg-${t}`;
  const difficulty = rng();
  const variants = 1 + Math.floor(rng() * 5);
  for (let s = 0; s < N; s++) {
    const id = `${task}/${s}/eval-bench`;
    const resolved = rng() > difficulty;
    const finished = rng() < 0.85;
    const v = Math.floor(rng() * variants);
    const patch = [
      `diff --git a/pkg/mod${t % 50}.py b/pkg/mod${t % 50}.py`,
      `index 1a2b3c4..5d6e7f8 100644`,
      `--- a/pkg/mod${t % 50}.py`,
      `+++ b/pkg/mod${t % 50}.py`,
      `@@ -${10 + v},6 +${10 + v},6 @@ def handler(request):`,
      '     value = request.get("value")',
      '     if value is None:',
      '         return default',
      `-    return compute(value)`,
      `+    return compute(value, variant=${v})`,
      '     # trailing context',
      '     log.debug("done")',
      '',
    ].join('\n');
    const failed = resolved ? (rng() < 0.1 ? 1 : 0) : Math.floor(rng() * 3);
    trajectories.push({
      id,
      taskId: task,
      finished,
      steps: 5 + Math.floor(rng() * 60),
      patch: rng() < 0.05 ? '' : patch,
      regression: { passed: Array.from({ length: 20 - failed }, (_, i) => `t${i}`), failed: Array.from({ length: failed }, (_, i) => `f${i}`) },
      reproduction: rng() < 0.5 ? { passed: Math.floor(rng() * 4), total: 3 + Math.floor(rng() * 2) } : undefined,
      resolved,
      exitReason: finished ? 'finished' : 'max_steps',
    });
    scores.set(id, Math.min(1, Math.max(0, (resolved ? 0.6 : 0.3) + (rng() - 0.5) * 0.8)));
  }
}
const groups = groupByTask(trajectories);
const scoredTrajectories = trajectories.map((t) => ({ ...t, verifierScore: scores.get(t.id) }));
const scoredGroups = groupByTask(scoredTrajectories);

/** A row: the function is timed later, interleaved with the other rows (less drift from load and JIT). */
function time(fn: () => unknown): { fn: () => unknown; ms: number; result: unknown; runs: number[] } {
  return { fn, ms: Number.NaN, result: undefined, runs: [] };
}

let sink = 0;
const baseline = time(() => {
  let steps = 0;
  for (const g of groups.values()) for (const t of g) steps += t.steps;
  sink += steps;
  return steps;
});

function selectAll(source: Map<string, GradedTrajectory[]>, pipeline: SelectionStep[]) {
  let resolved = 0;
  for (const g of source.values()) {
    const r = select(g.map((t) => toCandidate(t)), { pipeline, seed: 0 });
    if (g.find((t) => t.id === r.selected)!.resolved) resolved++;
  }
  return resolved / source.size;
}

const majority: SelectionStep[] = [{ type: 'Finished' }, { type: 'Regression', mode: 'MaxCount' }, { type: 'Reproduction' }, { type: 'Majority' }, { type: 'Steps', order: 'Most' }];
const rows: [string, ReturnType<typeof time>][] = [
  ['single pass over the data (sum of step counts)', baseline],
  ['building the selector inputs only (toCandidate for every trajectory)', time(() => {
    let n = 0;
    for (const g of groups.values()) n += g.map((t) => toCandidate(t)).length;
    return n;
  })],
  ['selection, paper pipeline, no verifier scores (step skipped)', time(() => selectAll(groups, PaperSelection))],
  ['selection, paper pipeline, verifier scores precomputed', time(() => selectAll(scoredGroups, PaperSelection))],
  ['selection, finished/regression max/reproduction/majority/steps', time(() => selectAll(groups, majority))],
  ['EvalMetrics, paper pipeline + scores (best@k exact, k = 1..16)', time(() => computeEvalMetrics(scoredGroups).metrics.bestAtN)],
  ['EvalMetrics, majority pipeline (best@k: exact <= 256 subsets, else 256 sampled)', time(() => computeEvalMetrics(groups, { selection: { pipeline: majority } }).metrics.bestAtN)],
];

for (const [, r] of rows) r.result = r.fn(); // warm-up
for (let rep = 0; rep < REPEATS; rep++) {
  for (const [, r] of rows) {
    const t0 = performance.now();
    r.result = r.fn();
    r.runs.push(performance.now() - t0);
  }
}
for (const [, r] of rows) r.ms = [...r.runs].sort((a, b) => a - b)[Math.floor(r.runs.length / 2)];

console.log(`\nSelection benchmark: ${TASKS} tasks x ${N} candidates (${TASKS * N} trajectories), median of ${REPEATS} interleaved runs after a warm-up, Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()[0].toFixed(1)}\n`);
console.log('| operation | ms | ratio to single pass | ms per task | best@N |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, r] of rows) {
  const best = typeof r.result === 'number' && r.result <= 1 && r !== baseline ? r.result.toFixed(3) : '';
  console.log(`| ${name} | ${r.ms.toFixed(2)} | ${(r.ms / baseline.ms).toFixed(0)}x | ${(r.ms / TASKS).toFixed(4)} | ${best} |`);
}
if (sink < 0) console.log(sink);
