/**
 * Two real operator processes (`node bin/entropo.js operator`) against a real API server: exactly
 * one leads and reconciles, a SIGKILLed leader is replaced within lease duration + renew deadline,
 * and SIGTERM exits 0 and releases the lease.
 */
import test from 'ava';
import { sumSamples } from '../../../operator/metrics/parse.ts';
import { resourcePath, Leases } from '../../../operator/runtime/kube/resource.ts';
import { adminClient, cluster, createNamespace, createRB, getRB, isAccepted, readyz, scrape, startOperator, waitFor, within, type OperatorProcess } from './helpers.ts';

const LEASE = 'entropo-leader-test';

const reconciles = async (p: OperatorProcess) => sumSamples(await scrape(p.metricsPort), 'controller_runtime_reconcile_total');
const leading = async (p: OperatorProcess) => sumSamples(await scrape(p.metricsPort), 'leader_election_master_status', { name: LEASE }) === 1;

test('two operator processes: one reconciles; SIGKILL of the leader hands over within 25 s; SIGTERM exits 0 and releases the lease', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const args = ['--watch-namespace', ns, '--leader-election-namespace', ns, '--leader-election-id', LEASE, '--workers', '2'];
  // One finds its kubeconfig through --kubeconfig, the other through KUBECONFIG.
  const procs = [await startOperator(t, cp, args), await startOperator(t, cp, args, { kubeconfigFromEnv: true })];

  // Both serve metrics; exactly one leads.
  await waitFor('both operators serving /metrics', async () => (await Promise.all(procs.map((p) => scrape(p.metricsPort).then(() => true)))).every(Boolean), 60_000);
  const leader = await waitFor('a leader', async () => {
    const l = await Promise.all(procs.map(leading));
    return l.filter(Boolean).length === 1 && procs[l.indexOf(true)];
  }, 30_000);
  const follower = procs.find((p) => p !== leader)!;

  const names = ['r1', 'r2', 'r3', 'r4', 'r5'];
  for (const n of names) await createRB(admin, ns, n);
  await waitFor('all accepted', async () => (await Promise.all(names.map((n) => getRB(admin, ns, n)))).every(isAccepted));
  t.true((await reconciles(leader)) >= names.length);
  t.is(await reconciles(follower), 0, 'the follower reconciled nothing');
  t.false(await leading(follower));
  t.is(await readyz(leader.healthPort), 200);
  t.is(await readyz(follower.healthPort), 503);
  const lease = await admin.request<{ spec: { holderIdentity: string; leaseDurationSeconds: number } }>('GET', resourcePath(Leases, ns, LEASE));
  t.is(lease.spec.leaseDurationSeconds, 15);
  t.truthy(lease.spec.holderIdentity);

  // SIGKILL the leader: no release, the follower must wait for the lease to expire.
  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  await leader.exited;
  await waitFor('the follower to lead', () => leading(follower), 30_000, 250);
  const handover = Date.now() - killedAt;
  t.log(`handover after SIGKILL: ${handover} ms`);
  t.true(handover <= 25_000, `handover took ${handover} ms`);
  t.true(handover >= 5_000, `handover in ${handover} ms: the lease cannot have expired yet`);
  const newLease = await admin.request<{ spec: { holderIdentity: string; leaseTransitions: number } }>('GET', resourcePath(Leases, ns, LEASE));
  t.not(newLease.spec.holderIdentity, lease.spec.holderIdentity);
  t.is(newLease.spec.leaseTransitions, 1);

  // The new leader reconciles new work.
  await createRB(admin, ns, 'r6');
  await waitFor('r6 accepted by the new leader', async () => isAccepted(await getRB(admin, ns, 'r6')));
  t.true((await reconciles(follower)) >= 1);
  t.is(await readyz(follower.healthPort), 200);

  // SIGTERM: graceful, exit 0 within the 30 s bound, lease released.
  const termAt = Date.now();
  follower.child.kill('SIGTERM');
  const exit = await within(follower.exited, 35_000);
  t.deepEqual(exit, { code: 0, signal: null });
  t.log(`SIGTERM to exit: ${Date.now() - termAt} ms`);
  const released = await admin.request<{ spec: { holderIdentity?: string } }>('GET', resourcePath(Leases, ns, LEASE));
  t.falsy(released.spec.holderIdentity, 'lease released on graceful shutdown');
});
