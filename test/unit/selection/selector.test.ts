import test from 'ava';
import fc from 'fast-check';
import { select, prepare, pickIndex, rankOrder, toTaskSelection, describeSelection } from '../../../operator/selection/selector.ts';
import type { SelectionCandidate } from '../../../operator/selection/candidate.ts';
import type { SelectionStep } from '../../../operator/api/common.ts';
import { PaperSelection } from '../../../operator/api/common.ts';

const cand = (id: string, over: Partial<SelectionCandidate> = {}): SelectionCandidate => ({
  id,
  finished: true,
  steps: 10,
  patch: `--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-x\n+${id}\n`,
  regression: { passed: 5, failed: 0 },
  ...over,
});

test('finished keeps the candidates the agent ended itself', (t) => {
  const r = select([cand('a', { finished: false }), cand('b'), cand('c', { finished: false })], { pipeline: [{ type: 'Finished' }] });
  t.is(r.selected, 'b');
  t.is(r.decidedBy, 'Finished');
  t.is(r.decidedAt, 0);
  t.deepEqual(r.survivors, [3, 1]);
  t.is(r.steps[0].status, 'applied');
  t.is(r.steps[0].note, '1 of 3 finished');
});

test('a step that would leave no candidate is skipped and keeps the pool', (t) => {
  const cs = [cand('a', { finished: false, steps: 3 }), cand('b', { finished: false, steps: 7 })];
  const r = select(cs, { pipeline: [{ type: 'Finished' }, { type: 'Steps', order: 'Most' }] });
  t.deepEqual(r.survivors, [2, 2, 1]);
  t.is(r.steps[0].status, 'skipped-empty');
  t.regex(r.steps[0].note, /would leave no candidate/);
  t.is(r.selected, 'b');
  t.is(r.decidedBy, 'Steps');
});

test('regression all-pass keeps those passing every existing test; max-count keeps the top count', (t) => {
  const cs = [
    cand('a', { regression: { passed: 9, failed: 1 } }),
    cand('b', { regression: { passed: 4, failed: 0 } }),
    cand('c', { regression: { passed: 9, failed: 2 } }),
    cand('d', { regression: { passed: 3, failed: 0 } }),
  ];
  const all = select(cs, { pipeline: [{ type: 'Regression', mode: 'AllPass' }] });
  t.deepEqual(all.remaining, ['b', 'd']);
  t.deepEqual(all.survivors, [4, 2]);
  t.is(all.decidedBy, 'TieBreak');
  const max = select(cs, { pipeline: [{ type: 'Regression', mode: 'MaxCount' }] });
  t.deepEqual(max.remaining, ['a', 'c']);
  t.regex(max.steps[0].note, /most existing tests passing \(9\)/);
  // default mode is all-pass
  t.deepEqual(select(cs, { pipeline: [{ type: 'Regression' }] }).remaining, ['b', 'd']);
  // nobody passes everything: skipped, pool kept
  const none = select([cs[0], cs[2]], { pipeline: [{ type: 'Regression' }] });
  t.is(none.steps[0].status, 'skipped-empty');
  t.deepEqual(none.remaining, ['a', 'c']);
});

test('regression without any results is skipped as unavailable', (t) => {
  const r = select([cand('a', { regression: undefined }), cand('b', { regression: undefined })], { pipeline: [{ type: 'Regression' }] });
  t.is(r.steps[0].status, 'skipped-unavailable');
  t.is(r.steps[0].note, 'skipped: no regression results');
  t.deepEqual(r.survivors, [2, 2]);
});

test('reproduction keeps the best agent-written test score; candidates without tests score 0', (t) => {
  const cs = [
    cand('a', { reproduction: { passed: 2, total: 4 } }),
    cand('b', { reproduction: { passed: 3, total: 3 } }),
    cand('c'),
    cand('d', { reproduction: { passed: 1, total: 1 } }),
    cand('e', { reproduction: { passed: 0, total: 0 } }),
  ];
  const r = select(cs, { pipeline: [{ type: 'Reproduction' }] });
  t.deepEqual(r.remaining, ['b', 'd']);
  t.regex(r.steps[0].note, /best agent-written test score \(1\)/);
  const none = select([cand('c'), cand('e', { reproduction: { passed: 0, total: 0 } })], { pipeline: [{ type: 'Reproduction' }] });
  t.is(none.steps[0].status, 'skipped-unavailable');
  t.is(none.steps[0].note, 'skipped: no agent-written test results');
});

