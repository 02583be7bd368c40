import test from 'ava';
import fc from 'fast-check';
import { passAtK, binomial, bestAtKCurve, computeEvalMetrics, groupByTask, type GradedTrajectory } from '../../../operator/selection/metrics.ts';
import { prepare, select } from '../../../operator/selection/selector.ts';
import type { SelectionCandidate } from '../../../operator/selection/candidate.ts';
import type { SelectionStep } from '../../../operator/api/common.ts';
import { record } from './_fixtures.ts';

/** Every k-subset of 0..n-1. */
function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    const s = [...Array(n).keys()].filter((i) => mask & (1 << i));
    if (s.length === k) out.push(s);
  }
  return out;
}

const close = (a: number, b: number, eps = 1e-12) => Math.abs(a - b) <= eps;

test('pass@k equals the share of k-subsets holding a correct sample, for every n <= 10', (t) => {
  for (let n = 1; n <= 10; n++) {
    for (let c = 0; c <= n; c++) {
      for (let k = 1; k <= n; k++) {
        const all = subsets(n, k);
        const brute = all.filter((s) => s.some((i) => i < c)).length / all.length;
        t.true(close(passAtK(n, c, k), brute), `n=${n} c=${c} k=${k}: ${passAtK(n, c, k)} vs ${brute}`);
      }
    }
  }
});

test('pass@k is stable for large n and checks its arguments', (t) => {
  t.is(passAtK(1000, 0, 500), 0);
  t.is(passAtK(1000, 1000, 1), 1);
  t.true(close(passAtK(1000, 1, 250), 0.25));
  // 1 - C(n-c,k)/C(n,k) by log-gamma-free exact rational: n=1000, c=2, k=500 -> 1 - (500*499)/(1000*999)
  t.true(close(passAtK(1000, 2, 500), 1 - (500 * 499) / (1000 * 999)));
  const v = passAtK(5000, 17, 2500);
  t.true(v > 0.99999 && v <= 1);
  t.throws(() => passAtK(4, 5, 1));
  t.throws(() => passAtK(4, 1, 0));
  t.throws(() => passAtK(4, 1, 5));
  t.is(binomial(16, 8), 12870);
  t.is(binomial(5, 6), 0);
});

// ---- best@k -------------------------------------------------------------------------------------

const pipelines: SelectionStep[][] = [
  [{ type: 'Finished' }, { type: 'Regression', mode: 'AllPass' }, { type: 'VerifierThreshold', threshold: 0.01 }, { type: 'Steps', order: 'Most' }],
  [{ type: 'Regression', mode: 'MaxCount' }, { type: 'Reproduction' }, { type: 'Steps', order: 'Fewest' }],
  [{ type: 'VerifierArgmax' }],
  [{ type: 'Majority' }, { type: 'Steps', order: 'Most' }],
  [{ type: 'Finished' }, { type: 'Majority' }, { type: 'Random' }],
  [{ type: 'Random' }],
];

const arbTask = fc.array(
  fc.record({
    finished: fc.boolean(),
    steps: fc.integer({ min: 0, max: 4 }),
    failed: fc.integer({ min: 0, max: 2 }),
    passed: fc.integer({ min: 0, max: 2 }),
    score: fc.option(fc.constantFrom(0.001, 0.2, 0.9), { nil: undefined }),
    patch: fc.constantFrom('', '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n', '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+c\n'),
    resolved: fc.boolean(),
  }),
  { minLength: 1, maxLength: 8 },
);

function build(rows: { finished: boolean; steps: number; failed: number; passed: number; score?: number; patch: string; resolved: boolean }[]) {
  const candidates: SelectionCandidate[] = rows.map((r, i) => {
    const c: Record<string, unknown> = { id: `c${i}`, finished: r.finished, steps: r.steps, patch: r.patch, regression: { passed: r.passed, failed: r.failed } };
    if (r.score !== undefined) c.verifierScore = r.score;
    if (i % 3 === 0) c.reproduction = { passed: r.passed, total: 2 };
    return c as unknown as SelectionCandidate;
  });
  return { candidates, resolved: rows.map((r) => r.resolved) };
}

