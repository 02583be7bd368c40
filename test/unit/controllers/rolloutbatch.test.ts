import test from 'ava';
import { decideRolloutBatch } from '../../../operator/controllers/rolloutbatch.ts';
import { recordKey, type Observed, type ObservedUnit, type SandboxUnit } from '../../../operator/controllers/decision.ts';
import { classifySandbox, retryRollout } from '../../../operator/controllers/sandbox-fleet.ts';
import { formatIndexes, parseIndexes, phaseOf } from '../../../operator/controllers/run-policy.ts';
import { batch, live, observed, sec, step, summary, T0 } from './_helpers.ts';

const ids = (d: { start: { name: string }[] }) => d.start.map((u) => u.name);

test('a new batch with an endpoint starts a window of `parallelism` sandboxes in slot order', (t) => {
  const d = decideRolloutBatch(batch(), observed());
  t.deepEqual(ids(d), ['rb-0-a0', 'rb-1-a0']);
  const u = d.start[0] as SandboxUnit;
  t.is(u.taskId, 'a');
  t.is(u.sample, 0);
  t.is((d.start[1] as SandboxUnit).sample, 1);
  t.is(u.policy.url, 'http://llm:8000/v1');
  t.is(u.tasksKey, 'tasks.jsonl');
  t.is(u.trajectoryKey, 'rolloutbatches/ns/rb-u1/trajectories/rb-0-a0.json');
  t.is(d.status.phase, 'Running');
  t.is(d.status.observedGeneration, 1);
  t.is(d.status.startTime, '2026-01-01T12:00:00Z');
  t.deepEqual(d.status.counts, { total: 6, pending: 4, running: 2, completed: 0, failed: 0, retries: 0, resolved: 0, finished: 0 });
  t.deepEqual(d.events.map((e) => e.reason), ['Running']);
});

test('a source policy is served first; sandboxes start once the server is ready, with its URL', (t) => {
  const b = batch({ policy: { name: 'tiny', source: 'builtin:tiny-coder' } });
  const d1 = decideRolloutBatch(b, observed());
  t.deepEqual(ids(d1), ['rb-policy-c0-a0']);
  t.is(d1.status.phase, 'Pending');
  const notReady: ObservedUnit = { name: 'rb-policy-c0-a0', role: 'PolicyServer', checkpoint: 0, phase: 'Running', ready: false };
  const d2 = decideRolloutBatch(b, observed({ units: [notReady] }));
  t.deepEqual(ids(d2), [], 'no duplicate server, no sandbox yet');
  const d3 = decideRolloutBatch(b, observed({ units: [{ ...notReady, ready: true, endpoint: 'http://127.0.0.1:5000/v1' }] }));
  t.deepEqual(ids(d3), ['rb-0-a0', 'rb-1-a0']);
  t.is((d3.start[0] as SandboxUnit).policy.url, 'http://127.0.0.1:5000/v1');
  t.is(d3.status.phase, 'Running');
  // a crashed server is recorded and replaced by attempt 1
  const d4 = decideRolloutBatch(b, observed({ units: [{ ...notReady, phase: 'Failed', reason: 'OOMKilled' }] }));
  t.deepEqual(ids(d4), ['rb-policy-c0-a1']);
  t.is(d4.records[0].outcome, 'Failed');
  t.deepEqual(d4.stop.map((s) => s.name), ['rb-policy-c0-a0']);
});

test('sliding window: a finished sandbox is recorded, deleted and replaced in the same reconcile', (t) => {
  const b = batch();
  const d1 = decideRolloutBatch(b, observed());
  const [u0, u1] = d1.start as SandboxUnit[];
  const w = observed({ now: sec(10), units: [live(u0, { phase: 'Succeeded', summary: summary('a', 0, { resolved: true, reward: 1 }) }), live(u1)] });
  const d2 = decideRolloutBatch({ ...b, status: d1.status }, w);
  t.deepEqual(d2.records.map((r) => [r.unit, r.outcome, r.index]), [['rb-0-a0', 'Succeeded', 0]]);
  t.deepEqual(d2.stop.map((s) => s.name), ['rb-0-a0']);
  t.deepEqual(ids(d2), ['rb-2-a0'], 'the next slot starts at once, not in a wave');
  t.is(d2.status.counts!.completed, 1);
  t.is(d2.status.counts!.resolved, 1);
  t.is(d2.status.resolveRate, 1);
  t.is(d2.status.completedIndexes, '0');
});