test('verifier threshold filters by p(YES), keeps unscored candidates, and is skipped without scores', (t) => {
  const cs = [cand('a', { verifierScore: 0.005 }), cand('b', { verifierScore: 0.01 }), cand('c', { verifierScore: 0.9 }), cand('d')];
  const r = select(cs, { pipeline: [{ type: 'VerifierThreshold', threshold: 0.01 }] });
  t.deepEqual(r.remaining, ['b', 'c', 'd']);
  t.is(r.steps[0].note, '3 of 4 with p(YES) >= 0.01 (1 unscored, kept)');
  const high = select(cs, { pipeline: [{ type: 'VerifierThreshold', threshold: 0.5 }] });
  t.deepEqual(high.remaining, ['c', 'd']);
  // default threshold is the paper's 0.01
  t.deepEqual(select(cs, { pipeline: [{ type: 'VerifierThreshold' }] }).remaining, ['b', 'c', 'd']);
  const unscored = select([cand('a'), cand('b')], { pipeline: [{ type: 'VerifierThreshold', threshold: 0.01 }] });
  t.is(unscored.steps[0].status, 'skipped-unavailable');
  t.is(unscored.steps[0].note, 'skipped: no verifier scores');
  t.deepEqual(unscored.survivors, [2, 2]);
  const allLow = select([cand('a', { verifierScore: 0.001 }), cand('b', { verifierScore: 0.002 })], { pipeline: [{ type: 'VerifierThreshold' }] });
  t.is(allLow.steps[0].status, 'skipped-empty');
});

test('verifier argmax keeps the highest score, ties included', (t) => {
  const cs = [cand('a', { verifierScore: 0.4 }), cand('b', { verifierScore: 0.8 }), cand('c', { verifierScore: 0.8 }), cand('d')];
  const r = select(cs, { pipeline: [{ type: 'VerifierArgmax' }] });
  t.deepEqual(r.remaining, ['b', 'c']);
  const solo = select(cs.slice(0, 2), { pipeline: [{ type: 'VerifierArgmax' }] });
  t.is(solo.selected, 'b');
  t.is(solo.decidedBy, 'VerifierArgmax');
  t.is(select([cand('a'), cand('b')], { pipeline: [{ type: 'VerifierArgmax' }] }).steps[0].status, 'skipped-unavailable');
});

test('steps heuristic prefers the most or the fewest steps', (t) => {
  const cs = [cand('a', { steps: 12 }), cand('b', { steps: 40 }), cand('c', { steps: 7 }), cand('d', { steps: 40 })];
  t.deepEqual(select(cs, { pipeline: [{ type: 'Steps', order: 'Most' }] }).remaining, ['b', 'd']);
  t.is(select(cs, { pipeline: [{ type: 'Steps', order: 'Fewest' }] }).selected, 'c');
  t.deepEqual(select(cs, { pipeline: [{ type: 'Steps' }] }).remaining, ['b', 'd'], 'default order is most');
});

test('majority votes over normalised patches and ignores empty patches', (t) => {
  const p1 = 'diff --git a/f.py b/f.py\nindex 1..2 100644\n--- a/f.py\n+++ b/f.py\n@@ -10,2 +10,2 @@ def f():\n     x = 1\n-    return x\n+    return x + 1\n';
  const p1b = '--- a/f.py\r\n+++ b/f.py\r\n@@ -11,2 +11,2 @@\r\n     x = 1   \r\n-    return x\r\n+    return  x + 1\r\n';
  const p2 = '--- a/f.py\n+++ b/f.py\n@@ -10,2 +10,2 @@\n     x = 1\n-    return x\n+    return x - 1\n';
  const cs = [cand('a', { patch: p1 }), cand('b', { patch: p2 }), cand('c', { patch: p1b }), cand('d', { patch: '' }), cand('e', { patch: '' }), cand('f', { patch: '' })];
  const r = select(cs, { pipeline: [{ type: 'Majority' }] });
  t.deepEqual(r.remaining, ['a', 'c']);
  t.is(r.steps[0].note, '2 in the largest patch group (2 votes; 2 distinct patches)');
  const tie = select([cs[0], cs[1]], { pipeline: [{ type: 'Majority' }] });
  t.deepEqual(tie.remaining, ['a', 'b']);
  const empty = select([cs[3], cs[4]], { pipeline: [{ type: 'Majority' }] });
  t.is(empty.steps[0].status, 'skipped-unavailable');
});

