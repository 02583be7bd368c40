/**
 * A leader that cannot renew its Lease within the renew deadline (API server frozen with SIGSTOP)
 * stops leading: its controllers stop and the manager reports leadership-lost (the CLI exits 1, so
 * the Pod restarts as a follower), like controller-runtime. Short timings keep the test quick.
 */
import test from 'ava';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry, sumCounter } from '../../../operator/metrics/registry.ts';
import { registerControllers } from '../../../operator/controllers/index.ts';
import { logger } from '../../../operator/logging/logger.ts';
import { adminClient, apiServerPid, controlPlane, createNamespace, createRB, getRB, isAccepted, kubeConfig, waitFor, within } from './helpers.ts';

test('a cluster-wide leader reconciles any namespace; when it cannot renew within the renew deadline it stops and reports leadership-lost', async (t) => {
  const cp = await controlPlane(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const registry = createRegistry({ defaults: false });
  const mgr = await Manager.create({
    kubeConfig: kubeConfig(cp),
    namespaces: undefined, // all namespaces (cluster-wide informers)
    leaderElection: { namespace: ns, id: 'lost-test', leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 },
    registry,
    log: logger.child({ test: 'leaderlost' }),
  });
  registerControllers(mgr);
  t.teardown(() => mgr.stop());
  await mgr.start();
  await waitFor('leadership', () => mgr.isLeader());
  t.is(await sumCounter(registry, 'leader_election_master_status'), 1);
  // Cluster-wide scope: an object in any namespace is reconciled.
  const other = await createNamespace(admin, 'other');
  await createRB(admin, other, 'anywhere');
  await waitFor('accepted in another namespace', async () => isAccepted(await getRB(admin, other, 'anywhere')));

  const pid = apiServerPid(cp);
  process.kill(pid, 'SIGSTOP');
  const frozenAt = Date.now();
  let reason: string | undefined;
  try {
    reason = await within(mgr.done, 15_000);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  const after = Date.now() - frozenAt;
  t.is(reason, 'leadership-lost');
  t.log(`leadership given up ${after} ms after the API server froze`);
  t.true(after >= 3_000, 'not before the renew deadline');
  t.false(mgr.isLeader());
  t.is(await sumCounter(registry, 'leader_election_master_status'), 0);
  t.true(mgr.controllers.every((c) => c.queue.shuttingDown));
});
