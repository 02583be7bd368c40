/**
 * Envtest pieces for the reconcilers: a real API server (no kubelet), the operator's Manager with
 * the real controllers, a file:// artifact store shared with the test, and a "kubelet" played by
 * the test: it writes Pod status (waiting reasons, evictions, termination messages) through the
 * /status subresource, and the trajectory a sandbox would have written to the store.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import { Manager } from '../../../operator/runtime/manager.ts';
import { createRegistry } from '../../../operator/metrics/registry.ts';
import { registerControllers } from '../../../operator/controllers/index.ts';
import type { RestClient } from '../../../operator/runtime/kube/rest.ts';
import { EntropoResources, Pods, resourcePath } from '../../../operator/runtime/kube/resource.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';
import { FsStore } from '../../../operator/store/fs-store.ts';
import { logger } from '../../../operator/logging/logger.ts';
import { kubeConfig, type Cluster } from '../runtime/helpers.ts';
import type { Registry } from 'prom-client';
import type { ArtifactStore } from '../../../operator/store/store.ts';

export { waitFor, createNamespace, adminClient, cluster } from '../runtime/helpers.ts';
export const RB = EntropoResources.RolloutBatch;
export const ES = EntropoResources.EvalSuite;

/** A fresh file:// store directory shared by the test and the operator. */
export function tempStore(): { uri: string; store: FsStore } {
  const dir = mkdtempSync(join(tmpdir(), 'entropo-store-'));
  return { uri: `file://${dir}`, store: new FsStore(dir) };
}

export interface Operator {
  mgr: Manager;
  registry: Registry;
  stop(): Promise<boolean>;
}

export async function startOperator(t: ExecutionContext, cp: Cluster, ns: string, opts: { minStatusIntervalMs?: number; openStore?: (uri: string) => ArtifactStore } = {}): Promise<Operator> {
  const registry = createRegistry({ defaults: false });
  const mgr = await Manager.create({ kubeConfig: kubeConfig(cp), namespaces: [ns], leaderElection: false, registry, log: logger.child({ test: t.title.slice(0, 40) }), gracefulShutdownMs: 5_000 });
  registerControllers(mgr, { workers: 2, operatorImage: 'entropo.local/operator:test', sandboxBaseImage: 'entropo.local/task-base:test', ...opts });
  let stopped = false;
  t.teardown(() => (stopped ? undefined : mgr.stop()));
  await mgr.start();
  return {
    mgr,
    registry,
    stop: () => {
      stopped = true;
      return mgr.stop();
    },
  };
}

export type Obj = KubeObject & { spec: Record<string, any>; status?: Record<string, any> };

export function rolloutBatch(ns: string, name: string, storeUri: string, spec: Record<string, unknown> = {}): Obj {
  return {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'RolloutBatch',
    metadata: { name, namespace: ns },
    spec: {
      policy: { name: 'scripted', endpoint: { url: 'http://10.0.0.9:8000/v1' } },
      tasks: { builtin: { split: 'All' }, limit: 2 },
      samplesPerTask: 2,
      parallelism: 2,
      storage: { uri: storeUri },
      ...spec,
    },
  };
}

export async function create(client: RestClient, resource = RB, obj: Obj): Promise<Obj> {
  return client.request<Obj>('POST', resourcePath(resource, obj.metadata.namespace), { body: obj });
}

export async function get(client: RestClient, ns: string, name: string, resource = RB): Promise<Obj> {
  return client.request<Obj>('GET', resourcePath(resource, ns, name));
}