test('best@k (rank and exact methods) equals brute-force enumeration with select()', (t) => {
  fc.assert(
    fc.property(arbTask, fc.constantFrom(...pipelines), fc.integer(), (rows, pipeline, seed) => {
      const { candidates, resolved } = build(rows);
      const n = candidates.length;
      const curve = bestAtKCurve(prepare(candidates, { pipeline, seed }), resolved, n, { exactLimit: 1000 });
      t.is(curve.length, n);
      for (let k = 1; k <= n; k++) {
        const all = subsets(n, k);
        const hits = all.filter((s) => {
          const pick = select(s.map((i) => candidates[i]), { pipeline, seed }).selected;
          return resolved[candidates.findIndex((c) => c.id === pick)];
        }).length;
        const est = curve[k - 1];
        t.is(est.k, k);
        t.is(est.method, pipeline.some((s) => s.type === 'Majority') ? 'exact' : 'rank');
        t.is(est.subsets, all.length);
        t.true(close(est.value, hits / all.length, 1e-9), `k=${k}: ${est.value} vs ${hits}/${all.length}`);
      }
      // best@1 is the plain resolve rate, best@n the pick over everyone
      t.true(close(curve[0].value, resolved.filter(Boolean).length / n, 1e-9));
    }),
    { numRuns: 150 },
  );
});

test('best@k by rank stays exact and stable for large n', (t) => {
  const n = 600;
  const candidates: SelectionCandidate[] = Array.from({ length: n }, (_, i) => ({ id: `c${String(i).padStart(4, '0')}`, finished: true, steps: i, patch: '' }));
  const task = prepare(candidates, { pipeline: [{ type: 'Steps', order: 'Most' }] });
  // only the preferred candidate (most steps) resolves: it is picked iff it is among the k drawn
  const onlyBest = candidates.map((_, i) => i === n - 1);
  const curve = bestAtKCurve(task, onlyBest);
  for (const k of [1, 2, 37, 300, 599, 600]) t.true(close(curve[k - 1].value, k / n, 1e-9), `k=${k}: ${curve[k - 1].value}`);
  // every candidate resolves: best@k = 1 (the pick probabilities sum to one)
  const all = bestAtKCurve(task, candidates.map(() => true));
  t.true(all.every((e) => close(e.value, 1, 1e-9)));
  // only the least preferred resolves: it is picked only when drawn alone (k = 1)
  const onlyWorst = bestAtKCurve(task, candidates.map((_, i) => i === 0));
  t.true(close(onlyWorst[0].value, 1 / n, 1e-12));
  t.is(onlyWorst[1].value, 0);
});

test('best@k falls back to seeded sampling with the subset count stated, close to exact', (t) => {
  const rows = Array.from({ length: 12 }, (_, i) => ({
    finished: i % 4 !== 0,
    steps: i % 5,
    failed: 0,
    passed: 1,
    patch: i % 3 === 0 ? '' : `--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+${i % 2}\n`,
    resolved: i % 2 === 0,
  }));
  const { candidates, resolved } = build(rows);
  const task = prepare(candidates, { pipeline: [{ type: 'Majority' }, { type: 'Steps', order: 'Fewest' }] });
  const exact = bestAtKCurve(task, resolved, 12, { exactLimit: 10_000 });
  const sampled = bestAtKCurve(task, resolved, 12, { exactLimit: 100, samples: 3000, seed: 7 });
  const again = bestAtKCurve(task, resolved, 12, { exactLimit: 100, samples: 3000, seed: 7 });
  t.deepEqual(sampled, again, 'same seed, same estimate');
  for (let k = 1; k <= 12; k++) {
    const s = sampled[k - 1];
    if (binomial(12, k) <= 100) {
      t.is(s.method, 'exact');
      t.is(s.value, exact[k - 1].value);
    } else {
      t.is(s.method, 'sampled');
      t.is(s.subsets, 3000);
      t.true(Math.abs(s.value - exact[k - 1].value) < 0.05, `k=${k}: sampled ${s.value} vs exact ${exact[k - 1].value}`);
    }
  }
});

// ---- the EvalMetrics object ---------------------------------------------------------------------

const traj = (task: string, i: number, over: Partial<GradedTrajectory> & { resolved: boolean }) =>
  record({ id: `${task}/${i}/e`, taskId: task, sample: i, verifierScore: undefined, reproduction: undefined, regression: { passed: ['p'], failed: [] }, ...over });

