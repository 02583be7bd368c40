/**
 * bench:learn's numbers (bench/learn/analysis.ts): the spread over seeds, the verdict rule, the
 * paired differences, the ablation pipelines and one evaluation from graded trajectories.
 */
import test from 'ava';
import type { TrajectoryRecord } from '../../../operator/api/records.ts';
import { ablationPipelines, claims, evaluate, pairedDiff, spread, verdictOf, type EvalResult } from '../../../bench/learn/analysis.ts';
import { arms, budget, jobs, ratioTag, sweepArm } from '../../../bench/learn/plan.ts';

test('spread: mean and sample sd; non-finite values left out; nothing gives undefined', (t) => {
  t.deepEqual(spread([1, 2, 3]), { mean: 2, sd: 1, n: 3 });
  t.deepEqual(spread([5, Number.NaN]), { mean: 5, sd: 0, n: 1 });
  t.is(spread([]), undefined);
});

test('verdict: the direction must hold beyond one sd over at least 2 seeds', (t) => {
  t.is(verdictOf({ mean: 0.2, sd: 0.1, n: 3 }), 'reproduced');
  t.is(verdictOf({ mean: -0.2, sd: 0.1, n: 3 }), 'not reproduced');
  t.is(verdictOf({ mean: 0.05, sd: 0.1, n: 3 }), 'inconclusive');
  t.is(verdictOf({ mean: 0.5, sd: 0, n: 1 }), 'inconclusive', 'one seed: no spread to judge by');
  t.is(verdictOf(undefined), 'inconclusive');
});

const result = (arm: string, seed: number, over: Partial<EvalResult> = {}): EvalResult => ({
  job: `learn-${arm}-s${seed}`,
  arm,
  seed,
  split: 'train',
  tasks: 1,
  samples: 4,
  passAtK: [0.25, 0.5],
  bestAtK: [0.25, 0.5],
  ablation: { hybrid: [0.25, 0.5], 'Finished only': [0.25, 0.25], random: [0.25, 0.25] },
  distinctPatches: 2,
  ...over,
});

test('paired differences are taken per seed, over the seeds both arms have', (t) => {
  const rs = [result('a', 1, { diversity: 0.9 }), result('a', 2, { diversity: 0.8 }), result('b', 1, { diversity: 0.7 }), result('b', 3, { diversity: 0.1 })];
  const d = pairedDiff(rs, 'train', 'a', 'b', (r) => r.diversity)!;
  t.is(d.n, 1);
  t.true(Math.abs(d.mean - 0.2) < 1e-12);
});

test('claims: a clear per-seed diversity advantage of EntroPO is reproduced; the opposite is not', (t) => {
  const rs: EvalResult[] = [];
  for (const seed of [1, 2, 3]) {
    rs.push(result('m-kto', seed, { diversity: 0.95, entropy: 0.3 }), result('entropo-kto', seed, { diversity: 0.9 - seed * 0.001, entropy: 0.4 }));
    rs.push(result('m-dpo', seed, { diversity: 0.8, entropy: 0.5 }), result('entropo-dpo', seed, { diversity: 0.9, entropy: 0.4 }));
  }
  const cs = claims(rs, 2, [{ ratio: 1, arm: 'm-kto' }, { ratio: 1.1, arm: 'entropo-kto' }]);
  t.is(cs.find((c) => c.claim.startsWith('EntroPO-KTO keeps'))!.verdict, 'reproduced');
  t.is(cs.find((c) => c.claim.startsWith('EntroPO-DPO keeps'))!.verdict, 'not reproduced');
  t.is(cs.find((c) => c.claim.includes('sweep'))!.verdict, 'inconclusive', 'two sweep points are not a sweep');
  t.is(cs.find((c) => c.claim.startsWith('hybrid'))!.verdict, 'reproduced', 'hybrid beats Finished only and random by 0.25 in every evaluation');
});

test('ablation pipelines: hybrid, each step alone, each removed, random (no step)', (t) => {
  const p = ablationPipelines(true);
  t.deepEqual(Object.keys(p), ['hybrid', 'Finished only', 'Regression only', 'Verifier only', 'Steps only', 'without Finished', 'without Regression', 'without Verifier', 'without Steps', 'random']);
  t.is(p.hybrid.length, 4);
  t.deepEqual(p.random, []);
  t.false(Object.keys(ablationPipelines(false)).includes('Verifier only'));
});

