/**
 * Status writes of the RolloutBatch reconciler under load, against a real API server (the test
 * playing the kubelet): 40 sandbox Pods finishing back to back produce hundreds of Pod events,
 * yet the batch's status is written at most once per second (minStatusIntervalMs, default
 * 1000), and nothing is written once it is idle. The bound is counted, not timed: within a
 * window of W ms the operator can have written the status at most floor(W / 1000) + 1 times
 * (plus the accepting write), however slow the machine is; status writes are counted through a
 * watch of the object, so Event PATCHes and metadata changes do not count; each phase transition
 * is one Event with count 1. The operator's Pod cache keeps no managedFields.
 */
import test from 'ava';
import { sumCounter } from '../../../operator/metrics/registry.ts';
import { Pods, resourcePath } from '../../../operator/runtime/kube/resource.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';
import { MANAGED_SELECTOR } from '../../../operator/workloads/labels.ts';
import { adminClient, cluster, create, createNamespace, get, pods, RB, rolloutBatch, startOperator, succeed, tempStore, waitFor } from './helpers.ts';

test('status writes stay <= 1 per second per object while 40 Pods finish; none while idle', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'rate');
  const { uri, store } = tempStore();
  const op = await startOperator(t, cp, ns);
  // Writes that took effect (a 409 on a stale cache changes nothing and is retried).
  const patches = () => sumCounter(op.registry, 'rest_client_requests_total', (l) => l.method === 'PATCH' && String(l.code) === '200');
  const n = 40;
  // Every status the API server stored for the batch, seen through a watch: a write that changed
  // status is one MODIFIED event with a status unlike the one before (metadata-only changes and
  // Event PATCHes are not status writes).
  let statusWrites = 0;
  let objectWrites = 0;
  let lastStatus = 'undefined';
  const watching = new AbortController();
  t.teardown(() => watching.abort());
  // From the collection's resourceVersion before the batch exists, so no write is missed even if
  // the watch starts late or is restarted (a new CRD's storage may still be initializing).
  const listed = await admin.request<{ metadata: { resourceVersion: string } }>('GET', resourcePath(RB, ns));
  let rv = listed.metadata.resourceVersion;
  const watch = (async () => {
    while (!watching.signal.aborted) {
      await admin
        .watch<KubeObject & { status?: unknown }>(resourcePath(RB, ns), { fieldSelector: 'metadata.name=busy', resourceVersion: rv }, (e) => {
          if (e.type !== 'ADDED' && e.type !== 'MODIFIED') return;
          rv = e.object.metadata.resourceVersion ?? rv;
          objectWrites++;
          const s = JSON.stringify((e.object as { status?: unknown }).status);
          if (s !== lastStatus && s !== undefined) statusWrites++;
          lastStatus = s;
        }, { signal: watching.signal, idleTimeoutMs: 120_000 })
        .catch(() => new Promise((r) => setTimeout(r, 300)));
    }
  })();

  const t0 = performance.now();
  await create(admin, RB, rolloutBatch(ns, 'busy', uri, { tasks: { builtin: { split: 'All' }, limit: 2 }, samplesPerTask: n / 2, parallelism: n }));
  const live = await waitFor(`${n} Pods`, async () => {
    const ps = await pods(admin, ns);
    return ps.length === n && ps;
  });
  // The operator's Pod cache holds no managedFields (the API server's Pods do).
  const name = live[0].metadata!.name!;
  t.truthy(live[0].metadata!.managedFields?.length);
  const cached = await waitFor('the Pod cached', async () => op.mgr.cache(Pods, MANAGED_SELECTOR).get(ns, name));
  t.is(cached.metadata.managedFields, undefined);
  // Finish every Pod, 8 at a time: a stream of Pod events while the operator records and deletes.
  const queue = [...live];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) await succeed(admin, store, p, { resolved: true });
    }),
  );
  const rb = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'busy');
    return o.status?.phase === 'Succeeded' && o;
  });
  const written = await patches();
  const windowMs = performance.now() - t0;
  t.like(rb.status!.counts, { total: n, completed: n, resolved: n, running: 0, pending: 0 });
  t.log(`${written} status writes in ${(windowMs / 1000).toFixed(1)} s`);
  // the watch has delivered the Succeeded status once `get` sees it (same resourceVersion order)
  await waitFor('the watch sees Succeeded', async () => lastStatus.includes('"Succeeded"'));
  t.log(`${statusWrites} status changes`);
  t.true(statusWrites >= 2, 'at least the accepting write and the final one');
  // Rate-limited writes: at most floor(W / 1 s) + 1 in a window of W, plus the first write that
  // accepts the object (observedGeneration, not delayed). Counted, not timed: a slow machine only
  // widens the window.
  t.true(statusWrites <= Math.floor(windowMs / 1000) + 2, `${statusWrites} status writes in ${windowMs.toFixed(0)} ms: status written more than once per second`);

  // Idle: nothing more is written to the batch (status or metadata), and no PATCH at all: not even
  // an Event's count (a phase Event repeated by a rate-limited decision used to arrive here).
  const writesBeforeIdle = objectWrites;
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(objectWrites, writesBeforeIdle, 'nothing written to the batch while idle');
  t.is(await patches(), written, 'no PATCH at all while idle (Events included)');
  // One Event per phase transition (Running, Succeeded), each with count 1: a transition whose
  // status write was rate-limited is reported when the status is written, not once per decision.
  const events = await admin.request<{ items: { reason: string; count?: number; involvedObject: { name: string } }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
  const phases = events.items.filter((e) => e.involvedObject.name === 'busy' && ['Running', 'Succeeded'].includes(e.reason));
  t.deepEqual(phases.map((e) => `${e.reason} x${e.count ?? 1}`).sort(), ['Running x1', 'Succeeded x1']);
  watching.abort();
  await watch;
});