test('computeEvalMetrics on a hand-built evaluation', (t) => {
  const p = (s: string) => `--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+${s}\n`;
  const trajectories = [
    // task A: 4 samples, 1 resolved; the pick (most steps among finished, passing) is the resolved one
    traj('A', 0, { resolved: false, finished: false, steps: 50, exitReason: 'max_steps', patch: p('1') }),
    traj('A', 1, { resolved: true, steps: 20, patch: p('2') }),
    traj('A', 2, { resolved: false, steps: 10, patch: p('2 ') }),
    traj('A', 3, { resolved: false, steps: 30, patch: p('3'), regression: { passed: [], failed: ['p'] } }),
    // task B: 4 samples, 2 resolved, but the selector picks an unresolved one (most steps)
    traj('B', 0, { resolved: true, steps: 5, patch: p('a') }),
    traj('B', 1, { resolved: true, steps: 6, patch: p('a') }),
    traj('B', 2, { resolved: false, steps: 9, patch: p('b') }),
    traj('B', 3, { resolved: false, steps: 1, patch: '' }),
    // task C: none resolved; one sample lost to infrastructure (not a sample)
    traj('C', 0, { resolved: false, steps: 4, patch: '' }),
    traj('C', 1, { resolved: false, steps: 8, patch: '' }),
    traj('C', 2, { resolved: false, steps: 2, patch: p('c') }),
    traj('C', 3, { resolved: false, steps: 0, patch: '', exitReason: 'sandbox_error', finished: false }),
  ];
  const report = computeEvalMetrics(groupByTask(trajectories));
  const m = report.metrics;
  t.is(report.samples, 11);
  t.true(close(m.pass1!, (1 / 4 + 2 / 4 + 0) / 3));
  t.true(close(m.passAtN!, 2 / 3));
  t.true(close(m.bestAtN!, 1 / 3));
  t.true(close(m.oracleGap!, 1 / 3));
  t.true(close(m.selectionAccuracy!, 1 / 2));
  t.true(close(m.finishedRate!, 10 / 11));
  t.true(close(m.meanSteps!, (50 + 20 + 10 + 30 + 5 + 6 + 9 + 1 + 4 + 8 + 2) / 11));
  // distinct patches: A {1, 2, 3} (trailing blank ignored) = 3, B {a, b, ""} = 3, C {"", c} = 2
  t.true(close(m.distinctPatchesPerTask!, 8 / 3));
  t.deepEqual(report.selections, [
    { task: 'A', selected: 'A/1/e', decidedBy: 'Steps', survivors: [4, 3, 2, 2, 1], resolved: true },
    { task: 'B', selected: 'B/2/e', decidedBy: 'Steps', survivors: [4, 4, 4, 4, 1], resolved: false },
    { task: 'C', selected: 'C/1/e', decidedBy: 'Steps', survivors: [3, 3, 3, 3, 1], resolved: false },
  ]);
  // pass@k: A n=4 c=1, B n=4 c=2, C n=3 c=0 (capped at 3 for k=4)
  t.deepEqual(m.passAtK!.map((x) => x.k), [1, 2, 3, 4]);
  for (const { k, value } of m.passAtK!) t.true(close(value, (passAtK(4, 1, k) + passAtK(4, 2, k) + 0) / 3));
  t.true(close(m.passAtK![3].value, m.passAtN!));
  t.true(close(m.bestAtK![0].value, m.pass1!), 'best@1 is pass@1');
  t.true(close(m.bestAtK![3].value, m.bestAtN!), 'best@N is the pick over everyone');
  t.deepEqual(report.perK.map((x) => x.cappedTasks), [0, 0, 0, 1]);
  t.true(report.perK.every((x) => x.method === 'rank'));
  // verifier scores by id: send B's resolved ones through the threshold and drop B/2 below it
  const scores = new Map([['B/2/e', 0.001], ['B/0/e', 0.5], ['B/1/e', 0.6], ['B/3/e', 0.002]]);
  const scored = computeEvalMetrics(groupByTask(trajectories), { verifierScores: scores });
  t.is(scored.selections[1].selected, 'B/1/e');
  t.true(close(scored.metrics.bestAtN!, 2 / 3));
  t.true(close(scored.metrics.selectionAccuracy!, 1));
  t.deepEqual(computeEvalMetrics([]).metrics, {});
});

test('property: grades never influence the picks (grading is applied after selection)', (t) => {
  fc.assert(
    fc.property(arbTask, fc.constantFrom(...pipelines), (rows, pipeline) => {
      const records = rows.map((r, i) =>
        record({
          id: `T/${i}`,
          taskId: 'T',
          finished: r.finished,
          steps: r.steps,
          patch: r.patch,
          verifierScore: r.score,
          regression: { passed: Array(r.passed).fill('p'), failed: Array(r.failed).fill('f') },
          resolved: r.resolved,
          reward: r.resolved ? 1 : 0,
          hidden: r.resolved ? { passed: ['h'], failed: [] } : { passed: [], failed: ['h'] },
        }),
      );
      const flipped = records.map((r) => ({ ...r, resolved: !r.resolved, reward: 1 - r.reward, hidden: { passed: r.hidden.failed, failed: r.hidden.passed } }));
      const a = computeEvalMetrics(groupByTask(records), { selection: { pipeline } });
      const b = computeEvalMetrics(groupByTask(flipped), { selection: { pipeline } });
      t.is(a.selections[0].selected, b.selections[0].selected);
      t.is(a.selections[0].resolved, !b.selections[0].resolved);
    }),
    { numRuns: 150 },
  );
});

test('trajectories grouped under the wrong task are refused', (t) => {
  t.throws(() => computeEvalMetrics([['A', [traj('B', 0, { resolved: true })]]]), { message: /grouped under A/ });
});
