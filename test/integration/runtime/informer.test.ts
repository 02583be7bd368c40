/**
 * Informer recovery against a real kube-apiserver + etcd: an API server restart mid-watch, and a
 * watch resumed from a compacted resourceVersion (410 Gone -> relist, vanished objects deleted).
 */
import test from 'ava';
import { Manager } from '../../../operator/runtime/manager.ts';
import { Informer, sleep } from '../../../operator/runtime/informer.ts';
import { createRegistry } from '../../../operator/metrics/registry.ts';
import { registerControllers } from '../../../operator/controllers/index.ts';
import { resourcePath } from '../../../operator/runtime/kube/resource.ts';
import { Backoff } from '../../../operator/runtime/ratelimit.ts';
import { logger } from '../../../operator/logging/logger.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';
import { adminClient, apiServerPid, cluster, controlPlane, createNamespace, createRB, getRB, isAccepted, kubeConfig, RB, rolloutBatch, waitFor } from './helpers.ts';

const log = logger.child({ test: 'informer' });

test('an API server restart mid-watch: the informer recovers and changes made after it are reconciled', async (t) => {
  const cp = await controlPlane(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry: createRegistry({ defaults: false }), log });
  registerControllers(mgr, { workers: 2 });
  t.teardown(() => mgr.stop());
  await mgr.start();

  await createRB(admin, ns, 'before');
  await waitFor('"before" accepted', async () => isAccepted(await getRB(admin, ns, 'before')));
  const informer = mgr.cache(RB).informers[0];
  const watchesBefore = informer.stats.watches;

  await cp.stopApiServer();
  await sleep(2_000); // the watch is broken; re-watches are refused
  await cp.startApiServer();

  // Changes after the restart: a new object (kubectl) and a spec change of the old one (generation 2).
  const created = cp.kubectl(['create', '-f', '-'], JSON.stringify(rolloutBatch(ns, 'after')));
  t.is(created.status, 0, created.stderr);
  const patched = cp.kubectl(['-n', ns, 'patch', 'rolloutbatch', 'before', '--type=merge', '-p', '{"spec":{"samplesPerTask":3}}']);
  t.is(patched.status, 0, patched.stderr);

  const after = await waitFor('"after" accepted', async () => {
    const o = await getRB(admin, ns, 'after');
    return isAccepted(o) && o;
  });
  const before = await waitFor('"before" re-accepted at generation 2', async () => {
    const o = await getRB(admin, ns, 'before');
    return o.metadata.generation === 2 && isAccepted(o) && o;
  });
  t.is(before.status?.observedGeneration, 2);
  t.is(after.status?.observedGeneration, 1);
  t.true(informer.stats.watchFailures >= 1, `watch failures: ${JSON.stringify(informer.stats)}`);
  t.true(informer.stats.watches > watchesBefore);
  t.is(informer.size, 2);
});

