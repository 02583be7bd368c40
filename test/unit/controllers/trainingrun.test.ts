import test from 'ava';
import { decideTrainingRun, formatTrainerProgress } from '../../../operator/controllers/trainingrun.ts';
import type { ChildBatchUnit, ChildEvalUnit, Decision, Observed, ObservedUnit, TrainerUnit } from '../../../operator/controllers/decision.ts';
import type { TrainingRunStatus } from '../../../operator/api/kinds.ts';
import { observed, run, sec, step } from './_helpers.ts';

const EVAL = { tasks: { builtin: { split: 'Eval' } }, samplesPerTask: 4 };

/** Children and trainers finish on the next observation; trainer k writes checkpoint k. */
function finishAll(u: ObservedUnit): Partial<ObservedUnit> | undefined {
  if (u.role === 'RolloutBatch') return { phase: 'Succeeded', status: { phase: 'Succeeded', resolveRate: 0.25 * u.iteration!, trajectories: `rb${u.iteration}/trajectories.jsonl`, counts: { total: 8, completed: 8, failed: 0 } } };
  if (u.role === 'EvalSuite') return { phase: 'Succeeded', status: { phase: 'Succeeded', metrics: { pass1: 0.1 * u.iteration!, passAtN: 0.5, bestAtN: 0.3, oracleGap: 0.2 } } };
  if (u.role === 'Trainer') return { phase: 'Succeeded', summary: { checkpoint: `ck/iter-${u.iteration}`, steps: 10, examples: 16, loss: 0.69 - 0.1 * u.iteration!, entropy: 1.5 } };
  return undefined;
}

function drive(r: ReturnType<typeof run>, finish = finishAll, limit = 40) {
  let w: Observed = observed({ tasks: undefined });
  let status: TrainingRunStatus | undefined;
  const trace: { d: Decision<TrainingRunStatus>; w: Observed }[] = [];
  for (let i = 0; i < limit; i++) {
    const d = decideTrainingRun({ ...r, ...(status ? { status } : {}) }, w);
    trace.push({ d, w });
    status = d.status;
    if (status.phase === 'Succeeded' || status.phase === 'Failed') break;
    w = step(d, w, sec(i + 1), finish);
  }
  return { status: status!, trace, w };
}

const started = (trace: { d: Decision<unknown> }[]) => trace.flatMap((x) => x.d.start.map((u) => u.name));

test('the loop: serve c0 -> RolloutBatch 1 -> trainer 1 -> serve c1 -> EvalSuite 1 -> RolloutBatch 2 on c1 -> ... -> Succeeded', (t) => {
  const { status, trace } = drive(run({ evaluation: EVAL }));
  t.deepEqual(started(trace), [
    'tr-policy-c0-a0',
    'tr-it1-rollout',
    'tr-it1-train-a0',
    'tr-policy-c1-a0',
    'tr-it1-eval',
    'tr-it2-rollout',
    'tr-it2-train-a0',
    'tr-policy-c2-a0',
    'tr-it2-eval',
  ]);
  const units = trace.flatMap((x) => x.d.start);
  const rb2 = units.find((u) => u.name === 'tr-it2-rollout') as ChildBatchUnit;
  t.is(rb2.object.spec.policy.endpoint!.url, 'http://tr-policy-c1-a0:8000/v1', 'iteration 2 rolls out checkpoint 1');
  t.is(rb2.object.metadata.labels!['entropo.dev/iteration'], '2');
  t.is(rb2.object.spec.samplesPerTask, 2);
  const tr2 = units.find((u) => u.name === 'tr-it2-train-a0') as TrainerUnit;
  t.is(tr2.init, 'store://ck/iter-1');
  t.is(tr2.reference, 'builtin:tiny-coder');
  t.is(tr2.trajectoriesKey, 'rb2/trajectories.jsonl');
  t.is(tr2.checkpointKey, 'trainingruns/ns/tr-u3/checkpoints/iter-2');
  const es1 = units.find((u) => u.name === 'tr-it1-eval') as ChildEvalUnit;
  t.is(es1.object.spec.samplesPerTask, 4);
  t.is(es1.object.spec.policy.endpoint!.url, 'http://tr-policy-c1-a0:8000/v1', 'evaluation of checkpoint 1');
  // the server of checkpoint 0 is stopped once it is no longer needed
  t.true(trace.some((x) => x.d.stop.some((s) => s.name === 'tr-policy-c0-a0')));
  t.is(status.phase, 'Succeeded');
  t.is(status.iteration, 2);
  t.is(status.checkpoint, 'ck/iter-2');
  t.deepEqual(status.history!.map((h) => [h.iteration, h.phase, h.rolloutResolveRate, h.training?.loss, h.evaluation?.pass1, h.checkpoint]), [
    [1, 'Succeeded', 0.25, 0.69 - 0.1, 0.1, 'ck/iter-1'],
    [2, 'Succeeded', 0.5, 0.69 - 0.2, 0.2, 'ck/iter-2'],
  ]);
  t.deepEqual(status.metrics, { pass1: 0.2, passAtN: 0.5, bestAtN: 0.3, oracleGap: 0.2 });
  t.is(status.training!.examples, 16);
  t.is(status.history![0].trainingJob, 'tr-it1-train-a0');
  t.is(status.history![0].evalSuite, 'tr-it1-eval');
  const last = trace[trace.length - 1].d;
  t.deepEqual(last.stop.map((s) => s.name), ['tr-policy-c2-a0'], 'servers stopped at the end; children kept');
});

