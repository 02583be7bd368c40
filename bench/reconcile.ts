/**
 * Benchmark of the controller runtime (not a test): `npm run bench:reconcile`.
 *
 * 1. Cold start against a real kube-apiserver + etcd (envtest binaries): N RolloutBatches exist
 *    (created beforehand with kubectl, outside the measured process work), suspended (the real
 *    RolloutBatch reconciler settles them without sandbox Pods); a Manager with the controllers
 *    starts cold (empty caches, leader election on) and runs until every object's status is
 *    written for its generation (phase Suspended). Reports wall time, API requests per object (from rest_client_requests_total) and
 *    peak RSS of this process (sampled every 20 ms) for several worker counts.
 * 2. Queue throughput: a Controller with a no-op reconciler drains K distinct keys; and a storm of
 *    repeated adds over few keys (collapse).
 *
 * Flags: --objects N (default 2000), --workers 1,4,16 (default), --keys K (default 200000).
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, resolveAssets } from '../test/envtest/controlplane.ts';
import { installCrds } from '../test/envtest/crds.ts';
import { Manager } from '../operator/runtime/manager.ts';
import { Controller } from '../operator/runtime/controller.ts';
import { registerControllers } from '../operator/controllers/index.ts';
import { EntropoResources } from '../operator/runtime/kube/resource.ts';
import { createRegistry, runtimeMetrics, sumCounter } from '../operator/metrics/registry.ts';
import { logger } from '../operator/logging/logger.ts';
import type { RestClient } from '../operator/runtime/kube/rest.ts';
import type { KubeObject } from '../operator/runtime/kube/types.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2000' },
    workers: { type: 'string', default: '1,4,16' },
    keys: { type: 'string', default: '200000' },
  },
});
const N = Number(values.objects);
const WORKERS = values.workers!.split(',').map(Number);
const KEYS = Number(values.keys);
logger.level = process.env.ENTROPO_LOG_LEVEL ?? 'warn';

const RB = EntropoResources.RolloutBatch;
const mb = (b: number) => (b / 2 ** 20).toFixed(0);

function accepted(o: KubeObject): boolean {
  const s = o.status as { observedGeneration?: number; phase?: string } | undefined;
  return !!s && s.observedGeneration === o.metadata.generation && s.phase === 'Suspended';
}

const STORE = `file://${mkdtempSync(join(tmpdir(), 'entropo-bench-store-'))}`;

async function coldStart(cp: ControlPlane, workers: number): Promise<string> {
  const ns = `bench-w${workers}`;
  const dir = mkdtempSync(join(tmpdir(), 'entropo-bench-'));
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: Array.from({ length: N }, (_, i) => ({
      apiVersion: 'entropo.dev/v1alpha1',
      kind: 'RolloutBatch',
      metadata: { name: `rb-${i}`, namespace: ns },
      spec: { policy: { name: 'tiny-coder', endpoint: { url: 'http://policy:8000/v1' } }, tasks: { builtin: { split: 'All' }, limit: 1 }, suspend: true, storage: { uri: STORE } },
    })),
  };
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(list));
  const made = cp.kubectl(['create', 'namespace', ns]);
  if (made.status !== 0) throw new Error(made.stderr);
  const c0 = Date.now();
  const created = cp.kubectl(['create', '-f', join(dir, 'objects.json'), '-o', 'name']);
  if (created.status !== 0) throw new Error(created.stderr);
  rmSync(dir, { recursive: true, force: true });
  const createMs = Date.now() - c0;

  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const registry = createRegistry({ defaults: false });
  const t0 = performance.now();
  const mgr = await Manager.create({
    kubeConfig: kc,
    namespaces: [ns],
    leaderElection: { namespace: ns, id: 'bench' },
    registry,
    log: logger.child({ bench: 'reconcile' }),
  });
  registerControllers(mgr, { workers });
  await mgr.start();
  const cache = mgr.cache(RB);
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (cache.hasSynced() && cache.list().length === N && cache.list().every(accepted)) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  const wallMs = performance.now() - t0;
  // The cache can see a status write (watch event) before its PATCH answer is read: let the
  // controllers go idle before reading the counters.
  while (!mgr.controllers.every((c) => c.queue.len() === 0 && c.queue.inFlight() === 0)) await new Promise((r) => setTimeout(r, 5));
  const requests = await sumCounter(registry, 'rest_client_requests_total');
  const patches = await sumCounter(registry, 'rest_client_requests_total', (l) => l.method === 'PATCH');
  const conflicts = await sumCounter(registry, 'rest_client_requests_total', (l) => l.code === '409');
  const reconciles = await sumCounter(registry, 'controller_runtime_reconcile_total', (l) => l.controller === 'rolloutbatch');
  clearInterval(sampler);
  await mgr.stop();
  return `| ${N} | ${workers} | ${(wallMs / 1000).toFixed(2)} | ${((N / wallMs) * 1000).toFixed(0)} | ${(requests / N).toFixed(3)} | ${patches} | ${conflicts} | ${reconciles} | ${mb(rss0)} | ${mb(peak)} | ${(createMs / 1000).toFixed(1)} |`;
}

async function queueThroughput(workers: number, keys: number, distinct: number): Promise<string> {
  const registry = createRegistry({ defaults: false });
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const target = distinct;
  const ctl = new Controller({
    name: `noop-${workers}`,
    client: undefined as unknown as RestClient, // the no-op reconciler never calls the API
    workers,
    metrics: runtimeMetrics(registry),
    reconciler: {
      async reconcile() {
        if (++done >= target) resolveAll();
      },
    },
  });
  const t0 = performance.now();
  ctl.start();
  for (let i = 0; i < keys; i++) ctl.queue.add(`ns/k${i % distinct}`);
  await all;
  const ms = performance.now() - t0;
  await ctl.stop(1000);
  const adds = await sumCounter(registry, 'workqueue_adds_total');
  return `| ${workers} | ${keys} | ${distinct} | ${adds} | ${done} | ${ms.toFixed(0)} | ${((keys / ms) * 1000).toFixed(0)} | ${((done / ms) * 1000).toFixed(0)} |`;
}

const cp = await new ControlPlane(resolveAssets()).start();
try {
  installCrds(cp);
  console.log(`## Cold start: ${N} RolloutBatches (suspended), RolloutBatch reconciler, real kube-apiserver v1.34 + etcd on loopback\n`);
  console.log('| objects | workers | wall s | objects/s | API requests/object | PATCH | 409 | reconciles | RSS before MiB | peak RSS MiB | kubectl create s |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of WORKERS) console.log(await coldStart(cp, w));
} finally {
  await cp.stop();
}
console.log('\n## Work queue throughput, no-op reconciler\n');
console.log('| workers | adds called | distinct keys | adds counted | reconciles | ms | adds/s | reconciles/s |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const w of [1, 4, 16]) console.log(await queueThroughput(w, KEYS, KEYS));
console.log(await queueThroughput(4, KEYS * 5, 1000));
console.log(`\nnode ${process.version}, ${process.platform}/${process.arch}`);
