/**
 * Concurrent writers against a real API server: status patches carry the resourceVersion they were
 * computed from, so a concurrent write answers 409; the controller requeues, the reconciler re-reads
 * and decides again, and the end state is right (nobody's write is lost).
 */
import test from 'ava';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry, sumCounter } from '../../../operator/metrics/registry.ts';
import { registerControllers } from '../../../operator/controllers/index.ts';
import { acceptedStatus } from '../../../operator/controllers/accept.ts';
import { patchStatus } from '../../../operator/runtime/status.ts';
import { resourcePath } from '../../../operator/runtime/kube/resource.ts';
import { logger } from '../../../operator/logging/logger.ts';
import { adminClient, cluster, createNamespace, createRB, getRB, isAccepted, kubeConfig, RB, waitFor } from './helpers.ts';

const log = logger.child({ test: 'conflict' });

test('a status patch computed from a stale object gets 409, is retried through the queue, and keeps the other writer\'s change', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const registry = createRegistry({ defaults: false });
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry, log });
  const cache = mgr.cache(RB);
  const attempts = new Map<string, number>();
  // A reconciler that, on its first attempt for a key, lets another writer change the object
  // between its read (from the cache) and its write: the write must fail with 409.
  mgr.addController({
    name: 'racy',
    for: RB,
    workers: 2,
    reconciler: {
      async reconcile(req, ctx) {
        const obj = cache.get(req.namespace, req.name);
        if (!obj) return;
        const n = (attempts.get(req.name) ?? 0) + 1;
        attempts.set(req.name, n);
        if (n === 1) {
          await admin.request('PATCH', resourcePath(RB, req.namespace, req.name, 'status'), {
            body: { status: { message: 'written by the other writer' } },
            contentType: 'application/merge-patch+json',
          });
        }
        await patchStatus(ctx.client, RB, obj, acceptedStatus(obj));
      },
    },
  });
  t.teardown(() => mgr.stop());
  await mgr.start();
  for (const n of ['x1', 'x2', 'x3']) await createRB(admin, ns, n);

  for (const n of ['x1', 'x2', 'x3']) {
    const o = await waitFor(`${n} accepted`, async () => {
      const o = await getRB(admin, ns, n);
      return isAccepted(o) && o;
    });
    t.is(o.status?.message, 'written by the other writer', 'the other writer\'s field survived');
    t.true(attempts.get(n)! >= 2, `${n} was retried`);
  }
  const conflicts = await sumCounter(registry, 'rest_client_requests_total', (l) => l.code === '409' && l.method === 'PATCH');
  t.true(conflicts >= 3, `409 answers: ${conflicts}`);
  t.true((await sumCounter(registry, 'controller_runtime_reconcile_errors_total', (l) => l.controller === 'racy')) >= 3);
  t.true((await sumCounter(registry, 'workqueue_retries_total', (l) => l.name === 'racy')) >= 3);
});

test('spec writers racing the operator: every object ends reconciled at its last generation', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const registry = createRegistry({ defaults: false });
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry, log });
  registerControllers(mgr, { workers: 4 });
  t.teardown(() => mgr.stop());
  await mgr.start();
  const names = ['s1', 's2', 's3', 's4'];
  for (const n of names) await createRB(admin, ns, n);
  // 15 spec changes per object, written as fast as the API server takes them, while the operator
  // patches status from whatever its cache holds.
  await Promise.all(
    names.map(async (n) => {
      for (let i = 2; i <= 16; i++) {
        await admin.request('PATCH', resourcePath(RB, ns, n), { body: { spec: { samplesPerTask: i } }, contentType: 'application/merge-patch+json' });
      }
    }),
  );
  for (const n of names) {
    const o = await waitFor(`${n} reconciled at generation 16`, async () => {
      const o = await getRB(admin, ns, n);
      return o.metadata.generation === 16 && isAccepted(o) && o;
    });
    t.is(o.status?.observedGeneration, 16);
    const suspended = o.status!.conditions.filter((c: { type: string }) => c.type === 'Suspended');
    t.is(suspended.length, 1, 'one condition per type');
    t.is(suspended[0].observedGeneration, 16);
    t.is(o.status!.phase, 'Suspended');
  }
  const conflicts = await sumCounter(registry, 'rest_client_requests_total', (l) => l.code === '409');
  t.log(`409 answers during the race: ${conflicts}`);
});
