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

test('graceful stop keeps renewing the lease while a 6 s reconcile finishes: the standby never reconciles the same object at the same time', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  await createRB(admin, ns, 'long');
  const timings = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 500 };
  const spans: { who: string; start: number; end?: number }[] = [];
  const make = async (who: string) => {
    const mgr = await Manager.create({
      kubeConfig: kubeConfig(cp),
      namespaces: [ns],
      leaderElection: { namespace: ns, id: 'two-leaders-test', identity: who, ...timings },
      registry: createRegistry({ defaults: false }),
      gracefulShutdownMs: 30_000,
      log: log.child({ replica: who }),
    });
    mgr.addController({
      name: `long-${who}`,
      for: RB,
      reconciler: {
        async reconcile() {
          const span: { who: string; start: number; end?: number } = { who, start: Date.now() };
          spans.push(span);
          await new Promise((r) => setTimeout(r, 6_000));
          span.end = Date.now();
        },
      },
    });
    t.teardown(() => mgr.stop());
    return mgr;
  };
  const a = await make('a');
  await a.start();
  await waitFor('a leads and reconciles', () => spans.length === 1 && a.isLeader());
  const b = await make('b');
  await b.start();
  await new Promise((r) => setTimeout(r, 1_000)); // b is a synced standby now
  t.false(b.isLeader());
  const stopped = a.stop();
  // The old bug: a stopped renewing here, b took the lease after 2 s and reconciled while a still ran.
  await waitFor('b reconciles after the handover', () => spans.some((s) => s.who === 'b'), 20_000);
  t.true(await stopped, 'a drained its reconcile');
  const first = spans.find((s) => s.who === 'a')!;
  const second = spans.find((s) => s.who === 'b')!;
  t.truthy(first.end);
  t.log(`a's reconcile ended at +${first.end! - first.start} ms; b's started at +${second.start - first.start} ms`);
  t.true(second.start >= first.end!, `b started ${first.end! - second.start} ms before a finished: two leaders at once`);
  t.true(second.start - first.end! < 4_000, 'the lease was released at once, not left to expire');
});

test('runnables: a leader-only runnable starts with the controllers and drains before the lease is released; one in every replica starts on a standby', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const events: string[] = [];
  const make = async (who: string) => {
    const mgr = await Manager.create({
      kubeConfig: kubeConfig(cp),
      namespaces: [ns],
      leaderElection: { namespace: ns, id: 'runnables-test', identity: who, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
      registry: createRegistry({ defaults: false }),
      log: log.child({ replica: who }),
    });
    mgr.cache(RB);
    mgr.add({
      name: 'cleanup',
      async start(signal) {
        events.push(`${who}:cleanup:start`);
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
        await new Promise((r) => setTimeout(r, 1_000)); // finishing its last pass
        const lease = await admin.request<{ spec: { holderIdentity?: string } }>('GET', resourcePath(Leases, ns, 'runnables-test'));
        events.push(`${who}:cleanup:stop:holder=${lease.spec.holderIdentity}`);
      },
    });
    mgr.add({ name: 'everywhere', needLeaderElection: false, start: async (signal) => {
      events.push(`${who}:everywhere:start`);
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    } });
    t.teardown(() => mgr.stop());
    return mgr;
  };
  const a = await make('a');
  await a.start();
  await waitFor('a runs cleanup', () => events.includes('a:cleanup:start'));
  const b = await make('b');
  await b.start();
  await waitFor('b runs its everywhere runnable', () => events.includes('b:everywhere:start'));
  t.false(events.includes('b:cleanup:start'), 'the standby runs no leader-only runnable');
  t.true(await a.stop());
  t.true(events.includes('a:cleanup:stop:holder=a'), `the lease was still held while the runnable stopped: ${events.join(', ')}`);
  await waitFor('b takes over and runs cleanup', () => events.includes('b:cleanup:start'), 10_000);
});