test('a watch resumed from a compacted resourceVersion relists (410) and delivers the objects that vanished as deletes', async (t) => {
  const cp = await controlPlane(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const client = await adminClient(cp);
  t.teardown(() => client.close());
  const informer = new Informer({ client, resource: RB, namespace: ns, backoff: new Backoff(200, 2_000), log });
  const deleted: string[] = [];
  const added: string[] = [];
  informer.addHandler({ onAdd: (o) => added.push(o.metadata.name!), onDelete: (o) => deleted.push(o.metadata.name!) });
  informer.start();
  t.teardown(() => informer.stop());
  for (const n of ['a', 'b', 'c']) await createRB(admin, ns, n);
  await waitFor('3 objects cached', () => informer.size === 3);
  const rvBefore = informer.lastResourceVersion;

  await cp.stopApiServer();
  // While the informer cannot watch: 'b' disappears (straight from etcd), then etcd is compacted
  // past the informer's resourceVersion.
  const etcd = async (op: string, body: unknown) => {
    const res = await fetch(`${cp.etcdUrl}/v3/kv/${op}`, { method: 'POST', body: JSON.stringify(body) });
    t.is(res.status, 200, `${op}: ${await res.clone().text()}`);
    return (await res.json()) as { header: { revision: string } };
  };
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const del = await etcd('deleterange', { key: b64(`/registry/entropo.dev/rolloutbatches/${ns}/b`) });
  await etcd('compaction', { revision: del.header.revision, physical: true });
  t.true(Number(del.header.revision) > Number(rvBefore));
  await cp.startApiServer();

  await waitFor('b deleted by the relist', () => deleted.includes('b'), 60_000);
  t.true(informer.stats.relistsOnGone >= 1, JSON.stringify(informer.stats));
  t.deepEqual(informer.list().map((o: KubeObject) => o.metadata.name).sort(), ['a', 'c']);
  t.deepEqual(deleted, ['b']);
  t.deepEqual(added.sort(), ['a', 'b', 'c']); // no duplicate adds for a and c
  // And the informer keeps watching after the relist.
  await createRB(admin, ns, 'd');
  await waitFor('d cached', () => informer.get(ns, 'd'));
  const gone = await admin.request('GET', resourcePath(RB, ns, 'b')).then(
    () => 200,
    (e: { code: number }) => e.code,
  );
  t.is(gone, 404);
});

test('a watch that goes silent (API server frozen with SIGSTOP) is restarted by the watchdog', async (t) => {
  const cp = await controlPlane(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const client = await adminClient(cp);
  t.teardown(() => client.close());
  const informer = new Informer({ client, resource: RB, namespace: ns, idleTimeoutMs: 3_000, watchTimeoutSeconds: 300, backoff: new Backoff(200, 1_000), log });
  informer.start();
  t.teardown(() => informer.stop());
  await createRB(admin, ns, 'one');
  await waitFor('one cached', () => informer.get(ns, 'one'));
  const pid = apiServerPid(cp);
  process.kill(pid, 'SIGSTOP');
  try {
    // The TCP connection stays open but nothing arrives: only the watchdog can notice.
    await waitFor('the watchdog to fire', () => informer.stats.silentWatches >= 1, 15_000);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await createRB(admin, ns, 'two');
  await waitFor('two cached after the restart of the watch', () => informer.get(ns, 'two'), 30_000);
  t.true(informer.stats.silentWatches >= 1, JSON.stringify(informer.stats));
  t.true(informer.stats.watches >= 2);
});

test('a watch ended by its server-side timeout resumes from the last resourceVersion: no relist, no lost change', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const client = await adminClient(cp);
  t.teardown(() => client.close());
  const informer = new Informer({ client, resource: RB, namespace: ns, watchTimeoutSeconds: 1, log });
  const events: string[] = [];
  informer.addHandler({
    onAdd: (o) => events.push(`add ${o.metadata.name}`),
    onUpdate: (_old, o) => events.push(`update ${o.metadata.name} ${o.metadata.generation}`),
    onDelete: (o) => events.push(`delete ${o.metadata.name}`),
  });
  informer.start();
  t.teardown(() => informer.stop());
  await informer.waitForSync();
  for (let i = 0; i < 4; i++) {
    await createRB(admin, ns, `w${i}`);
    await new Promise((r) => setTimeout(r, 700)); // spans several 1 s watches
  }
  await admin.request('PATCH', resourcePath(RB, ns, 'w0'), { body: { spec: { samplesPerTask: 2 } }, contentType: 'application/merge-patch+json' });
  await admin.request('DELETE', resourcePath(RB, ns, 'w1'));
  await waitFor('the delete seen', () => events.includes('delete w1'));
  t.deepEqual(events, ['add w0', 'add w1', 'add w2', 'add w3', 'update w0 2', 'delete w1']);
  t.is(informer.stats.lists, 1, 'never relisted');
  t.true(informer.stats.watches >= 3, `watches: ${informer.stats.watches}`);
  t.is(informer.stats.watchFailures, 0);
});
