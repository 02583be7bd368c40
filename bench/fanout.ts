/**
 * Benchmark (not a test): `npm run bench:fanout`. Sandbox Pod fan-out through the RolloutBatch
 * reconciler versus a plain create loop, in one run, against the same real kube-apiserver + etcd
 * (envtest binaries on loopback), with the same REST client and the same Pod spec, the Pods
 * scheduled by the real kube-scheduler onto kwok nodes (test/e2e/kwok.ts: kwok v0.8.0 plays the
 * kubelet of 4 simulated nodes; every Pod goes Pending -> init containers -> Running -> Succeeded
 * with a sandbox summary as its termination message, rendered by kwok from the Pod's own labels
 * and env, as the sandbox's `grade` container writes it):
 *
 *   plain loop   N sandbox Pods (operator/workloads/sandbox-pod.ts) created one after another by a
 *                counted RestClient: the ceiling of one client creating Pods on this API server;
 *                they are then deleted (and their deletion waited for) before the next arm;
 *   plain x16    the same with CREATE_CONCURRENCY (16) loops at once: the reconciler's own create
 *                concurrency, a ceiling it can be held to fairly (--no-parallel-arm skips it);
 *   reconciler   one RolloutBatch of N rollouts (T built-in tasks x N/T samples, parallelism N)
 *                reconciled by the operator's Manager and controllers in this process. The batch
 *                is created suspended: the bench writes each rollout's trajectory record into the
 *                store where the sandbox would (the merged trajectories at the end read them),
 *                then resumes it; the clock starts at the resume.
 *
 * Reports Pods/s of each arm (plain: seconds from the first create to the last create answered;
 * reconciler: from the resume to the N-th Pod announced by a watch) and their ratio (goal >= 0.8), API requests per Pod of each arm (rest_client_requests_total
 * / N: every request of the operator, lists, watches, creates, deletes, status, events), status
 * writes of the RolloutBatch per second (goal <= 1) and after it finished (goal 0: nothing is
 * written when idle), the time to Succeeded with the batch's counts checked against what kwok
 * reported, the peak RSS of this process (the operator; the bench's own watch is small; sampled
 * every 50 ms) and the 1-minute load average at the start and end of each arm.
 *
 * Flags: --pods N (default 2000), --tasks T (default 40), --nodes K (default 4), --no-parallel-arm,
 *        --complete-ms D (kwok: Running -> Succeeded, default 1000).
 * Env: ENTROPO_LOG_LEVEL (default error).
 */
import { mkdtempSync, writeFileSync, rmSync, createWriteStream } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, freePort, logTail, resolveAssets } from '../test/envtest/controlplane.ts';
import { installCrds } from '../test/envtest/crds.ts';
import { provisionNode } from '../test/e2e/cluster.ts';
import { startKwok, type Kwok } from '../test/e2e/kwok.ts';
import { Manager } from '../operator/runtime/manager.ts';
import { CREATE_CONCURRENCY } from '../operator/controllers/reconciler.ts';
import { registerControllers } from '../operator/controllers/index.ts';
import { objectPrefix } from '../operator/controllers/decision.ts';
import { sandboxUnitName } from '../operator/controllers/sandbox-fleet.ts';
import { EntropoResources, Pods, resourcePath } from '../operator/runtime/kube/resource.ts';
import { RestClient } from '../operator/runtime/kube/rest.ts';
import { createRegistry, runtimeMetrics, sumCounter } from '../operator/metrics/registry.ts';
import { FsStore } from '../operator/store/fs-store.ts';
import { logger } from '../operator/logging/logger.ts';
import { sandboxPod } from '../operator/workloads/sandbox-pod.ts';
import { ANNOTATION_TASK_ID, LABEL_SAMPLE } from '../operator/workloads/labels.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '2000' },
    tasks: { type: 'string', default: '40' },
    nodes: { type: 'string', default: '4' },
    'complete-ms': { type: 'string', default: '1000' },
    'no-parallel-arm': { type: 'boolean', default: false },
  },
});
const N = Number(values.pods);
const TASKS = Number(values.tasks);
const SAMPLES = Math.ceil(N / TASKS);
const TOTAL = TASKS * SAMPLES;
logger.level = process.env.ENTROPO_LOG_LEVEL ?? 'error';
const RB = EntropoResources.RolloutBatch;
const mb = (b: number) => (b / 2 ** 20).toFixed(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load1 = () => loadavg()[0].toFixed(1);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);

