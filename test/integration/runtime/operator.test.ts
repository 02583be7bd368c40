/**
 * `entropo operator` as a real process: it accepts objects of the three kinds, exposes the
 * controller-runtime metric names on /metrics, makes no write request while idle (30 s, with
 * periodic resyncs re-reconciling everything meanwhile: a reconcile that changes nothing writes
 * nothing), and exits 0 on SIGTERM.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sumSamples } from '../../../operator/metrics/parse.ts';
import { adminClient, cluster, createNamespace, isAccepted, readyz, scrape, startOperator, waitFor, within } from './helpers.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const writes = (samples: Awaited<ReturnType<typeof scrape>>) => sumSamples(samples, 'rest_client_requests_total', (l) => WRITES.has(l.method));

const NAMES = [
  'controller_runtime_reconcile_total',
  'controller_runtime_reconcile_errors_total',
  'controller_runtime_reconcile_time_seconds_bucket',
  'controller_runtime_max_concurrent_reconciles',
  'controller_runtime_active_workers',
  'workqueue_depth',
  'workqueue_adds_total',
  'workqueue_queue_duration_seconds_bucket',
  'workqueue_work_duration_seconds_bucket',
  'workqueue_retries_total',
  'workqueue_unfinished_work_seconds',
  'workqueue_longest_running_processor_seconds',
  'rest_client_requests_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
];

test('the operator accepts all three kinds, exposes its metrics, writes nothing while idle, and exits 0 on SIGTERM', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin);
  const applied = cp.kubectl(['-n', ns, 'apply', '-f', 'manifests/examples/']);
  t.is(applied.status, 0, applied.stderr);
  const op = await startOperator(t, cp, ['--watch-namespace', ns, '--leader-elect=false', '--sync-period', '5s', '--workers', '2', '--store-mount', mkdtempSync(join(tmpdir(), 'entropo-pvc-'))]);

  const all = () => {
    const r = cp.kubectl(['-n', ns, 'get', 'trainingruns,rolloutbatches,evalsuites', '-o', 'json']);
    return (JSON.parse(r.stdout) as { items: (KubeObject & { status?: Record<string, any> })[] }).items;
  };
  const objects = await waitFor('every example accepted', () => {
    const items = all();
    return items.length >= 4 && items.every(isAccepted) && items;
  }, 60_000);
  t.deepEqual([...new Set(objects.map((o) => o.kind))].sort(), ['EvalSuite', 'RolloutBatch', 'TrainingRun']);
  for (const o of objects) {
    t.is(o.status!.observedGeneration, o.metadata.generation, `${o.kind}/${o.metadata.name}`);
    t.true(o.status!.conditions.every((c: { reason: string }) => /^[A-Za-z]/.test(c.reason)));
  }
  t.is(await readyz(op.healthPort), 200);
  const health = await fetch(`http://127.0.0.1:${op.healthPort}/healthz`);
  t.is(health.status, 200);

  const first = await scrape(op.metricsPort);
  const present = new Set(first.map((s) => s.name));
  for (const n of NAMES) t.true(present.has(n), `/metrics lacks ${n}`);
  t.is(sumSamples(first, 'controller_runtime_max_concurrent_reconciles', { controller: 'rolloutbatch' }), 2);
  t.true(sumSamples(first, 'rest_client_requests_total', { method: 'PATCH', code: '200' }) >= objects.length);
  t.true(sumSamples(first, 'rest_client_requests_total', { method: 'GET', code: '200' }) >= 3); // lists and watches

  // Idle for 30 s: resyncs every 5 s re-reconcile every object, and nothing is written.
  const writesBefore = writes(first);
  const reconcilesBefore = sumSamples(first, 'controller_runtime_reconcile_total');
  await new Promise((r) => setTimeout(r, 30_000));
  const later = await scrape(op.metricsPort);
  t.is(writes(later), writesBefore, 'no write request while idle');
  const reconciled = sumSamples(later, 'controller_runtime_reconcile_total') - reconcilesBefore;
  t.true(reconciled >= objects.length * 4, `resync reconciles while idle: ${reconciled}`);
  t.is(sumSamples(later, 'controller_runtime_reconcile_errors_total'), 0);
  t.deepEqual(all().map((o) => o.metadata.resourceVersion).sort(), objects.map((o) => o.metadata.resourceVersion).sort(), 'no object changed');

  const termAt = Date.now();
  op.child.kill('SIGTERM');
  const exit = await within(op.exited, 35_000);
  t.deepEqual(exit, { code: 0, signal: null });
  t.true(Date.now() - termAt < 30_000);
});