test('evaluation.every: only every k-th iteration and the last are evaluated', (t) => {
  const { trace } = drive(run({ iterations: 3, evaluation: { ...EVAL, every: 2 } }));
  t.deepEqual(started(trace).filter((n) => n.endsWith('eval')), ['tr-it2-eval', 'tr-it3-eval']);
});

test('restart at every point with the status lost: the same iteration continues, nothing trained twice', (t) => {
  const r = run({ evaluation: EVAL });
  const { trace } = drive(r);
  const full = started(trace);
  for (let i = 1; i < trace.length; i++) {
    // the operator restarts: it sees the world (units + records) but the last status write was lost
    const { w } = trace[i];
    const stale = trace[i - 1].d.status;
    const a = decideTrainingRun({ ...r, status: stale }, w);
    const b = decideTrainingRun(r, w); // no status at all
    for (const d of [a, b]) {
      for (const u of d.start) {
        t.false(w.units.some((x) => x.name === u.name), `${u.name} already exists (step ${i})`);
        t.false(w.records.some((x) => x.unit === u.name), `${u.name} already ran (step ${i})`);
        t.true(full.includes(u.name), `${u.name} is a unit of the uninterrupted run`);
      }
      t.is(d.start.filter((u) => u.role === 'Trainer').length + w.units.filter((u) => u.role === 'Trainer' && !u.terminating).length <= 1, true);
    }
    t.deepEqual(b.status.history?.map((h) => [h.iteration, h.phase]), trace[i].d.status.history?.map((h) => [h.iteration, h.phase]), `history rebuilt from observations at step ${i}`);
  }
});

test('a failed trainer is retried as attempt 1 with the same checkpoint key (it resumes); after backoffLimit the run fails', (t) => {
  const r = run({ backoffLimit: 1 });
  const { status, trace } = drive(r, (u) => (u.role === 'Trainer' ? { phase: 'Failed', reason: 'OOMKilled', exitCode: 137 } : finishAll(u)));
  const trainers = trace.flatMap((x) => x.d.start).filter((u): u is TrainerUnit => u.role === 'Trainer');
  t.deepEqual(trainers.map((u) => [u.name, u.checkpointKey]), [
    ['tr-it1-train-a0', 'trainingruns/ns/tr-u3/checkpoints/iter-1'],
    ['tr-it1-train-a1', 'trainingruns/ns/tr-u3/checkpoints/iter-1'],
  ]);
  t.is(status.phase, 'Failed');
  t.is(status.conditions!.find((c) => c.type === 'Failed')!.reason, 'TrainerFailed');
  t.is(status.history![0].phase, 'Failed');
});

test('a trainer that exits 0 without a summary is a failed attempt, not a checkpoint', (t) => {
  const { trace } = drive(run({ backoffLimit: 0 }), (u) => (u.role === 'Trainer' ? { phase: 'Succeeded', summaryError: 'missing' } : finishAll(u)));
  const recs = trace.flatMap((x) => x.d.records).filter((r) => r.role === 'Trainer');
  t.deepEqual(recs.map((r) => [r.outcome, r.reason]), [['Failed', 'SummaryMissing']]);
});

test('a child that fails fails the run with its reason', (t) => {
  const { status } = drive(run(), (u) => (u.role === 'RolloutBatch' ? { phase: 'Failed', status: { phase: 'Failed', message: 'no rollout yielded a sample' } } : finishAll(u)));
  t.is(status.phase, 'Failed');
  const c = status.conditions!.find((x) => x.type === 'Failed')!;
  t.is(c.reason, 'ChildFailed');
  t.regex(c.message, /tr-it1-rollout failed: no rollout yielded a sample/);
});