/** Samples whose rollout kwok reports as resolved (reward 1): every third. */
const RESOLVED_SAMPLES = Array.from({ length: SAMPLES }, (_, s) => s).filter((s) => s % 3 === 0);

/**
 * The sandbox summary (api/records.ts RolloutSummary) kwok writes as the termination message,
 * rendered from the Pod: task from its task-id annotation, sample from its label, the
 * trajectory key and run from the grade container's env (ENTROPO_TRAJECTORY_KEY, ENTROPO_RUN).
 */
const SUMMARY_TEMPLATE = [
  `{{ $task := index $root.metadata.annotations "${ANNOTATION_TASK_ID}" }}`,
  `{{ $sample := index $root.metadata.labels "${LABEL_SAMPLE}" }}`,
  '{{ $key := "" }}{{ $run := "" }}',
  '{{ range $item.env }}{{ if eq .name "ENTROPO_TRAJECTORY_KEY" }}{{ $key = .value }}{{ end }}{{ if eq .name "ENTROPO_RUN" }}{{ $run = .value }}{{ end }}{{ end }}',
  `{{ $resolved := "false" }}{{ $reward := "0" }}{{ $hp := "0" }}{{ $hf := "1" }}`,
  `{{ if eq $sample ${RESOLVED_SAMPLES.map((s) => `"${s}"`).join(' ')} }}{{ $resolved = "true" }}{{ $reward = "1" }}{{ $hp = "1" }}{{ $hf = "0" }}{{ end }}`,
  '{{ printf "{\\"v\\":1,\\"task\\":%q,\\"sample\\":%s,\\"trajectory\\":\\"%s/%s/%s\\",\\"key\\":%q,\\"finished\\":true,\\"exit\\":\\"finished\\",\\"steps\\":7,\\"tokens\\":5000,\\"seconds\\":30,\\"patchHash\\":\\"\\",\\"regression\\":{\\"passed\\":1,\\"failed\\":0},\\"hidden\\":{\\"passed\\":%s,\\"failed\\":%s},\\"resolved\\":%s,\\"reward\\":%s}" $task $sample $task $sample $run $key $hp $hf $resolved $reward | Quote }}',
].join('');

/** The real kube-scheduler (binds the Pods to the kwok nodes), with a client fast enough not to be the bottleneck. */
async function startScheduler(cp: ControlPlane): Promise<{ stop: () => Promise<void>; log: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'entropo-fanout-scheduler-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'apiVersion: kubescheduler.config.k8s.io/v1',
      'kind: KubeSchedulerConfiguration',
      `clientConnection: {kubeconfig: ${JSON.stringify(cp.kubeconfigPath)}, qps: 5000, burst: 10000}`,
      'leaderElection: {leaderElect: false}',
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'scheduler.log');
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(provisionNode().kubeScheduler, [`--config=${config}`, `--secure-port=${await freePort()}`, '--bind-address=127.0.0.1', `--cert-dir=${join(dir, 'certs')}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return {
    log: () => logTail(logFile, 3000),
    stop: async () => {
      if (child.exitCode === null) {
        const done = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function connect(cp: ControlPlane, registry = createRegistry({ defaults: false })) {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return { kc, registry, client: await RestClient.fromKubeConfig(kc, { metrics: runtimeMetrics(registry) }) };
}

async function namespace(client: RestClient, name: string): Promise<void> {
  await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

/**
 * Counts Pods as the API server announces them (a watch, re-opened from its last
 * resourceVersion if it breaks): ADDED, and Succeeded as reported by kwok.
 */
function podWatch(client: RestClient, ns: string) {
  const abort = new AbortController();
  const w = { added: 0, succeeded: 0, tFirst: 0, tAll: 0, names: new Set<string>(), stop: () => abort.abort() };
  const done = new Set<string>();
  let rv = '';
  void (async () => {
    while (!abort.signal.aborted) {
      try {
        await client.watch(
          resourcePath(Pods, ns),
          rv ? { resourceVersion: rv, allowWatchBookmarks: true } : { allowWatchBookmarks: true },
          (ev) => {
            const p = ev.object as { metadata: { name: string; resourceVersion?: string }; status?: { phase?: string } };
            if (p.metadata?.resourceVersion) rv = p.metadata.resourceVersion;
            if (ev.type === 'BOOKMARK' || ev.type === 'ERROR') return;
            if (ev.type === 'ADDED' && !w.names.has(p.metadata.name)) {
              w.names.add(p.metadata.name);
              if (++w.added === 1) w.tFirst = performance.now();
              if (w.added === TOTAL) w.tAll = performance.now();
            }
            if (ev.type !== 'DELETED' && p.status?.phase === 'Succeeded' && !done.has(p.metadata.name)) {
              done.add(p.metadata.name);
              w.succeeded++;
            }
          },
          { signal: abort.signal, idleTimeoutMs: 1_800_000 },
        );
      } catch (e) {
        if (!abort.signal.aborted) console.error(`bench: Pod watch of ${ns} broke, re-opening: ${(e as Error).message}`);
        await sleep(200);
      }
    }
  })();
  return w;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, diag: () => string = () => ''): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s ${diag()}`);
    await sleep(200);
  }
}

