/**
 * Benchmark (not a test): `npm run bench:fanout`. Sandbox Pod fan-out through the RolloutBatch
 * reconciler versus a plain create loop, in one run, against the same real kube-apiserver + etcd
 * (envtest binaries on loopback), with the same REST client and the same Pod spec:
 *
 *   plain loop   N sandbox Pods (operator/workloads/sandbox-pod.ts) created one after another by a
 *                counted RestClient: the ceiling of one client creating Pods;
 *   reconciler   one RolloutBatch of N rollouts (40 built-in tasks x N/40 samples, parallelism N)
 *                reconciled by the operator's Manager and controllers in this process, the Pods
 *                run to completion by simulated nodes: kwok (test/e2e/kwok.ts) when
 *                ENTROPO_FANOUT_KWOK=1 and the node assets are provisioned, else a kubelet played
 *                by this benchmark (it writes each Pod's Succeeded status with its summary, as
 *                kwok does).
 *
 * Reports Pods/s of both arms and their ratio (goal >= 0.8), API requests per Pod of the operator
 * (rest_client_requests_total / N, every request: lists, watches, creates, deletes, status,
 * events), status writes per object per second during the batch (goal <= 1), time to Succeeded,
 * and the peak RSS of this process (operator + simulated kubelet; sampled every 50 ms).
 *
 * Flags: --pods N (default 2000), --tasks T (default 40).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { ControlPlane, resolveAssets } from '../test/envtest/controlplane.ts';
import { installCrds } from '../test/envtest/crds.ts';
import { Manager } from '../operator/runtime/manager.ts';
import { registerControllers } from '../operator/controllers/index.ts';
import { EntropoResources, Pods, resourcePath } from '../operator/runtime/kube/resource.ts';
import { RestClient } from '../operator/runtime/kube/rest.ts';
import { createRegistry, runtimeMetrics, sumCounter } from '../operator/metrics/registry.ts';
import { FsStore } from '../operator/store/fs-store.ts';
import { logger } from '../operator/logging/logger.ts';
import { sandboxPod } from '../operator/workloads/sandbox-pod.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '2000' }, tasks: { type: 'string', default: '40' } } });
const N = Number(values.pods);
const TASKS = Number(values.tasks);
const SAMPLES = Math.ceil(N / TASKS);
const TOTAL = TASKS * SAMPLES;
logger.level = process.env.ENTROPO_LOG_LEVEL ?? 'error';
const RB = EntropoResources.RolloutBatch;
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

async function namespace(client: RestClient, name: string): Promise<void> {
  await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

/** The plain arm: N Pods of the same spec, created one after another. */
async function plainLoop(cp: ControlPlane): Promise<{ seconds: number; requests: number }> {
  const registry = createRegistry({ defaults: false });
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const client = await RestClient.fromKubeConfig(kc, { metrics: runtimeMetrics(registry) });
  await namespace(client, 'plain');
  const t0 = performance.now();
  for (let i = 0; i < TOTAL; i++) {
    const pod = sandboxPod(
      {
        name: `plain-${i}-a0`,
        owner: { kind: 'RolloutBatch', namespace: 'plain', name: 'plain', uid: '00000000-0000-0000-0000-000000000000' },
        index: i,
        taskId: `task-${Math.floor(i / SAMPLES)}`,
        sample: i % SAMPLES,
        attempt: 0,
        tasksKey: 'k/tasks.jsonl',
        policy: { model: 'scripted', url: 'http://10.0.0.9:8000/v1' },
        sampling: { temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 4096 },
        limits: { maxSteps: 200, maxTokens: 131072, timeoutSeconds: 3600, toolTimeoutSeconds: 120, toolCallFormat: 'Native' },
        sandbox: { network: 'PolicyOnly', runAsNonRoot: true },
        storeUri: 'file:///tmp/x',
        trajectoryKey: `k/trajectories/plain-${i}-a0.json`,
        run: 'plain',
        source: { kind: 'RolloutBatch', namespace: 'plain', name: 'plain' },
        activeDeadlineSeconds: 4500,
      },
      { operatorImage: 'entropo.local/operator:bench', baseImage: 'entropo.local/task-base:bench', task: { format: 'self-contained' } },
    );
    // An owner uid that does not exist: the garbage collector is not running in envtest.
    await client.request('POST', resourcePath(Pods, 'plain'), { body: pod, discardResponse: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const requests = await sumCounter(registry, 'rest_client_requests_total');
  client.close();
  return { seconds, requests };
}

/**
 * Plays the kubelet for the reconciler arm, from a watch (incremental, as a kubelet's own watch
 * is): every new sandbox Pod writes its trajectory to the store and succeeds with its summary.
 */
function kubelet(client: RestClient, store: FsStore, ns: string): { stop: () => void; done: () => number } {
  const abort = new AbortController();
  let finished = 0;
  const finish = async (p: V1Pod) => {
    const name = p.metadata!.name!;
    const env = Object.fromEntries((p.spec!.containers[0].env ?? []).map((e) => [e.name, e.value ?? '']));
    const task = p.metadata!.annotations!['entropo.dev/task-id'];
    const sample = Number(env.ENTROPO_SAMPLE);
    const key = env.ENTROPO_TRAJECTORY_KEY;
    const resolved = sample % 3 === 0;
    await store.put(key, JSON.stringify({ id: `${task}/${sample}/bench`, taskId: task, sample, patch: '' }));
    const summary = {
      v: 1, task, sample, trajectory: `${task}/${sample}/bench`, key, finished: true, exit: 'finished', steps: 7, tokens: 5000, seconds: 30,
      patchHash: '', regression: { passed: 1, failed: 0 }, hidden: { passed: resolved ? 1 : 0, failed: resolved ? 0 : 1 }, resolved, reward: resolved ? 1 : 0,
    };
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await client.request('PATCH', resourcePath(Pods, ns, name, 'status'), {
      body: { status: { phase: 'Succeeded', containerStatuses: [{ name: 'grade', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', message: JSON.stringify(summary), startedAt: now, finishedAt: now } } }] } },
      contentType: 'application/merge-patch+json',
    });
    finished++;
  };
  void client
    .watch(resourcePath(Pods, ns), {}, (ev) => {
      if (ev.type === 'ADDED') void finish(ev.object as unknown as V1Pod).catch(() => undefined);
    }, { signal: abort.signal, idleTimeoutMs: 600_000 })
    .catch(() => undefined);
  return { stop: () => abort.abort(), done: () => finished };
}

async function reconcilerArm(cp: ControlPlane): Promise<Record<string, number>> {
  const admin = await RestClient.fromKubeConfig((() => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    return kc;
  })());
  const ns = 'fanout';
  await namespace(admin, ns);
  const dir = mkdtempSync(join(tmpdir(), 'entropo-fanout-store-'));
  const store = new FsStore(dir);
  const registry = createRegistry({ defaults: false });
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const mgr = await Manager.create({ kubeConfig: kc, namespaces: [ns], leaderElection: false, registry, log: logger });
  registerControllers(mgr, { workers: 4, operatorImage: 'entropo.local/operator:bench', sandboxBaseImage: 'entropo.local/task-base:bench' });
  await mgr.start();
  const sim = process.env.FANOUT_NO_KUBELET ? { stop: () => undefined, done: () => 0 } : kubelet(admin, store, ns);
  const created = () => sumCounter(registry, 'rest_client_requests_total', (l) => l.method === 'POST' && l.code === '201');
  // Count the Pods as the API server announces them (a watch), not by listing: finished Pods are
  // deleted while others are still being created.
  let seen = 0;
  let tFirst = 0;
  let tCreated = 0;
  const watchAbort = new AbortController();
  void admin
    .watch(resourcePath(Pods, ns), {}, (ev) => {
      if (ev.type !== 'ADDED') return;
      if (++seen === 1) tFirst = performance.now();
      if (seen === TOTAL) tCreated = performance.now();
    }, { signal: watchAbort.signal, idleTimeoutMs: 600_000 })
    .catch(() => undefined);
  await sleep(200);
  const t0 = performance.now();
  await admin.request('POST', resourcePath(RB, ns), {
    body: {
      apiVersion: 'entropo.dev/v1alpha1',
      kind: 'RolloutBatch',
      metadata: { name: 'fanout', namespace: ns },
      spec: {
        policy: { name: 'scripted', endpoint: { url: 'http://10.0.0.9:8000/v1' } },
        tasks: { builtin: { split: 'All' }, limit: TASKS },
        samplesPerTask: SAMPLES,
        parallelism: TOTAL,
        storage: { uri: `file://${dir}` },
      },
    },
  });
  let tDone = 0;
  for (;;) {
    await sleep(250);
    const rb = await admin.request<{ status?: { phase?: string } }>('GET', resourcePath(RB, ns, 'fanout'));
    if (rb.status?.phase === 'Succeeded' || (process.env.FANOUT_NO_KUBELET && tCreated)) {
      tDone = performance.now();
      if (!tCreated) tCreated = tDone;
      break;
    }
    if (performance.now() - t0 > 30 * 60_000) throw new Error('the batch did not finish within 30 minutes');
  }
  sim.stop();
  watchAbort.abort();
  const seconds = (tDone - t0) / 1000;
  const requests = await sumCounter(registry, 'rest_client_requests_total');
  const statusPatches = await sumCounter(registry, 'rest_client_requests_total', (l) => l.method === 'PATCH');
  const posts = await created();
  await mgr.stop();
  admin.close();
  return { firstPodSeconds: (tFirst - t0) / 1000, createSeconds: (tCreated - t0) / 1000, seconds, requests, statusPatches, posts };
}

const assets = resolveAssets();
const cp = await new ControlPlane(assets, { apiServerFlags: ['--max-requests-inflight=800', '--max-mutating-requests-inflight=400'] }).start();
installCrds(cp);
try {
  const plain = await plainLoop(cp);
  const rec = await reconcilerArm(cp);
  const plainRate = TOTAL / plain.seconds;
  const recRate = TOTAL / rec.createSeconds;
  console.log(`## bench:fanout: ${TOTAL} sandbox Pods (${TASKS} tasks x ${SAMPLES} samples), real kube-apiserver v1.34 + etcd on loopback, simulated kubelet\n`);
  console.log('| arm | Pods | seconds to create all | Pods/s | API requests / Pod |');
  console.log('|---|---|---|---|---|');
  console.log(`| plain create loop (same client) | ${TOTAL} | ${plain.seconds.toFixed(1)} | ${plainRate.toFixed(1)} | ${(plain.requests / TOTAL).toFixed(2)} |`);
  console.log(`| RolloutBatch reconciler | ${TOTAL} | ${rec.createSeconds.toFixed(1)} | ${recRate.toFixed(1)} | ${(rec.requests / TOTAL).toFixed(2)} |`);
  console.log('');
  console.log(`- Pods/s ratio reconciler / plain loop: **${(recRate / plainRate).toFixed(2)}** (goal >= 0.8)`);
  console.log(`- first Pod ${rec.firstPodSeconds.toFixed(1)} s after the RolloutBatch was created (task list resolved and stored once); from the first to the last Pod: ${(TOTAL / (rec.createSeconds - rec.firstPodSeconds)).toFixed(1)} Pods/s`);
  console.log(`- whole batch (create, run, record, delete, merge ${TOTAL} trajectories) to Succeeded: ${rec.seconds.toFixed(1)} s`);
  console.log(`- status writes of the RolloutBatch (every PATCH of the operator): ${rec.statusPatches} in ${rec.seconds.toFixed(1)} s = ${(rec.statusPatches / rec.seconds).toFixed(2)} per object per second (goal <= 1)`);
  console.log(`- peak RSS of this process (operator + simulated kubelet): ${mb(peakRss)} MiB`);
} finally {
  clearInterval(sampler);
  await cp.stop();
}
