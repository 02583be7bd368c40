/**
 * Status writes of the RolloutBatch reconciler under load, against a real API server (the test
 * playing the kubelet): 40 sandbox Pods finishing back to back produce hundreds of Pod events,
 * yet the batch's status is written at most once per second (minStatusIntervalMs, default
 * 1000), and nothing is written once it is idle. The bound is counted, not timed: within a
 * window of W ms the operator can have written at most floor(W / 1000) + 1 times, however slow
 * the machine is. The operator's Pod cache keeps no managedFields.
 */
import test from 'ava';
import { sumCounter } from '../../../operator/metrics/registry.ts';
import { Pods } from '../../../operator/runtime/kube/resource.ts';
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
  t.true(written >= 2, 'status shows progress before the end');
  // The counter holds every successful PATCH of the operator: besides the rate-limited status
  // writes (at most floor(W / 1 s) + 1 in a window of W), the first write that accepts the object
  // (observedGeneration, not delayed) and Event-series updates. On a quiet machine the whole batch
  // takes ~1.5 s, so those few count; under load the window is long and the 1/s bound dominates.
  t.true(written <= Math.floor(windowMs / 1000) + 3, `${written} PATCHes in ${windowMs.toFixed(0)} ms: status written more than once per second`);

  // Idle: nothing more is written.
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(await patches(), written, 'nothing written while idle');
});
