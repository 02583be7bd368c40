import test from 'ava';
import { decideEvalSuite } from '../../../operator/controllers/evalsuite.ts';
import type { Observed, ObservedUnit, VerifierUnit } from '../../../operator/controllers/decision.ts';
import { passAtK } from '../../../operator/selection/metrics.ts';
import { observed, sec, step, suite, summary } from './_helpers.ts';

const TASKS = { ids: ['a', 'b'], key: 'tasks.jsonl' };

/** Samples: task a: sample 0 resolved with more steps, sample 1 not; task b: none resolved, same patch. */
function end(u: ObservedUnit): Partial<ObservedUnit> | undefined {
  if (u.role !== 'Sandbox') return undefined;
  const task = TASKS.ids[Math.floor(u.index! / 2)];
  const sample = u.index! % 2;
  const good = task === 'a' && sample === 0;
  return {
    phase: 'Succeeded',
    summary: summary(task, sample, {
      trajectory: `${task}/${sample}/es`,
      key: `t/${task}-${sample}.json`,
      resolved: good,
      reward: good ? 1 : 0,
      steps: good ? 9 : 4,
      patch: task === 'b' ? '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n' : `--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+${sample}\n`,
    }),
  };
}

function drive(s: ReturnType<typeof suite>, finish = end, extra: (w: Observed) => Observed = (w) => w) {
  let w: Observed = observed({ tasks: TASKS });
  let d = decideEvalSuite(s, w);
  const seen = [d];
  for (let i = 1; i < 30 && !['Succeeded', 'Failed'].includes(d.status.phase!); i++) {
    w = extra(step(d, w, sec(i), finish));
    d = decideEvalSuite({ ...s, status: d.status }, w);
    seen.push(d);
  }
  return { d, w, seen };
}

test('N samples per task, then selection and the metrics of section 10 from the summaries', (t) => {
  const { d } = drive(suite());
  t.is(d.status.phase, 'Succeeded');
  const m = d.status.metrics!;
  t.is(m.pass1, (0.5 + 0) / 2);
  t.is(m.passAtN, 0.5);
  t.is(m.bestAtN, 0.5, 'most steps picks the resolved sample of task a');
  t.is(m.oracleGap, 0);
  t.is(m.selectionAccuracy, 1);
  t.is(m.distinctPatchesPerTask, (2 + 1) / 2, 'patch identity by patchHash');
  t.deepEqual(m.passAtK, [
    { k: 1, value: (passAtK(2, 1, 1) + 0) / 2 },
    { k: 2, value: 0.5 },
  ]);
  t.is(m.finishedRate, 1);
  t.is(d.status.counts!.completed, 4);
  t.deepEqual(d.status.selections!.map((s) => [s.task, s.selected, s.resolved]), [
    ['a', 'a/0/es', true],
    ['b', d.status.selections![1].selected, false],
  ]);
  t.is(Object.values(d.status.decidedBy!).reduce((a, b) => a + b, 0), 2, 'one deciding step per task');
  t.is(d.status.decidedBy!.Steps, 1);
  t.is(d.status.results, 'evalsuites/ns/es-u2/selections.jsonl');
  t.is(d.status.predictions, 'evalsuites/ns/es-u2/predictions.jsonl');
  const pred = d.writes.find((w) => w.key.endsWith('predictions.jsonl'))!;
  t.deepEqual('predictions' in pred && pred.predictions.keys[0], 't/a-0.json');
  const sel = d.writes.find((w) => w.key.endsWith('selections.jsonl'))!;
  const lines = ('content' in sel ? sel.content : '').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 2);
  t.is(lines[0].trajectoryKey, 't/a-0.json');
  t.true(lines[0].steps.length >= 3, 'the explanation of every step is in the store');
});

test('a verifier step: a Verifier unit scores the trajectories (input written first), then selection uses the scores', (t) => {
  const s = suite({
    verifier: { model: { name: 'v', source: 'builtin:tiny-verifier' } },
    selection: { pipeline: [{ type: 'VerifierArgmax' }] },
  });
  let scoring = 0;
  const { d, seen } = drive(
    s,
    (u) => {
      if (u.role === 'Verifier') return { phase: 'Succeeded', summary: { scores: 'evalsuites/ns/es-u2/verifier/scores.json', scored: 4 } };
      return end(u);
    },
    (w) => {
      if (w.records.some((r) => r.role === 'Verifier' && r.outcome === 'Succeeded')) {
        scoring++;
        // the sample the verifier likes is the unresolved one of task a: selection follows the scores
        return { ...w, verifierScores: { 'a/0/es': 0.2, 'a/1/es': 0.9, 'b/0/es': 0.5, 'b/1/es': 0.4 } };
      }
      return w;
    },
  );
  const started = seen.flatMap((x) => x.start).filter((u) => u.role === 'Verifier') as VerifierUnit[];
  t.is(started.length, 1, 'one verifier run');
  t.is(started[0].inputKey, 'evalsuites/ns/es-u2/verifier/input.jsonl');
  const withStart = seen.find((x) => x.start.some((u) => u.role === 'Verifier'))!;
  t.is(withStart.status.phase, 'Running');
  t.true(withStart.writes.some((w) => w.key === started[0].inputKey && 'content' in w && w.content.split('\n').filter(Boolean).length === 4));
  t.true(scoring > 0);
  t.is(d.status.phase, 'Succeeded');
  t.is(d.status.selections![0].selected, 'a/1/es');
  t.is(d.status.metrics!.bestAtN, 0);
  t.is(d.status.metrics!.oracleGap, 0.5);
  t.is(d.status.decidedBy!['VerifierArgmax'], 2);
  t.is(d.status.verifierScores, 'evalsuites/ns/es-u2/verifier/scores.json');
});

test('a verifier that keeps failing is retried up to backoffLimit, then selection goes on without scores', (t) => {
  const s = suite({
    backoffLimit: 1,
    verifier: { model: { name: 'v', source: 'builtin:tiny-verifier' } },
    selection: { pipeline: [{ type: 'Finished' }, { type: 'VerifierThreshold', threshold: 0.01 }, { type: 'Steps', order: 'Most' }] },
  });
  const { d, seen } = drive(s, (u) => (u.role === 'Verifier' ? { phase: 'Failed', reason: 'OOMKilled' } : end(u)));
  t.deepEqual(
    seen.flatMap((x) => x.start).filter((u) => u.role === 'Verifier').map((u) => u.name),
    ['es-verifier-a0', 'es-verifier-a1'],
  );
  t.is(d.status.phase, 'Succeeded');
  t.true(seen.some((x) => x.events.some((e) => e.reason === 'VerifierUnavailable')));
  t.is(d.status.verifierScores, undefined);
});

test('no-sample rollouts are left out of the metrics (not counted as unresolved)', (t) => {
  const { d } = drive(suite({ backoffLimit: 0 }), (u) => (u.role === 'Sandbox' && u.index === 1 ? { phase: 'Failed', reason: 'Evicted' } : end(u)));
  t.is(d.status.counts!.failed, 1);
  t.is(d.status.counts!.completed, 3);
  t.is(d.status.metrics!.pass1, (1 + 0) / 2, 'task a: 1 of 1 sample resolved');
});
