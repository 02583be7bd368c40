/**
 * manifests/install applies to a real API server and its RBAC grants the operator's service
 * account what the operator needs, and no more than that where it matters (Secrets read-only).
 */
import test from 'ava';
import { testCluster } from '../helpers/cluster.ts';

test.after.always(async () => (await testCluster()).stop());

const SA = 'system:serviceaccount:entropo-system:entropo-operator';

test('manifests/install applies server-side and grants the operator its permissions', async (t) => {
  const c = await testCluster();
  const r = c.kubectl(['apply', '--server-side', '-f', 'manifests/install/']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /deployment\.apps\/entropo-operator serverside-applied/);

  const can = (verb: string, resource: string, ns = 'team-a') =>
    c.kubectl(['auth', 'can-i', verb, resource, '--as', SA, '-n', ns]).stdout.trim();
  for (const [verb, resource] of [
    ['watch', 'trainingruns.entropo.dev'],
    ['patch', 'trainingruns.entropo.dev/status'],
    ['update', 'evalsuites.entropo.dev/status'],
    ['create', 'pods'],
    ['delete', 'pods'],
    ['create', 'jobs.batch'],
    ['create', 'deployments.apps'],
    ['create', 'networkpolicies.networking.k8s.io'],
    ['get', 'secrets'],
    ['create', 'events'],
  ]) {
    t.is(can(verb, resource), 'yes', `${verb} ${resource}`);
  }
  t.is(can('update', 'leases.coordination.k8s.io', 'entropo-system'), 'yes');
  t.is(can('update', 'leases.coordination.k8s.io', 'team-a'), 'no', 'leases only in the operator namespace');
  t.is(can('list', 'secrets'), 'no', 'secrets are read by name only');
  t.is(can('create', 'secrets'), 'no');
  t.is(can('create', 'clusterroles.rbac.authorization.k8s.io'), 'no');
});