test('random picks one, reproducibly for a seed, and different seeds can differ', (t) => {
  const cs = Array.from({ length: 16 }, (_, i) => cand(`t/${i}`));
  const picks = new Set<string>();
  for (let seed = 0; seed < 20; seed++) {
    const a = select(cs, { pipeline: [{ type: 'Random' }], seed });
    const b = select([...cs].reverse(), { pipeline: [{ type: 'Random' }], seed });
    t.is(a.selected, b.selected);
    t.is(a.decidedBy, 'Random');
    t.deepEqual(a.survivors, [16, 1]);
    picks.add(a.selected);
  }
  t.true(picks.size > 5, `20 seeds gave only ${picks.size} different picks`);
});

test('once one candidate is left, later steps do not run; the decider is named', (t) => {
  const cs = [cand('a', { finished: false, steps: 90 }), cand('b', { steps: 2 }), cand('c', { finished: false })];
  const r = select(cs, { pipeline: [{ type: 'Finished' }, { type: 'Steps', order: 'Most' }, { type: 'Random' }] });
  t.is(r.selected, 'b');
  t.is(r.decidedBy, 'Finished');
  t.deepEqual(r.survivors, [3, 1, 1, 1]);
  t.deepEqual(r.steps.map((s) => s.status), ['applied', 'not-run', 'not-run']);
  const only = select([cand('z')]);
  t.is(only.decidedBy, 'OnlyCandidate');
  t.deepEqual(only.survivors, [1, 1, 1, 1, 1]);
});

test('the default pipeline is the paper hybrid and explains each step', (t) => {
  const cs = [
    cand('a', { finished: false, steps: 200 }),
    cand('b', { steps: 30, regression: { passed: 4, failed: 1 }, verifierScore: 0.9 }),
    cand('c', { steps: 25, verifierScore: 0.3 }),
    cand('d', { steps: 45, verifierScore: 0.004 }),
    cand('e', { steps: 20, verifierScore: 0.02 }),
  ];
  const r = select(cs);
  t.deepEqual(r.steps.map((s) => s.step), PaperSelection.map((s) => ({ ...s })));
  t.deepEqual(r.survivors, [5, 4, 3, 2, 1]);
  t.is(r.selected, 'c');
  t.is(r.decidedBy, 'Steps');
  t.is(r.decidedAt, 3);
  t.deepEqual(toTaskSelection('task-1', r, true), { task: 'task-1', selected: 'c', decidedBy: 'Steps', survivors: [5, 4, 3, 2, 1], resolved: true });
  t.deepEqual(toTaskSelection('task-1', r), { task: 'task-1', selected: 'c', decidedBy: 'Steps', survivors: [5, 4, 3, 2, 1] });
  t.is(
    describeSelection(r),
    [
      '1. Finished: 5 -> 4 (4 of 5 finished)',
      '2. Regression: 4 -> 3 (3 of 4 pass every existing test)',
      '3. VerifierThreshold: 3 -> 2 (2 of 3 with p(YES) >= 0.01)',
      '4. Steps: 2 -> 1 (1 with the most steps (25))',
      'picked c (decided by Steps)',
    ].join('\n'),
  );
  // without verifier scores the verifier step says so and the rest still decides
  const unscored = select(cs.map(({ verifierScore: _v, ...c }) => c));
  t.is(unscored.steps[2].status, 'skipped-unavailable');
  t.is(unscored.steps[2].note, 'skipped: no verifier scores');
  t.is(unscored.selected, 'd');
});

test('several left after the last step: a seeded tie-break that ignores input order', (t) => {
  const cs = ['x', 'y', 'z', 'w'].map((id) => cand(id));
  const r1 = select(cs, { pipeline: [{ type: 'Finished' }], seed: 3 });
  const r2 = select([...cs].reverse(), { pipeline: [{ type: 'Finished' }], seed: 3 });
  t.is(r1.decidedBy, 'TieBreak');
  t.is(r1.decidedAt, -1);
  t.is(r1.selected, r2.selected);
  t.deepEqual(r1.remaining, ['w', 'x', 'y', 'z']);
});

test('empty input and duplicate ids are refused', (t) => {
  t.throws(() => select([]), { message: /no candidates/ });
  t.throws(() => select([cand('a'), cand('a')]), { message: /duplicate candidate id "a"/ });
  t.throws(() => select([cand('a')], { pipeline: [{ type: 'bogus' } as unknown as SelectionStep] }), { message: /unknown selection step/ });
});