/**
 * A plain arm: N Pods of the same spec, created by `concurrency` loops each creating one after
 * another (1: the plain loop); then deleted.
 */
async function plainLoop(cp: ControlPlane, kwok: Kwok, concurrency: number, cleanUp = true) {
  const { client, registry } = await connect(cp);
  const ns = `plain-${concurrency}`;
  await namespace(client, ns);
  const w = podWatch(client, ns);
  await sleep(300);
  const load = [load1()];
  const t0 = performance.now();
  let next = 0;
  const loop = async () => {
  for (let i = next++; i < TOTAL; i = next++) {
    const name = sandboxUnitName('plain', i, 0);
    const pod = sandboxPod(
      {
        name,
        owner: { kind: 'RolloutBatch', namespace: ns, name: 'plain', uid: '00000000-0000-0000-0000-000000000000' },
        index: i,
        taskId: `task-${Math.floor(i / SAMPLES)}`,
        sample: i % SAMPLES,
        attempt: 0,
        tasksKey: 'k/tasks.jsonl',
        policy: { model: 'scripted', url: 'http://10.0.0.9:8000/v1' },
        sampling: { temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 4096 },
        limits: { maxSteps: 200, maxTokens: 131072, timeoutSeconds: 3600, toolTimeoutSeconds: 120, toolCallFormat: 'Native' },
        sandbox: { network: 'PolicyOnly', runAsNonRoot: true, ...kwok.podPlacement },
        storeUri: 'file:///tmp/x',
        trajectoryKey: `k/trajectories/${name}.json`,
        run: 'plain',
        source: { kind: 'RolloutBatch', namespace: ns, name: 'plain' },
        activeDeadlineSeconds: 4500,
      },
      { operatorImage: 'entropo.local/operator:bench', baseImage: 'entropo.local/task-base:bench', task: { format: 'self-contained' } },
    );
    // An owner uid that does not exist: the garbage collector is not running in envtest.
    await client.request('POST', resourcePath(Pods, ns), { body: pod, discardResponse: true });
  }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  // Every Pod exists once its create returned.
  const seconds = (performance.now() - t0) / 1000;
  load.push(load1());
  const requests = await sumCounter(registry, 'rest_client_requests_total');
  if (!cleanUp) {
    w.stop();
    client.close();
    return { seconds, requests, load };
  }
  // Let kwok finish them (the same work it does for the reconciler's), then delete them all and
  // wait until they are gone, so the next arm starts on an empty cluster.
  await until('plain Pods Succeeded', () => w.succeeded === TOTAL, 600_000, () => `(${w.succeeded}/${TOTAL}) ${kwok.log(1500)}`);
  await client.request('DELETE', resourcePath(Pods, ns), { body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 }, timeoutMs: 600_000 });
  await until(
    'plain Pods deleted',
    async () => ((await client.request<{ items: unknown[] }>('GET', resourcePath(Pods, ns), { query: { limit: '1' } })).items.length === 0),
    600_000,
  );
  w.stop();
  client.close();
  return { seconds, requests, load };
}