const traj = (task: string, sample: number, resolved: boolean, o: Partial<TrajectoryRecord> = {}): TrajectoryRecord =>
  ({
    schema: 'entropo.dev/trajectory/v1',
    id: `${task}/${sample}/x`,
    taskId: task,
    sample,
    model: 'm',
    sampling: {},
    messages: [],
    exitReason: 'finished',
    finished: true,
    steps: 3,
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    timings: [],
    startedAt: '2026-01-01T00:00:00Z',
    durationSeconds: 1,
    patch: resolved ? 'diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n' : '',
    patchHash: '',
    regression: { passed: resolved ? ['p1', 'p2'] : ['p1'], failed: resolved ? [] : ['p2'] },
    hidden: { passed: [], failed: [] },
    resolved,
    reward: resolved ? 1 : 0,
    ...o,
  }) as unknown as TrajectoryRecord;

test('evaluate: pass@k, best@k of the hybrid (regression picks the resolved one), distinct patches, entropy, KL and diversity from the statistics', (t) => {
  const trajectories = [traj('t1', 0, false), traj('t1', 1, true), traj('t2', 0, false), traj('t2', 1, false)];
  const stats = [
    { id: 't1/0/x', taskId: 't1', tokens: 10, entropySum: 5, klSum: 1, hidden: [1, 0] },
    { id: 't1/1/x', taskId: 't1', tokens: 10, entropySum: 3, klSum: 1, hidden: [0, 1] },
    { id: 't2/0/x', taskId: 't2', tokens: 20, entropySum: 2, klSum: 0, hidden: [1, 1] },
    { id: 't2/1/x', taskId: 't2', tokens: 0, entropySum: 0, klSum: 0, hidden: [2, 2] },
  ];
  const r = evaluate({ job: 'j', arm: 'a', seed: 1, split: 'train' }, trajectories, new Map(), stats);
  t.deepEqual(r.passAtK, [0.25, 0.5]);
  t.deepEqual(r.bestAtK, [0.25, 0.5], 'with both candidates the regression step finds the resolved one');
  t.is(r.ablation['Regression only'][1], 0.5);
  for (const [name, curve] of Object.entries(r.ablation)) t.is(curve[0], r.passAtK[0], `${name}: with one candidate every pipeline is pass@1`);
  t.is(r.distinctPatches, 1.5);
  t.is(r.entropy, 10 / 40);
  t.is(r.kl, 2 / 40);
  t.is(r.diversity, (0 + 1) / 2, 'task t1: orthogonal (0); task t2: parallel (1)');
});

test('plan: five arms plus the extra sweep points; full has 3 seeds; names are DNS labels; the sweep reuses the arms at 1.0 and 1.1', (t) => {
  const full = budget('full');
  t.deepEqual(full.seeds, [1, 2, 3]);
  t.deepEqual(full.ns, [1, 2, 4, 8]);
  t.deepEqual(arms(full).filter((a) => !a.sweepOnly).map((a) => a.id), ['sft', 'm-kto', 'entropo-kto', 'm-dpo', 'entropo-dpo']);
  t.is(sweepArm(full, 1.0), 'm-kto');
  t.is(sweepArm(full, 1.1), 'entropo-kto');
  t.is(sweepArm(full, 1.05), `kto-r${ratioTag(1.05)}`);
  t.is(ratioTag(1.05), '1p05');
  t.is(ratioTag(1.5), '1p5');
  const js = jobs(full);
  for (const j of js) t.regex(j.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  t.is(new Set(js.map((j) => j.name)).size, js.length);
  const mkto = js.find((j) => j.name === 'learn-m-kto-s2')!.manifest() as { spec: { preference: { zeta: number; gamma: number } } };
  t.deepEqual(mkto.spec.preference, { algorithm: 'KTO', zeta: 0.1, gamma: 0.1 });
  const ekto = js.find((j) => j.name === 'learn-entropo-kto-s2')!.manifest() as { spec: { preference: { zeta: number } } };
  t.is(ekto.spec.preference.zeta, 0.11);
});