test('suspend: children suspended, the trainer stopped (not a failure); resume continues with a new attempt', (t) => {
  const r = run();
  // run until the trainer of iteration 1 is running
  let w: Observed = observed({ tasks: undefined });
  let d = decideTrainingRun(r, w);
  for (let i = 1; i < 10 && !w.units.some((u) => u.role === 'Trainer'); i++) {
    w = step(d, w, sec(i), (u) => (u.role === 'RolloutBatch' ? finishAll(u) : undefined));
    d = decideTrainingRun({ ...r, status: d.status }, w);
  }
  t.true(w.units.some((u) => u.name === 'tr-it1-train-a0'));
  w = { ...w, units: w.units.map((u) => (u.role === 'Trainer' ? { ...u, progress: { step: 5, totalSteps: 20, loss: 0.6, elapsedSeconds: 10 } } : u)) };
  const running = decideTrainingRun({ ...r, status: d.status }, w);
  t.is(running.status.progress, '1/2 Training step 5/20 loss 0.600 ETA 30s');
  const sus = decideTrainingRun({ ...r, spec: { ...r.spec, suspend: true }, status: running.status }, w);
  t.is(sus.status.phase, 'Suspended');
  t.deepEqual(sus.records.map((x) => [x.unit, x.outcome]), [['tr-it1-train-a0', 'Stopped']]);
  t.true(sus.stop.some((s) => s.name === 'tr-it1-train-a0'));
  w = step(sus, w, sec(50));
  const res = decideTrainingRun({ ...r, status: sus.status }, w);
  t.deepEqual(res.start.map((u) => u.name), ['tr-it1-train-a1']);
  t.is(res.status.phase, 'Running');
});

test('suspend reaches a running child object through setSuspend', (t) => {
  const r = run();
  const w = observed({ tasks: undefined, units: [{ name: 'tr-it1-rollout', role: 'RolloutBatch', iteration: 1, phase: 'Running', status: { phase: 'Running' } }] });
  const sus = decideTrainingRun({ ...r, spec: { ...r.spec, suspend: true } }, w);
  t.deepEqual(sus.setSuspend, [{ name: 'tr-it1-rollout', role: 'RolloutBatch', suspend: true }]);
  const w2 = { ...w, units: [{ ...w.units[0], status: { phase: 'Suspended' } }] };
  const res = decideTrainingRun({ ...r, status: sus.status }, w2);
  t.deepEqual(res.setSuspend, [{ name: 'tr-it1-rollout', role: 'RolloutBatch', suspend: false }]);
});

test('an endpoint policy (1 iteration) is rolled out and evaluated, never trained', (t) => {
  const { status, trace } = drive(run({ iterations: 1, policy: { name: 'big', endpoint: { url: 'http://vllm:8000/v1' } }, evaluation: EVAL }));
  t.deepEqual(started(trace), ['tr-it1-rollout', 'tr-it1-eval']);
  t.is(status.phase, 'Succeeded');
  t.is(status.checkpoint, undefined);
});

test('progress text', (t) => {
  t.is(formatTrainerProgress({ step: 40, totalSteps: 120, loss: 0.6123, elapsedSeconds: 80 }), 'step 40/120 loss 0.612 ETA 3m');
  t.is(formatTrainerProgress({ step: 0, totalSteps: 10 }), 'step 0/10');
});

test('a trainer that cannot train on the data (exit 2) fails the run at once, with the trainer\'s words', (t) => {
  const { status, trace } = drive(run({ backoffLimit: 3 }), (u) =>
    u.role === 'Trainer' ? { phase: 'Failed', exitCode: 2, reason: 'InvalidTrainingData', message: 'no training examples (4 trajectories, 0 finished)' } : finishAll(u),
  );
  t.is(trace.flatMap((x) => x.d.start).filter((u) => u.role === 'Trainer').length, 1);
  t.is(status.phase, 'Failed');
  t.regex(status.conditions!.find((c) => c.type === 'Failed')!.message, /cannot train on this data.*0 finished/);
});

test('a policy server that keeps failing is replaced with new names up to backoffLimit, then the run fails with its reason', (t) => {
  const { status, trace } = drive(run({ backoffLimit: 2 }), (u) => (u.role === 'PolicyServer' ? { phase: 'Failed', reason: 'ServerFailed', ready: false } : finishAll(u)));
  t.deepEqual(started(trace), ['tr-policy-c0-a0', 'tr-policy-c0-a1', 'tr-policy-c0-a2']);
  t.is(status.phase, 'Failed');
  t.is(status.conditions!.find((c) => c.type === 'Failed')!.reason, 'PolicyServerFailed');
});