async function reconcilerArm(cp: ControlPlane, kwok: Kwok) {
  const { client: admin } = await connect(cp);
  const ns = 'fanout';
  await namespace(admin, ns);
  const dir = mkdtempSync(join(tmpdir(), 'entropo-fanout-store-'));
  const store = new FsStore(dir);
  const { kc, registry } = await connect(cp);
  const mgr = await Manager.create({ kubeConfig: kc, namespaces: [ns], leaderElection: false, registry, log: logger });
  registerControllers(mgr, { workers: 4, operatorImage: 'entropo.local/operator:bench', sandboxBaseImage: 'entropo.local/task-base:bench' });
  await mgr.start();
  const requestsOf = (method?: string) => sumCounter(registry, 'rest_client_requests_total', (l) => method === undefined || l.method === method);

  const created = await admin.request<{ metadata: { uid: string; name: string; namespace: string } }>('POST', resourcePath(RB, ns), {
    body: {
      apiVersion: 'entropo.dev/v1alpha1',
      kind: 'RolloutBatch',
      metadata: { name: 'fanout', namespace: ns },
      spec: {
        policy: { name: 'scripted', endpoint: { url: 'http://10.0.0.9:8000/v1' } },
        tasks: { builtin: { split: 'All' }, limit: TASKS },
        samplesPerTask: SAMPLES,
        parallelism: TOTAL,
        suspend: true,
        sandbox: { ...kwok.podPlacement },
        storage: { uri: `file://${dir}` },
      },
    },
  });
  // The sandboxes' own work: each rollout's trajectory record where its Pod would write it.
  const prefix = objectPrefix({ kind: 'RolloutBatch', metadata: created.metadata });
  await until('task list resolved', async () => store.exists(`${prefix}/tasks.jsonl`), 120_000);
  const ids = (await store.getText(`${prefix}/tasks.jsonl`)).trim().split('\n').map((l) => (JSON.parse(l) as { instance_id: string }).instance_id);
  for (let i = 0; i < TOTAL; i++) {
    const name = sandboxUnitName('fanout', i, 0);
    const task = ids[Math.floor(i / SAMPLES)];
    const sample = i % SAMPLES;
    await store.put(`${prefix}/trajectories/${name}.json`, JSON.stringify({ id: `${task}/${sample}/fanout`, taskId: task, sample, patch: '' }));
  }
  await sleep(1500); // the suspended batch's status settles
  const w = podWatch(admin, ns);
  await sleep(300);
  const before = { requests: await requestsOf(), patches: await requestsOf('PATCH') };
  const load = [load1()];
  const t0 = performance.now();
  await admin.request('PATCH', resourcePath(RB, ns, 'fanout'), { body: { spec: { suspend: false } }, contentType: 'application/merge-patch+json' });
  type Status = { phase?: string; counts?: Record<string, number>; resolveRate?: number };
  let status: Status = {};
  await until(
    'batch Succeeded',
    async () => {
      status = (await admin.request<{ status?: Status }>('GET', resourcePath(RB, ns, 'fanout'))).status ?? {};
      return status.phase === 'Succeeded';
    },
    30 * 60_000,
    () => `${JSON.stringify(status)} ${kwok.log(1500)}`,
  );
  const tDone = performance.now();
  load.push(load1());
  const atDone = { requests: await requestsOf(), patches: await requestsOf('PATCH') };
  // Idle: nothing is written after the batch finished.
  await sleep(10_000);
  const idlePatches = (await requestsOf('PATCH')) - atDone.patches;
  w.stop();
  const merged = (await store.getText(`${prefix}/trajectories.jsonl`)).trim().split('\n').length;
  await mgr.stop();
  admin.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    firstPodSeconds: (w.tFirst - t0) / 1000,
    createSeconds: (w.tAll - t0) / 1000,
    seconds: (tDone - t0) / 1000,
    requests: atDone.requests - before.requests,
    statusPatches: atDone.patches - before.patches,
    idlePatches,
    status,
    merged,
    load,
  };
}

