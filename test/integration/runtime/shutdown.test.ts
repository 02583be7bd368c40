/**
 * Graceful stop of a leading manager: keys not yet taken are left, the reconcile in flight finishes
 * (its write lands), then the lease is released; a reconcile that outlives the bound is abandoned
 * and stop() reports it.
 */
import test from 'ava';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry } from '../../../operator/metrics/registry.ts';
import { patchStatus } from '../../../operator/runtime/status.ts';
import { resourcePath, Leases } from '../../../operator/runtime/kube/resource.ts';
import { logger } from '../../../operator/logging/logger.ts';
import { adminClient, cluster, createNamespace, createRB, getRB, kubeConfig, RB, waitFor } from './helpers.ts';

const log = logger.child({ test: 'shutdown' });

test('stop() finishes the reconcile in flight, takes no new key, then releases the lease', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  for (const n of ['k1', 'k2']) await createRB(admin, ns, n);
  const mgr = await Manager.create({
    kubeConfig: kubeConfig(cp),
    namespaces: [ns],
    leaderElection: { namespace: ns, id: 'shutdown-test' },
    registry: createRegistry({ defaults: false }),
    gracefulShutdownMs: 10_000,
    log,
  });
  const cache = mgr.cache(RB);
  const started: string[] = [];
  let finished = 0;
  mgr.addController({
    name: 'slow',
    for: RB,
    workers: 1,
    reconciler: {
      async reconcile(req, ctx) {
        started.push(req.name);
        await new Promise((r) => setTimeout(r, 1_500));
        const obj = cache.get(req.namespace, req.name)!;
        await patchStatus(ctx.client, RB, obj, { ...(obj.status as object), message: 'finished during shutdown' });
        finished++;
      },
    },
  });
  t.teardown(() => mgr.stop());
  await mgr.start();
  await waitFor('a reconcile in flight', () => started.length === 1);
  const drained = await mgr.stop();
  t.true(drained);
  t.is(finished, 1, 'the in-flight reconcile completed');
  t.is(started.length, 1, 'no new key was taken after stop');
  const done = await getRB(admin, ns, started[0]);
  t.is(done.status?.message, 'finished during shutdown');
  const lease = await admin.request<{ spec: { holderIdentity?: string } }>('GET', resourcePath(Leases, ns, 'shutdown-test'));
  t.falsy(lease.spec.holderIdentity, 'released after the reconcile finished');
});

test('a reconcile that outlives the grace period is aborted and stop() reports false', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  await createRB(admin, ns, 'stuck');
  const mgr = await Manager.create({
    kubeConfig: kubeConfig(cp),
    namespaces: [ns],
    leaderElection: false,
    registry: createRegistry({ defaults: false }),
    gracefulShutdownMs: 500,
    log,
  });
  let aborted = false;
  let inFlight = false;
  mgr.addController({
    name: 'stuck',
    for: RB,
    reconciler: {
      async reconcile(_req, ctx) {
        inFlight = true;
        await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r(), { once: true }));
        aborted = true;
      },
    },
  });
  t.teardown(() => mgr.stop());
  await mgr.start();
  await waitFor('the stuck reconcile', () => inFlight);
  const t0 = Date.now();
  t.false(await mgr.stop());
  t.true(Date.now() - t0 < 5_000);
  await waitFor('the reconcile saw the abort', () => aborted, 2_000);
});