const failures: [string, Partial<ObservedUnit>, string][] = [
  ['evicted', { phase: 'Failed', reason: 'Evicted', infrastructure: true }, 'Evicted'],
  ['OOM of the runtime', { phase: 'Failed', reason: 'OOMKilled', exitCode: 137, infrastructure: true }, 'OOMKilled'],
  ['exit 3 without summary', { phase: 'Failed', exitCode: 3 }, 'NoSample'],
  ['missing summary', { phase: 'Succeeded', summaryError: 'missing' }, 'SummaryMissing'],
  ['malformed summary', { phase: 'Succeeded', summaryError: 'Unexpected token } in JSON' }, 'SummaryMalformed'],
  ['summary of the wrong shape', { phase: 'Succeeded', summary: { v: 1, task: 'a' } }, 'SummaryMalformed'],
  ['summary of another task', { phase: 'Succeeded', summary: summary('b', 0) }, 'SummaryMismatch'],
  ['model_error', { phase: 'Succeeded', summary: summary('a', 0, { exit: 'model_error', finished: false }) }, 'ModelError'],
  ['sandbox_error with exit 3', { phase: 'Failed', exitCode: 3, summary: summary('a', 0, { exit: 'sandbox_error', finished: false }) }, 'SandboxError'],
];

for (const [what, end, reason] of failures) {
  test(`no sample, never reward 0: ${what} -> Failed attempt (${reason}), retried as attempt 1`, (t) => {
    const b = batch({ parallelism: 1 });
    const d1 = decideRolloutBatch(b, observed());
    const u0 = d1.start[0] as SandboxUnit;
    const d2 = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(5), units: [live(u0, end)] }));
    t.is(d2.records.length, 1);
    t.is(d2.records[0].outcome, 'Failed');
    t.is(d2.records[0].reason, reason);
    t.deepEqual(ids(d2), ['rb-0-a1']);
    t.is(d2.status.counts!.completed, 0);
    t.is(d2.status.counts!.resolved, 0);
    t.is(d2.status.counts!.retries, 1);
    t.is(d2.status.resolveRate, undefined, 'no sample is not an unresolved sample');
    t.true(d2.events.some((e) => e.type === 'Warning' && e.reason === 'SandboxFailed'));
  });
}

test('a sample that did not resolve counts as completed with reward 0 (the opposite of no sample)', (t) => {
  const c = classifySandbox({ name: 'x', role: 'Sandbox', phase: 'Succeeded', summary: summary('a', 0, { exit: 'max_steps', finished: false }) }, { taskId: 'a', sample: 0 });
  t.is(c.outcome, 'Succeeded');
  t.is(c.summary!.exit, 'max_steps');
});

test('backoffLimit: after 1 + backoffLimit failed attempts the slot gives up (failedIndexes), the batch goes on', (t) => {
  const b = batch({ parallelism: 1, backoffLimit: 1 });
  let w: Observed = observed();
  let d = decideRolloutBatch(b, w);
  let status = d.status;
  // slot 0 fails twice (attempts 0 and 1), then slot 1 starts
  for (let i = 1; i <= 2; i++) {
    w = step(d, w, sec(i), (u) => (u.index === 0 ? { phase: 'Failed', reason: 'Evicted' } : undefined));
    d = decideRolloutBatch({ ...b, status }, w);
    status = d.status;
  }
  t.deepEqual(ids(d), ['rb-1-a0']);
  t.is(d.status.failedIndexes, '0');
  t.is(d.status.counts!.failed, 1);
  t.is(d.status.counts!.retries, 1);
  t.true(d.events.some((e) => /no sample after 2 attempts/.test(e.message)));
});

test('start deadline: a sandbox Pending past startDeadlineSeconds fails with that reason and the waiting reason', (t) => {
  const b = batch({ parallelism: 1, startDeadlineSeconds: 60 });
  const d1 = decideRolloutBatch(b, observed());
  const u = live(d1.start[0] as SandboxUnit, { phase: 'Pending', startedAt: undefined, reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' });
  const early = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(30), units: [u] }));
  t.is(early.records.length, 0);
  t.is(early.requeueAfterSeconds, 30, 'requeued for the deadline');
  const late = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(61), units: [u] }));
  t.is(late.records[0].reason, 'StartDeadlineExceeded');
  t.regex(late.records[0].message!, /ImagePullBackOff/);
  t.deepEqual(late.stop.map((s) => s.name), ['rb-0-a0']);
  t.deepEqual(ids(late), ['rb-0-a1']);
});

