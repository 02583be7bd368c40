/**
 * The RolloutBatch reconciler against a real API server, the test writing Pod status: the
 * sliding window, summaries stored before Pods are deleted, retries by reason (eviction, exit 3,
 * image pull past the start deadline) up to backoffLimit then "failed, no sample", suspend and
 * resume, the active deadline, the TTL, a crash between storing a summary and deleting its Pod,
 * and an operator restart in the middle of a batch.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sumCounter } from '../../../operator/metrics/registry.ts';
import { recordKey } from '../../../operator/controllers/decision.ts';
import { openStore } from '../../../operator/store/open.ts';
import { resourcePath } from '../../../operator/runtime/kube/resource.ts';
import {
  adminClient, cluster, create, createNamespace, evict, get, identity, imagePullBackOff, noSample, pods, RB, rolloutBatch, running, startOperator, succeed, tempStore, waitFor,
} from './helpers.ts';

test('window of 2, summaries stored before deletion, status counts and resolve rate, merged trajectories and predictions', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'rb');
  const { uri, store } = tempStore();
  const op = await startOperator(t, cp, ns);
  await create(admin, RB, rolloutBatch(ns, 'win', uri));

  let maxLive = 0;
  const seen = new Set<string>();
  let resolved = 0;
  for (let done = 0; done < 4; done++) {
    const live = await waitFor('a running sandbox', async () => {
      const ps = await pods(admin, ns);
      return ps.length > 0 && ps;
    });
    maxLive = Math.max(maxLive, live.length);
    t.true(live.length <= 2, `window: ${live.length} Pods at once`);
    const p = live.find((x) => !seen.has(x.metadata!.name!))!;
    seen.add(p.metadata!.name!);
    const id = identity(p);
    t.is(p.metadata!.ownerReferences![0].kind, 'RolloutBatch');
    t.true(p.metadata!.ownerReferences![0].controller);
    const ok = id.index % 2 === 0;
    if (ok) resolved++;
    await succeed(admin, store, p, { resolved: ok });
    // The Pod is deleted only once its record is in the store.
    await waitFor(`${id.name} deleted`, async () => !(await pods(admin, ns)).some((x) => x.metadata!.name === id.name));
    t.true(await store.exists(recordKey(`rolloutbatches/${ns}/win-${(await get(admin, ns, 'win')).metadata.uid!.replace(/-/g, '').slice(0, 8)}`, id.name)), 'record stored');
  }
  t.is(maxLive, 2, 'the window filled');
  const rb = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'win');
    return o.status?.phase === 'Succeeded' && o;
  });
  t.like(rb.status!.counts, { total: 4, completed: 4, failed: 0, resolved, running: 0, pending: 0 });
  t.is(rb.status!.resolveRate, resolved / 4);
  t.is(rb.status!.observedGeneration, rb.metadata.generation);
  t.truthy(rb.status!.startTime);
  t.truthy(rb.status!.completionTime);
  t.true(rb.status!.conditions.some((c: { type: string; status: string }) => c.type === 'Succeeded' && c.status === 'True'));
  const lines = (await store.getText(rb.status!.trajectories)).trim().split('\n');
  t.is(lines.length, 4);
  const preds = (await store.getText(rb.status!.predictions)).trim().split('\n').map((l) => JSON.parse(l));
  t.is(preds.length, 2, 'one prediction per task (sample 0)');
  t.deepEqual(Object.keys(preds[0]).sort(), ['instance_id', 'model_name_or_path', 'model_patch']);
  t.is(preds[0].model_name_or_path, 'scripted');
  t.deepEqual(await pods(admin, ns), []);
  // Domain metrics.
  t.is(await sumCounter(op.registry, 'entropo_rollouts_total', (l) => l.kind === 'RolloutBatch'), 4);
  t.is(await sumCounter(op.registry, 'entropo_rollouts_total', (l) => l.outcome === 'resolved'), resolved);
  // Events: the phase change.
  const ev = await admin.request<{ items: { reason: string; involvedObject: { name: string } }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
  t.true(ev.items.some((e) => e.involvedObject.name === 'win'), 'events recorded for the batch');
  // Idle: no more status writes.
  const patches = () => sumCounter(op.registry, 'rest_client_requests_total', (l) => l.method === 'PATCH');
  const before = await patches();
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(await patches(), before, 'nothing written while idle');
});

test('retries by reason: eviction and exit 3 retried as new attempts; ImagePullBackOff past the start deadline; backoffLimit exhausted = failed, no sample', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'rb');
  const { uri, store } = tempStore();
  await startOperator(t, cp, ns);
  await create(admin, RB, rolloutBatch(ns, 'retry', uri, { tasks: { builtin: { split: 'All' }, limit: 1 }, samplesPerTask: 2, parallelism: 2, backoffLimit: 1, startDeadlineSeconds: 5 }));
  const byIndex = async (index: number, attempt: number) =>
    waitFor(`index ${index} attempt ${attempt}`, async () => (await pods(admin, ns)).find((p) => identity(p).index === index && identity(p).attempt === attempt));

  // Slot 1: image pull back-off past the start deadline, then succeeds on attempt 1.
  await imagePullBackOff(admin, await byIndex(1, 0));
  // Slot 0: evicted, then no sample (exit 3): 2 failures > backoffLimit 1 -> failed.
  await evict(admin, await byIndex(0, 0));
  await noSample(admin, await byIndex(0, 1));
  const second = await byIndex(1, 1);
  await running(admin, second);
  await succeed(admin, store, second, { resolved: true });

  const rb = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'retry');
    return o.status?.phase === 'Succeeded' && o;
  }, 180_000);
  t.like(rb.status!.counts, { total: 2, completed: 1, failed: 1, retries: 2, resolved: 1 });
  t.is(rb.status!.resolveRate, 1, 'the failed slot is no sample, not reward 0');
  const ev = await admin.request<{ items: { reason: string; message: string; type: string }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
  const failures = ev.items.filter((e) => e.reason === 'SandboxFailed').map((e) => e.message).join('\n');
  t.regex(failures, /Evicted/);
  t.regex(failures, /StartDeadlineExceeded/);
  t.regex(failures, /ImagePullBackOff/);
});

test('suspend deletes running Pods and resume continues; activeDeadlineSeconds fails the batch; ttlSecondsAfterFinished deletes it', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'rb');
  const { uri, store } = tempStore();
  await startOperator(t, cp, ns);
  await create(admin, RB, rolloutBatch(ns, 'sus', uri, { tasks: { builtin: { split: 'All' }, limit: 1 }, samplesPerTask: 2, ttlSecondsAfterFinished: 2 }));
  const first = await waitFor('2 Pods', async () => {
    const ps = await pods(admin, ns);
    return ps.length === 2 && ps;
  });
  await succeed(admin, store, first[0], { resolved: true });
  await waitFor('one done', async () => (await get(admin, ns, 'sus')).status?.counts?.completed === 1);
  await admin.request('PATCH', resourcePath(RB, ns, 'sus'), { body: { spec: { suspend: true } }, contentType: 'application/merge-patch+json' });
  await waitFor('Suspended, Pods deleted', async () => (await get(admin, ns, 'sus')).status?.phase === 'Suspended' && (await pods(admin, ns)).length === 0);
  const suspended = await get(admin, ns, 'sus');
  t.like(suspended.status!.counts, { completed: 1, failed: 0 });
  await new Promise((r) => setTimeout(r, 1_500));
  t.is((await pods(admin, ns)).length, 0, 'no Pod created while suspended');
  await admin.request('PATCH', resourcePath(RB, ns, 'sus'), { body: { spec: { suspend: false } }, contentType: 'application/merge-patch+json' });
  const resumed = await waitFor('resumed Pod', async () => (await pods(admin, ns))[0]);
  t.is(identity(resumed).index, identity(first[1]).index, 'the unfinished slot resumes');
  t.is(identity(resumed).attempt, identity(first[1]).attempt + 1, 'as a new attempt');
  await succeed(admin, store, resumed, { resolved: false });
  const done = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'sus');
    return o.status?.phase === 'Succeeded' && o;
  });
  t.like(done.status!.counts, { completed: 2, failed: 0, retries: 0 });
  // TTL: deleted 2 s after completion.
  await waitFor('deleted by TTL', async () => {
    try {
      await get(admin, ns, 'sus');
      return false;
    } catch {
      return true;
    }
  }, 20_000);

  // activeDeadlineSeconds
  await create(admin, RB, rolloutBatch(ns, 'late', uri, { tasks: { builtin: { split: 'All' }, limit: 1 }, samplesPerTask: 1, activeDeadlineSeconds: 3 }));
  const late = await waitFor('Failed by deadline', async () => {
    const o = await get(admin, ns, 'late');
    return o.status?.phase === 'Failed' && o;
  }, 30_000);
  t.true(late.status!.conditions.some((c: { type: string; reason: string }) => c.type === 'Failed' && c.reason === 'DeadlineExceeded'));
  await waitFor('its Pod deleted', async () => (await pods(admin, ns)).length === 0);
});

test('a crash between storing a summary and deleting its Pod: the restarted operator counts it once and starts no duplicate; a restart mid-batch ends in the same status', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'rb');
  const { uri, store } = tempStore();
  let op = await startOperator(t, cp, ns);
  await create(admin, RB, rolloutBatch(ns, 'crash', uri, { tasks: { builtin: { split: 'All' }, limit: 2 }, samplesPerTask: 1, parallelism: 2 }));
  const two = await waitFor('2 Pods', async () => {
    const ps = await pods(admin, ns);
    return ps.length === 2 && ps;
  });
  // The operator dies; meanwhile one sandbox finishes, and (as if the old operator had got that
  // far) its record is already in the store while its Pod still exists.
  t.true(await op.stop());
  await succeed(admin, store, two[0], { resolved: true });
  const obj = await get(admin, ns, 'crash');
  const prefix = `rolloutbatches/${ns}/crash-${obj.metadata.uid!.replace(/-/g, '').slice(0, 8)}`;
  const id0 = identity(two[0]);
  const p0 = (await pods(admin, ns)).find((p) => p.metadata!.name === id0.name)!;
  const summary = JSON.parse((p0.status as any).containerStatuses[0].state.terminated.message);
  await store.put(recordKey(prefix, id0.name), JSON.stringify({ unit: id0.name, role: 'Sandbox', index: id0.index, attempt: 0, outcome: 'Succeeded', reason: 'Completed', at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), summary }));

  op = await startOperator(t, cp, ns);
  await waitFor('the recorded Pod deleted', async () => !(await pods(admin, ns)).some((p) => p.metadata!.name === id0.name));
  const rest = (await pods(admin, ns)).filter((p) => p.metadata!.name !== id0.name);
  t.deepEqual(rest.map((p) => p.metadata!.name), [two[1].metadata!.name], 'no duplicate, no new attempt');
  await succeed(admin, store, rest[0], { resolved: false });
  const done = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'crash');
    return o.status?.phase === 'Succeeded' && o;
  });
  t.like(done.status!.counts, { total: 2, completed: 2, resolved: 1, failed: 0, retries: 0 });
  t.is((await store.list(`${prefix}/records`)).length, 2, 'one record per unit');
});

test('a store the operator cannot reach (pvc:// not mounted) is reported in status, not retried silently', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'rb');
  // The pvc:// mount point of this operator is a plain file: nothing can be created under it.
  const notMounted = join(mkdtempSync(join(tmpdir(), 'entropo-nomount-')), 'artifacts');
  writeFileSync(notMounted, 'not a directory');
  await startOperator(t, cp, ns, { openStore: (uri) => openStore(uri, { pvcMount: notMounted }) });
  await create(admin, RB, rolloutBatch(ns, 'nostore', 'pvc://entropo-artifacts'));
  const o = await waitFor('StoreAvailable=False', async () => {
    const x = await get(admin, ns, 'nostore');
    return x.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'StoreAvailable' && c.status === 'False') && x;
  });
  t.is(o.status!.observedGeneration, 1);
  t.is(o.status!.phase, 'Pending');
  t.regex(o.status!.conditions.find((c: { type: string }) => c.type === 'StoreAvailable').message, /must be mounted into the operator Pod/);
  t.deepEqual(await pods(admin, ns), [], 'nothing created');
});