export async function pods(client: RestClient, ns: string): Promise<V1Pod[]> {
  const list = await client.request<{ items: V1Pod[] }>('GET', resourcePath(Pods, ns));
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

const envOf = (p: V1Pod, container: string): Record<string, string> =>
  Object.fromEntries(([...(p.spec!.initContainers ?? []), ...p.spec!.containers].find((c) => c.name === container)?.env ?? []).map((e) => [e.name, e.value ?? '']));

/** Identity of a sandbox Pod from its labels and env. */
export function identity(p: V1Pod): { name: string; index: number; attempt: number; task: string; sample: number; trajectoryKey: string } {
  const l = p.metadata!.labels!;
  const g = envOf(p, 'grade');
  return { name: p.metadata!.name!, index: Number(l['entropo.dev/index']), attempt: Number(l['entropo.dev/attempt']), task: p.metadata!.annotations!['entropo.dev/task-id'], sample: Number(g.ENTROPO_SAMPLE), trajectoryKey: g.ENTROPO_TRAJECTORY_KEY };
}

async function patchPodStatus(client: RestClient, p: V1Pod, status: Record<string, unknown>): Promise<void> {
  await client.request('PATCH', resourcePath(Pods, p.metadata!.namespace!, p.metadata!.name!, 'status'), { body: { status }, contentType: 'application/merge-patch+json' });
}

const ts = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const term = (name: string, exitCode: number, message?: string, reason = exitCode === 0 ? 'Completed' : 'Error') => ({
  name, image: 'x', imageID: '', ready: false, restartCount: 0,
  state: { terminated: { exitCode, reason, startedAt: ts(), finishedAt: ts(), ...(message !== undefined ? { message } : {}) } },
});

/** The test plays the sandbox and the kubelet: trajectory to the store, then the Pod Succeeded with the summary. */
export async function succeed(client: RestClient, store: ArtifactStore, p: V1Pod, o: { resolved: boolean; steps?: number; patch?: string }): Promise<void> {
  const id = identity(p);
  const trajectory = `${id.task}/${id.sample}/run`;
  await store.put(id.trajectoryKey, JSON.stringify({ schema: 'entropo.dev/trajectory/v1', id: trajectory, taskId: id.task, sample: id.sample, patch: o.patch ?? `diff for ${id.task}\n`, resolved: o.resolved }));
  const summary = {
    v: 1, task: id.task, sample: id.sample, trajectory, key: id.trajectoryKey, finished: true, exit: 'finished', steps: o.steps ?? 5, tokens: 1000, seconds: 12,
    patchHash: `h-${id.task}-${id.sample}`, regression: { passed: 3, failed: 0 }, hidden: { passed: o.resolved ? 2 : 1, failed: o.resolved ? 0 : 1 }, resolved: o.resolved, reward: o.resolved ? 1 : 0,
  };
  await patchPodStatus(client, p, { phase: 'Succeeded', containerStatuses: [term('grade', 0, JSON.stringify(summary))] });
}

/** The kubelet evicted the Pod. */
export async function evict(client: RestClient, p: V1Pod): Promise<void> {
  await patchPodStatus(client, p, { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' });
}

/** The task image cannot be pulled: the agent init container waits in ImagePullBackOff. */
export async function imagePullBackOff(client: RestClient, p: V1Pod): Promise<void> {
  await patchPodStatus(client, p, {
    phase: 'Pending',
    initContainerStatuses: [
      term('copy-runtime', 0),
      term('prepare', 0),
      { name: 'agent', image: 'nope', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope"' } } },
    ],
  });
}

/** The agent is running. */
export async function running(client: RestClient, p: V1Pod): Promise<void> {
  await patchPodStatus(client, p, {
    phase: 'Pending',
    initContainerStatuses: [term('copy-runtime', 0), term('prepare', 0), { name: 'agent', image: 'x', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: ts() } } }],
  });
}

/** The agent exited 3 (model_error): no sample. */
export async function noSample(client: RestClient, p: V1Pod): Promise<void> {
  const id = identity(p);
  const summary = { v: 1, task: id.task, sample: id.sample, trajectory: '', key: id.trajectoryKey, finished: false, exit: 'model_error', steps: 0, tokens: 0, seconds: 1, patchHash: '', regression: { passed: 0, failed: 0 }, hidden: { passed: 0, failed: 0 }, resolved: false, reward: 0, error: 'endpoint unreachable' };
  await patchPodStatus(client, p, { phase: 'Failed', initContainerStatuses: [term('copy-runtime', 0), term('prepare', 0), term('agent', 3, JSON.stringify(summary))] });
}