test('crash between "record stored" and "unit deleted": same status, no restart, no double count', (t) => {
  const b = batch({ parallelism: 1 });
  const d1 = decideRolloutBatch(b, observed());
  const u0 = live(d1.start[0] as SandboxUnit, { phase: 'Succeeded', summary: summary('a', 0, { resolved: true, reward: 1 }) });
  const d2 = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(5), units: [u0] }));
  // the executor stored d2.records, then crashed: the unit is still there, the status is old
  const again = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(6), units: [u0, live(d2.start[0] as SandboxUnit)], records: d2.records }));
  t.deepEqual(again.records, [], 'not recorded twice');
  t.deepEqual(again.stop.map((s) => s.name), ['rb-0-a0']);
  t.deepEqual(ids(again), [], 'the window is full with rb-1-a0');
  t.deepEqual(again.status.counts, d2.status.counts);
  // it crashed after deleting the unit and before writing status: records alone give the same counts
  const after = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(7), units: [live(d2.start[0] as SandboxUnit)], records: d2.records }));
  t.deepEqual(after.status.counts, d2.status.counts);
  t.deepEqual(ids(after), []);
});

test('suspend stops running sandboxes (recorded as Stopped, not failures); resume starts new attempts', (t) => {
  const b = batch();
  const d1 = decideRolloutBatch(b, observed());
  const units = (d1.start as SandboxUnit[]).map((u) => live(u));
  const sus = decideRolloutBatch({ ...b, spec: { ...b.spec, suspend: true }, status: d1.status }, observed({ now: sec(5), units }));
  t.is(sus.status.phase, 'Suspended');
  t.deepEqual(sus.records.map((r) => r.outcome), ['Stopped', 'Stopped']);
  t.deepEqual(sus.stop.map((s) => s.name), ['rb-0-a0', 'rb-1-a0']);
  t.deepEqual(ids(sus), []);
  t.is(sus.status.startTime, undefined, 'active deadline restarts on resume');
  t.is(sus.status.conditions!.find((c) => c.type === 'Suspended')!.status, 'True');
  const res = decideRolloutBatch({ ...b, status: sus.status }, observed({ now: sec(100), records: sus.records }));
  t.deepEqual(ids(res), ['rb-0-a1', 'rb-1-a1']);
  t.is(res.status.phase, 'Running');
  t.is(res.status.counts!.retries, 0, 'a suspension is not a retry');
  t.is(res.status.conditions!.find((c) => c.type === 'Suspended')!.status, 'False');
  t.is(res.status.startTime, '2026-01-01T12:01:40Z');
});

test('activeDeadlineSeconds fails the batch and stops its sandboxes', (t) => {
  const b = batch({ activeDeadlineSeconds: 100 });
  const d1 = decideRolloutBatch(b, observed());
  const units = (d1.start as SandboxUnit[]).map((u) => live(u));
  const mid = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(40), units }));
  t.is(mid.requeueAfterSeconds, 60);
  const d = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(100), units }));
  t.is(d.status.phase, 'Failed');
  t.is(d.status.conditions!.find((c) => c.type === 'Failed')!.reason, 'DeadlineExceeded');
  t.deepEqual(d.stop.map((s) => s.name), ['rb-0-a0', 'rb-1-a0']);
  t.is(d.status.completionTime, '2026-01-01T12:01:40Z');
});

function runToEnd(b: ReturnType<typeof batch>, end: (u: ObservedUnit) => Partial<ObservedUnit>) {
  let w = observed();
  let d = decideRolloutBatch(b, w);
  let status = d.status;
  const all = [d];
  for (let i = 1; i < 50 && !['Succeeded', 'Failed'].includes(status.phase!); i++) {
    w = step(d, w, sec(i), end);
    d = decideRolloutBatch({ ...b, status }, w);
    status = d.status;
    all.push(d);
  }
  return { d, w, all };
}

test('all slots done: Succeeded, merged trajectories and predictions written before the status names them', (t) => {
  const b = batch();
  const { d } = runToEnd(b, (u) => {
    const task = ['a', 'b', 'c'][Math.floor(u.index! / 2)];
    return { phase: 'Succeeded', summary: summary(task, u.index! % 2, { resolved: task === 'a', reward: task === 'a' ? 1 : 0, key: `t/${u.name}.json` }) };
  });
  t.is(d.status.phase, 'Succeeded');
  t.deepEqual(d.status.counts, { total: 6, pending: 0, running: 0, completed: 6, failed: 0, retries: 0, resolved: 2, finished: 6 });
  t.is(d.status.resolveRate, 2 / 6);
  t.is(d.status.completedIndexes, '0-5');
  t.is(d.status.trajectories, 'rolloutbatches/ns/rb-u1/trajectories.jsonl');
  t.deepEqual(d.writes, [
    { key: 'rolloutbatches/ns/rb-u1/trajectories.jsonl', concat: [0, 1, 2, 3, 4, 5].map((i) => `t/rb-${i}-a0.json`) },
    { key: 'rolloutbatches/ns/rb-u1/predictions.jsonl', predictions: { keys: ['t/rb-0-a0.json', 't/rb-2-a0.json', 't/rb-4-a0.json'], model: 'm' } },
  ]);
  t.is(phaseOf(d.status.conditions), 'Succeeded');
  t.true(d.events.some((e) => e.reason === 'Succeeded'));
});

