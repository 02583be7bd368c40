/** Server-side apply helpers and counted typed clients against a real API server. */
import test from 'ava';
import { CoreV1Api } from '@kubernetes/client-node';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry, sumCounter } from '../../../operator/metrics/registry.ts';
import { apply, applyStatus, createOrGet, deleteIfExists, FIELD_MANAGER } from '../../../operator/runtime/apply.ts';
import { ConfigMaps } from '../../../operator/runtime/kube/resource.ts';
import { logger } from '../../../operator/logging/logger.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';
import { adminClient, cluster, createNamespace, createRB, getRB, kubeConfig, RB } from './helpers.ts';

test('apply, applyStatus (no request when nothing changes), createOrGet, deleteIfExists, counted typed clients', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const registry = createRegistry({ defaults: false });
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry, log: logger });
  t.teardown(() => mgr.stop());
  const client = mgr.client;
  const requests = () => sumCounter(registry, 'rest_client_requests_total');

  const cm: KubeObject = { metadata: { name: 'cfg', namespace: ns }, data: { a: '1' } };
  const first = await apply(client, ConfigMaps, cm);
  const second = await apply(client, ConfigMaps, cm);
  t.is(second.metadata.resourceVersion, first.metadata.resourceVersion, 'the same apply changes nothing on the server');
  const managers = (first.metadata.managedFields as { manager: string }[]).map((f) => f.manager);
  t.true(managers.includes(FIELD_MANAGER));

  const rb = await createRB(admin, ns, 'ssa');
  const status = { phase: 'Pending', observedGeneration: 1 };
  const r1 = await applyStatus(client, RB, rb, status);
  t.true(r1.changed);
  t.like(r1.object.status as object, status);
  const before = await requests();
  const r2 = await applyStatus(client, RB, r1.object, status);
  t.false(r2.changed);
  t.is(await requests(), before, 'no request when the status already holds the fields');

  const c1 = await createOrGet(client, ConfigMaps, { metadata: { name: 'once', namespace: ns }, data: { v: 'x' } } as KubeObject);
  const c2 = await createOrGet(client, ConfigMaps, { metadata: { name: 'once', namespace: ns }, data: { v: 'y' } } as KubeObject);
  t.true(c1.created);
  t.false(c2.created);
  t.is((c2.object as KubeObject & { data: { v: string } }).data.v, 'x');
  t.true(await deleteIfExists(client, ConfigMaps, ns, 'once'));
  t.false(await deleteIfExists(client, ConfigMaps, ns, 'once'));

  const core = mgr.apiClient(CoreV1Api);
  const gets = () => sumCounter(registry, 'rest_client_requests_total', (l) => l.method === 'GET' && l.code === '200');
  const g0 = await gets();
  const list = await core.listNamespacedConfigMap({ namespace: ns });
  t.true(list.items.some((c) => c.metadata?.name === 'cfg'));
  t.is(await gets(), g0 + 1, 'the typed client\'s request was counted');
});

test('applyStatus removes a field this manager stops applying, though the new status is a subset of the live one', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const registry = createRegistry({ defaults: false });
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry, log: logger });
  t.teardown(() => mgr.stop());
  const rb = await createRB(admin, ns, 'subset');
  const r1 = await applyStatus(mgr.client, RB, rb, { phase: 'Running', message: 'working' });
  t.true(r1.changed);
  const r2 = await applyStatus(mgr.client, RB, r1.object, { phase: 'Running' });
  t.true(r2.changed, 'the apply was sent');
  t.is((r2.object.status as { message?: string }).message, undefined, 'message removed by the server');
  t.is(((await getRB(admin, ns, 'subset')).status as { message?: string }).message, undefined);
  const before = await sumCounter(registry, 'rest_client_requests_total');
  const r3 = await applyStatus(mgr.client, RB, r2.object, { phase: 'Running' });
  t.false(r3.changed, 'same fields, same values: nothing sent');
  t.is(await sumCounter(registry, 'rest_client_requests_total'), before);
  // A field another writer set is not ours: applying our own unchanged fields sends nothing and keeps it.
  const other = await admin.request<KubeObject>('PATCH', `/apis/entropo.dev/v1alpha1/namespaces/${ns}/rolloutbatches/subset/status`, {
    body: { status: { message: 'set by someone else' } },
    contentType: 'application/merge-patch+json',
  });
  const r4 = await applyStatus(mgr.client, RB, other, { phase: 'Running' });
  t.false(r4.changed);
  t.is((other.status as { message?: string }).message, 'set by someone else');
});
