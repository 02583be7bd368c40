/**
 * Watches of owned objects: a Pod or Job whose controller ownerReference points at a RolloutBatch
 * enqueues that RolloutBatch's key; a Pod without a controller reference enqueues nothing. The
 * owned kinds' caches are label-selected (only what the operator created is cached).
 */
import test from 'ava';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry } from '../../../operator/metrics/registry.ts';
import { Jobs, Pods, resourcePath } from '../../../operator/runtime/kube/resource.ts';
import { logger } from '../../../operator/logging/logger.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';
import { adminClient, cluster, createNamespace, createRB, kubeConfig, RB, waitFor } from './helpers.ts';

const log = logger.child({ test: 'owns' });

test('events of owned Pods and Jobs reconcile their controller owner; unselected and unowned objects do not', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry: createRegistry({ defaults: false }), log });
  const seen: string[] = [];
  mgr.addController({
    name: 'owner',
    for: RB,
    owns: [Pods, Jobs],
    ownedLabelSelector: 'app.kubernetes.io/managed-by=entropo',
    reconciler: {
      async reconcile(req) {
        seen.push(req.name);
      },
    },
  });
  t.teardown(() => mgr.stop());
  await mgr.start();
  const owner = await createRB(admin, ns, 'owner-1');
  await waitFor('owner reconciled once', () => seen.includes('owner-1'));
  const ref = { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', name: 'owner-1', uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
  const labels = { 'app.kubernetes.io/managed-by': 'entropo' };
  const pod = (name: string, meta: Partial<KubeObject['metadata']>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, ...meta },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });

  const count = () => seen.filter((n) => n === 'owner-1').length;
  let before = count();
  await admin.request('POST', resourcePath(Pods, ns), { body: pod('owned', { labels, ownerReferences: [ref] }) });
  await waitFor('owner reconciled for its pod', () => count() > before);

  // The test plays the kubelet: a status change of the owned Pod reconciles the owner again.
  before = count();
  await admin.request('PATCH', resourcePath(Pods, ns, 'owned', 'status'), {
    body: { status: { phase: 'Running' } },
    contentType: 'application/merge-patch+json',
  });
  await waitFor('owner reconciled for the pod status change', () => count() > before);

  before = count();
  await admin.request('POST', resourcePath(Jobs, ns), {
    body: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'trainer', namespace: ns, labels, ownerReferences: [ref] },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
    },
  });
  await waitFor('owner reconciled for its job', () => count() > before);

  // Not selected (no label) or not a controller reference: nothing is enqueued.
  const settled = seen.length;
  await admin.request('POST', resourcePath(Pods, ns), { body: pod('unlabelled', { ownerReferences: [ref] }) });
  await admin.request('POST', resourcePath(Pods, ns), { body: pod('not-controller', { labels, ownerReferences: [{ ...ref, controller: false }] }) });
  await admin.request('POST', resourcePath(Pods, ns), { body: pod('canary', { labels, ownerReferences: [{ ...ref, name: 'owner-2' }] }) });
  await waitFor('the canary (owner-2) reconciled', () => seen.includes('owner-2'));
  t.deepEqual(seen.slice(settled), ['owner-2'], 'only the canary\'s owner was enqueued');
  const podCache = mgr.cache(Pods, 'app.kubernetes.io/managed-by=entropo');
  t.deepEqual(podCache.list().map((p) => p.metadata.name).sort(), ['canary', 'not-controller', 'owned']);
});