test('every slot lost to infrastructure: Failed with NoSamples, not Succeeded with 0%', (t) => {
  const { d } = runToEnd(batch({ backoffLimit: 0 }), () => ({ phase: 'Failed', reason: 'Evicted' }));
  t.is(d.status.phase, 'Failed');
  t.is(d.status.conditions!.find((c) => c.type === 'Failed')!.reason, 'NoSamples');
  t.is(d.status.failedIndexes, '0-5');
  t.is(d.status.resolveRate, undefined);
});

test('a finished batch does nothing but honour ttlSecondsAfterFinished', (t) => {
  const b = batch({ ttlSecondsAfterFinished: 60 });
  const { d } = runToEnd(b, (u) => ({ phase: 'Succeeded', summary: summary(['a', 'b', 'c'][Math.floor(u.index! / 2)], u.index! % 2) }));
  const done = { ...b, status: d.status };
  const completion = Date.parse(d.status.completionTime!);
  const soon = decideRolloutBatch(done, observed({ now: completion + 10_000 }));
  t.deepEqual([soon.start, soon.stop, soon.writes, soon.records], [[], [], [], []]);
  t.is(soon.requeueAfterSeconds, 50);
  t.deepEqual(soon.status, d.status);
  t.true(decideRolloutBatch(done, observed({ now: completion + 60_000 })).deleteObject);
});

test('an invalid spec or task list is terminal, with the reason in a condition', (t) => {
  const d = decideRolloutBatch(batch(), observed({ invalid: 'spec.tasks: exactly one of builtin, jsonl or configMapRef must be set' }));
  t.is(d.status.phase, 'Failed');
  t.is(d.status.conditions!.find((c) => c.type === 'Failed')!.reason, 'InvalidSpec');
  t.deepEqual(ids(d), []);
  const e = decideRolloutBatch(batch(), observed({ tasks: { error: 'tasks.jsonl line 3: field instance_id is required' } }));
  t.is(e.status.conditions!.find((c) => c.type === 'Failed')!.reason, 'InvalidTasks');
  t.regex(e.status.message!, /line 3/);
});

test('decide is deterministic and does not modify its inputs', (t) => {
  const b = batch();
  const w = observed();
  const copy = structuredClone([b, w]);
  t.deepEqual(decideRolloutBatch(b, w), decideRolloutBatch(b, w));
  t.deepEqual([b, w], copy);
});

test('record keys and index lists', (t) => {
  t.is(recordKey('rolloutbatches/ns/rb-u1', 'rb-0-a0'), 'rolloutbatches/ns/rb-u1/records/rb-0-a0.json');
  t.is(formatIndexes([5, 0, 1, 2, 3, 7, 8]), '0-3,5,7-8');
  t.deepEqual(parseIndexes('0-3,5,7-8'), [0, 1, 2, 3, 5, 7, 8]);
  t.throws(() => parseIndexes('1-x'));
  t.is(T0, Date.UTC(2026, 0, 1, 12));
});

test('exit 2 (the sandbox rejected its assignment) is not retried: the slot gives up at once', (t) => {
  const b = batch({ parallelism: 1, backoffLimit: 3 });
  const d1 = decideRolloutBatch(b, observed());
  const d2 = decideRolloutBatch({ ...b, status: d1.status }, observed({ now: sec(5), units: [live(d1.start[0] as SandboxUnit, { phase: 'Failed', exitCode: 2, message: 'no task calc-x' })] }));
  t.like(d2.records[0], { outcome: 'Failed', reason: 'InvalidAssignment', permanent: true });
  t.deepEqual(ids(d2), ['rb-1-a0'], 'the next slot, not a retry');
  t.is(d2.status.failedIndexes, '0');
  t.regex(d2.events[0].message, /not retried/);
});

test('retryRollout (entropo rollout): no sample is retried while failures <= backoffLimit; a sample never is', (t) => {
  t.true(retryRollout('sandbox_error', 1, 1));
  t.false(retryRollout('sandbox_error', 2, 1));
  t.true(retryRollout('model_error', 1, 3));
  t.false(retryRollout('max_steps', 1, 3), 'a cut-off rollout is a sample (reward 0), not a retry');
  t.false(retryRollout('finished', 1, 3));
  t.false(retryRollout('context_length', 1, 3));
});