const assets = resolveAssets();
const cp = await new ControlPlane(assets, { apiServerFlags: ['--max-requests-inflight=800', '--max-mutating-requests-inflight=400'] }).start();
installCrds(cp);
const scheduler = await startScheduler(cp);
let kwok: Kwok | undefined;
try {
  kwok = await startKwok({ kubeconfig: cp.kubeconfigPath, kubectl: assets.kubectl, nodes: Number(values.nodes), completeDelayMs: Number(values['complete-ms']), terminationMessageTemplate: SUMMARY_TEMPLATE });
  const plain = await plainLoop(cp, kwok, 1);
  const rec = await reconcilerArm(cp, kwok);
  console.error(`bench: plain ${plain.seconds.toFixed(1)} s, reconciler ${rec.createSeconds.toFixed(1)} s (${JSON.stringify(rec)})`);
  // The last arm: its Pods are left to the control plane's teardown.
  const parallel = values['no-parallel-arm'] ? undefined : await plainLoop(cp, kwok, CREATE_CONCURRENCY, false);
  const plainRate = TOTAL / plain.seconds;
  const recRate = TOTAL / rec.createSeconds;
  const resolvedExpected = TASKS * RESOLVED_SAMPLES.length;
  console.log(
    `## bench:fanout: ${TOTAL} sandbox Pods (${TASKS} tasks x ${SAMPLES} samples), real kube-apiserver v1.34 + etcd + kube-scheduler on loopback, ${kwok.nodes.length} kwok nodes\n`,
  );
  console.log('| arm | Pods | s to create all | Pods/s | API requests / Pod | load avg (1 min) start -> end |');
  console.log('|---|---:|---:|---:|---:|---|');
  console.log(`| plain create loop (same client) | ${TOTAL} | ${plain.seconds.toFixed(1)} | ${plainRate.toFixed(1)} | ${(plain.requests / TOTAL).toFixed(2)} | ${plain.load.join(' -> ')} |`);
  console.log(`| RolloutBatch reconciler | ${TOTAL} | ${rec.createSeconds.toFixed(1)} | ${recRate.toFixed(1)} | ${(rec.requests / TOTAL).toFixed(2)} | ${rec.load.join(' -> ')} |`);
  if (parallel) {
    console.log(`| ${CREATE_CONCURRENCY} plain create loops at once (the reconciler's create concurrency) | ${TOTAL} | ${parallel.seconds.toFixed(1)} | ${(TOTAL / parallel.seconds).toFixed(1)} | ${(parallel.requests / TOTAL).toFixed(2)} | ${parallel.load.join(' -> ')} |`);
  }
  console.log('');
  console.log(`- Pods/s ratio reconciler / plain loop: **${(recRate / plainRate).toFixed(2)}** (goal >= 0.8)`);
  if (parallel) console.log(`- Pods/s ratio reconciler / ${CREATE_CONCURRENCY} plain loops at once: ${(recRate / (TOTAL / parallel.seconds)).toFixed(2)}`);
  console.log(`- first Pod ${rec.firstPodSeconds.toFixed(2)} s after the batch was resumed; from the first to the last Pod: ${(TOTAL / (rec.createSeconds - rec.firstPodSeconds)).toFixed(1)} Pods/s`);
  console.log(
    `- whole batch (create, schedule, run on kwok, record, delete, merge ${rec.merged} trajectories) to Succeeded: ${rec.seconds.toFixed(1)} s; counts ${JSON.stringify(rec.status.counts)}, resolveRate ${rec.status.resolveRate} (expected ${resolvedExpected}/${TOTAL} resolved: ${rec.status.counts?.resolved === resolvedExpected && rec.status.counts?.completed === TOTAL ? 'ok' : 'MISMATCH'})`,
  );
  console.log(`- status writes of the RolloutBatch (every PATCH of the operator): ${rec.statusPatches} in ${rec.seconds.toFixed(1)} s = ${(rec.statusPatches / rec.seconds).toFixed(2)} per object per second (goal <= 1); ${rec.idlePatches} in the 10 s after it finished (goal 0)`);
  console.log(`- peak RSS of this process (the operator; the bench's watch and plain loop are small): ${mb(peakRss)} MiB`);
} finally {
  clearInterval(sampler);
  await kwok?.stop();
  await scheduler.stop();
  await cp.stop();
}