// ---- properties -------------------------------------------------------------------------------

const arbCandidate = fc.record({
  finished: fc.boolean(),
  steps: fc.integer({ min: 0, max: 6 }),
  regression: fc.option(fc.record({ passed: fc.integer({ min: 0, max: 3 }), failed: fc.integer({ min: 0, max: 2 }) }), { nil: undefined }),
  reproduction: fc.option(fc.record({ passed: fc.integer({ min: 0, max: 2 }), total: fc.integer({ min: 2, max: 2 }) }), { nil: undefined }),
  verifierScore: fc.option(fc.constantFrom(0, 0.005, 0.01, 0.3, 0.7, 1), { nil: undefined }),
  patch: fc.constantFrom('', '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n', '--- a/x\n+++ b/x\n@@ -3 +3 @@\n-a\n+b  \n', '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+c\n'),
});
const arbCandidates = fc.array(arbCandidate, { minLength: 1, maxLength: 9 }).map((cs) =>
  cs.map((c, i) => {
    const out: Record<string, unknown> = { id: `task/${i}/run`, finished: c.finished, steps: c.steps, patch: c.patch };
    if (c.regression) out.regression = c.regression;
    if (c.reproduction) out.reproduction = c.reproduction;
    if (c.verifierScore !== undefined) out.verifierScore = c.verifierScore;
    return out as unknown as SelectionCandidate;
  }),
);
const arbStep: fc.Arbitrary<SelectionStep> = fc.oneof(
  fc.constant<SelectionStep>({ type: 'Finished' }),
  fc.constantFrom<SelectionStep>({ type: 'Regression', mode: 'AllPass' }, { type: 'Regression', mode: 'MaxCount' }),
  fc.constant<SelectionStep>({ type: 'Reproduction' }),
  fc.constantFrom<SelectionStep>({ type: 'VerifierThreshold', threshold: 0.01 }, { type: 'VerifierThreshold', threshold: 0.5 }),
  fc.constant<SelectionStep>({ type: 'VerifierArgmax' }),
  fc.constantFrom<SelectionStep>({ type: 'Steps', order: 'Most' }, { type: 'Steps', order: 'Fewest' }),
  fc.constant<SelectionStep>({ type: 'Majority' }),
  fc.constant<SelectionStep>({ type: 'Random' }),
);
const arbPipeline = fc.array(arbStep, { minLength: 1, maxLength: 6 });

test('property: permuting the candidates never changes the pick or the explanation', (t) => {
  fc.assert(
    fc.property(arbCandidates, arbPipeline, fc.integer(), fc.integer({ min: 0, max: 1 << 30 }), (cs, pipeline, seed, shuffleSeed) => {
      const shuffled = fc.sample(fc.shuffledSubarray(cs, { minLength: cs.length, maxLength: cs.length }), { numRuns: 1, seed: shuffleSeed })[0];
      const a = select(cs, { pipeline, seed });
      const b = select(shuffled, { pipeline, seed });
      t.is(b.selected, a.selected);
      t.deepEqual(b.survivors, a.survivors);
      t.is(b.decidedBy, a.decidedBy);
      t.deepEqual(b.remaining, a.remaining);
      // reproducible: same seed and set, same pick
      t.is(select(cs, { pipeline, seed }).selected, a.selected);
      // survivors never grow and the pick is one of the remaining candidates
      for (let i = 1; i < a.survivors.length; i++) t.true(a.survivors[i] <= a.survivors[i - 1] && a.survivors[i] >= 1);
      t.true(a.remaining.includes(a.selected));
    }),
    { numRuns: 400 },
  );
});

test('property: without majority, the pick of any subset is its best member in rankOrder', (t) => {
  const noMajority = arbPipeline.filter((p) => p.every((s) => s.type !== 'Majority'));
  fc.assert(
    fc.property(arbCandidates, noMajority, fc.integer(), fc.integer({ min: 1, max: 511 }), (cs, pipeline, seed, mask) => {
      const task = prepare(cs, { pipeline, seed });
      const order = rankOrder(task);
      const subset = cs.map((_, i) => i).filter((i) => mask & (1 << i));
      if (subset.length === 0) return;
      const expected = order.find((i) => subset.includes(i));
      t.is(pickIndex(task, subset), expected!);
      t.is(select(subset.map((i) => cs[i]), { pipeline, seed }).selected, cs[expected!].id);
    }),
    { numRuns: 400 },
  );
});
