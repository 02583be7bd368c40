import test from 'ava';
import { Controller, controllerOwnerKey, type Reconciler } from '../../../operator/runtime/controller.ts';
import { Pods, EntropoResources } from '../../../operator/runtime/kube/resource.ts';
import { ApiError, type RestClient } from '../../../operator/runtime/kube/rest.ts';
import { createRegistry, runtimeMetrics, sumCounter } from '../../../operator/metrics/registry.ts';
import { parseBindAddress } from '../../../operator/runtime/http.ts';
import { controllerRef, isSubset } from '../../../operator/runtime/apply.ts';
import { parseExposition, sumSamples } from '../../../operator/metrics/parse.ts';
import { logger } from '../../../operator/logging/logger.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';

// The reconcilers below never touch the API: the controller only passes the client through.
const noClient = undefined as unknown as RestClient;
const log = logger.child({ test: 'controller' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('owned objects map to their controller owner of the right kind only', (t) => {
  const RB = EntropoResources.RolloutBatch;
  const pod = (refs: KubeObject['metadata']['ownerReferences']): KubeObject => ({ metadata: { namespace: 'ns', name: 'p', ownerReferences: refs } });
  const ref = { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', name: 'batch-1', uid: 'u' };
  t.is(controllerOwnerKey(pod([{ ...ref, controller: true }]), RB), 'ns/batch-1');
  t.is(controllerOwnerKey(pod([ref]), RB), undefined, 'not the controller');
  t.is(controllerOwnerKey(pod([{ ...ref, controller: true, kind: 'EvalSuite' }]), RB), undefined);
  t.is(controllerOwnerKey(pod([{ ...ref, controller: true, apiVersion: 'other.io/v1' }]), RB), undefined);
  t.is(controllerOwnerKey(pod([{ apiVersion: 'v1', kind: 'Pod', name: 'x', uid: 'u', controller: true }]), Pods), 'ns/x');
});

test('N workers: a key is never reconciled twice at once, and a key added during its reconcile runs again after', async (t) => {
  const registry = createRegistry({ defaults: false });
  const active = new Map<string, number>();
  let overlap = 0;
  let maxParallel = 0;
  let parallel = 0;
  const runs = new Map<string, number>();
  const reconciler: Reconciler = {
    async reconcile(req) {
      const k = req.name;
      if (active.get(k)) overlap++;
      active.set(k, 1);
      parallel++;
      maxParallel = Math.max(maxParallel, parallel);
      runs.set(k, (runs.get(k) ?? 0) + 1);
      await sleep(5);
      parallel--;
      active.set(k, 0);
    },
  };
  const ctl = new Controller({ name: 'c', reconciler, client: noClient, workers: 4, metrics: runtimeMetrics(registry), log });
  ctl.start();
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 8; i++) ctl.queue.add(`ns/k${i}`);
    await sleep(2);
  }
  await sleep(100);
  t.is(overlap, 0);
  t.is(maxParallel, 4);
  for (let i = 0; i < 8; i++) t.true(runs.get(`k${i}`)! >= 2, `k${i} ran ${runs.get(`k${i}`)} times`);
  t.true(await ctl.stop(1000));
  const total = await sumCounter(registry, 'controller_runtime_reconcile_total', (l) => l.result === 'success');
  t.is(total, [...runs.values()].reduce((a, b) => a + b, 0));
});

test('results: error retries with backoff, requeueAfter runs again later, success forgets failures', async (t) => {
  const registry = createRegistry({ defaults: false });
  const seen: { key: string; at: number }[] = [];
  const t0 = Date.now();
  const reconciler: Reconciler = {
    async reconcile(req) {
      seen.push({ key: req.name, at: Date.now() - t0 });
      const n = seen.filter((s) => s.key === req.name).length;
      if (req.name === 'flaky' && n <= 3) throw new ApiError(409, 'Conflict', 'conflict');
      if (req.name === 'later' && n === 1) return { requeueAfterMs: 60 };
    },
  };
  const ctl = new Controller({ name: 'r', reconciler, client: noClient, workers: 2, metrics: runtimeMetrics(registry), log });
  ctl.start();
  ctl.queue.add('ns/flaky');
  ctl.queue.add('ns/later');
  await sleep(400);
  t.is(seen.filter((s) => s.key === 'flaky').length, 4, 'three failures then success');
  t.is(ctl.queue.numRequeues('ns/flaky'), 0, 'forgotten after success');
  const later = seen.filter((s) => s.key === 'later');
  t.is(later.length, 2);
  t.true(later[1].at - later[0].at >= 55, `requeued after ${later[1].at - later[0].at} ms`);
  t.is(await sumCounter(registry, 'controller_runtime_reconcile_errors_total'), 3);
  t.is(await sumCounter(registry, 'controller_runtime_reconcile_total', (l) => l.result === 'requeue_after'), 1);
  t.is(await sumCounter(registry, 'workqueue_retries_total'), 3);
  t.true(await ctl.stop(1000));
});

test('stop waits for in-flight reconciles within the bound, and reports a bound exceeded', async (t) => {
  let finished = 0;
  const slow = (ms: number): Reconciler => ({
    async reconcile(_req, ctx) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, ms);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          r();
        });
      });
      finished++;
    },
  });
  const a = new Controller({ name: 'a', reconciler: slow(100), client: noClient, workers: 1, log });
  a.start();
  a.queue.add('ns/x');
  a.queue.add('ns/y');
  await sleep(10);
  t.true(await a.stop(2_000), 'drained');
  t.is(finished, 1, 'the in-flight key finished; the waiting one was not started');
  const b = new Controller({ name: 'b', reconciler: slow(5_000), client: noClient, workers: 1, log });
  b.start();
  b.queue.add('ns/x');
  await sleep(10);
  const t0 = Date.now();
  t.false(await b.stop(100));
  t.true(Date.now() - t0 < 1_000);
});

test('bind addresses and the exposition parser', (t) => {
  t.deepEqual(parseBindAddress(':8080'), { host: undefined, port: 8080 });
  t.deepEqual(parseBindAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  t.deepEqual(parseBindAddress('[::1]:9'), { host: '::1', port: 9 });
  t.is(parseBindAddress('0'), undefined);
  t.throws(() => parseBindAddress('8080'));
  const s = parseExposition('# HELP x y\nrest_client_requests_total{code="200",method="GET",host="a:1"} 3\nrest_client_requests_total{code="409",method="PATCH",host="a:1"} 2\nup 1\n');
  t.is(sumSamples(s, 'rest_client_requests_total'), 5);
  t.is(sumSamples(s, 'rest_client_requests_total', { method: 'PATCH' }), 2);
  t.is(sumSamples(s, 'up'), 1);
});

test('controllerRef builds the reference controllerOwnerKey follows back', (t) => {
  const owner: KubeObject = { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', metadata: { name: 'b', namespace: 'ns', uid: 'u-1' } };
  const ref = controllerRef(owner);
  t.deepEqual(ref, { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', name: 'b', uid: 'u-1', controller: true, blockOwnerDeletion: true });
  t.is(controllerOwnerKey({ metadata: { namespace: 'ns', name: 'pod', ownerReferences: [ref] } }, EntropoResources.RolloutBatch), 'ns/b');
  t.throws(() => controllerRef({ metadata: { name: 'x' } }));
  t.true(isSubset({ a: 1, b: { c: [1] } }, { a: 1, b: { c: [1], d: 2 }, e: 3 }));
  t.false(isSubset({ b: { c: [1] } }, { b: { c: [1, 2] } }));
  t.false(isSubset({ a: 1 }, undefined));
});

test('a TerminalError is counted and not retried; an ApiError with Retry-After is retried no sooner than asked', async (t) => {
  const { TerminalError } = await import('../../../operator/runtime/controller.ts');
  const registry = createRegistry({ defaults: false });
  const runs: Record<string, number[]> = { bad: [], busy: [] };
  const reconciler: Reconciler = {
    async reconcile(req) {
      runs[req.name].push(Date.now());
      if (req.name === 'bad') throw new TerminalError('spec.tasks: no task source');
      if (runs.busy.length === 1) throw new ApiError(429, 'TooManyRequests', 'throttled', undefined, 400);
    },
  };
  const ctl = new Controller({ name: 'term', reconciler, client: noClient, metrics: runtimeMetrics(registry), log });
  ctl.start();
  ctl.queue.add('ns/bad');
  ctl.queue.add('ns/busy');
  await sleep(800);
  t.is(runs.bad.length, 1, 'terminal: not retried');
  t.is(runs.busy.length, 2);
  t.true(runs.busy[1] - runs.busy[0] >= 390, `retried after ${runs.busy[1] - runs.busy[0]} ms; Retry-After 400 ms`);
  t.is(await sumCounter(registry, 'controller_runtime_terminal_reconcile_errors_total', (l) => l.controller === 'term'), 1);
  t.is(await sumCounter(registry, 'controller_runtime_reconcile_errors_total', (l) => l.controller === 'term'), 2);
  t.true(await ctl.stop(1000));
});

test('status apply is a no-op only when the manager owns exactly the fields it applies, with the same values', async (t) => {
  const { fieldSetPaths, statusApplyIsNoop } = await import('../../../operator/runtime/apply.ts');
  const owned = { 'f:status': { 'f:phase': {}, 'f:message': {}, 'f:counts': { 'f:total': {} }, 'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:status': {} } } } };
  t.deepEqual([...fieldSetPaths(owned['f:status'], 'status')].sort(), ['status.conditions', 'status.counts.total', 'status.message', 'status.phase']);
  const obj = (fields: unknown): KubeObject => ({
    metadata: { name: 'x', managedFields: [{ manager: 'entropo-operator', operation: 'Apply', subresource: 'status', fieldsV1: fields }] },
    status: { phase: 'Running', message: 'm', counts: { total: 3 }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const full = { phase: 'Running', message: 'm', counts: { total: 3 }, conditions: [{ type: 'Ready', status: 'True' }] };
  t.true(statusApplyIsNoop(obj(owned), full));
  t.false(statusApplyIsNoop(obj(owned), { phase: 'Running', counts: { total: 3 }, conditions: full.conditions }), 'message dropped: must send');
  t.false(statusApplyIsNoop(obj(owned), { ...full, phase: 'Succeeded' }), 'value changed');
  t.false(statusApplyIsNoop({ metadata: { name: 'x' }, status: full }, full), 'no managedFields: send');
  t.false(statusApplyIsNoop(obj({}), { phase: 'Running' }), 'owns nothing yet: send');
});

test('Retry-After: seconds or an HTTP date, only on 429 and 5xx', async (t) => {
  const { retryAfterMs } = await import('../../../operator/runtime/kube/rest.ts');
  t.is(retryAfterMs(429, '2'), 2000);
  t.is(retryAfterMs(503, ' 1 '), 1000);
  t.is(retryAfterMs(409, '2'), undefined);
  t.is(retryAfterMs(429, undefined), undefined);
  t.is(retryAfterMs(429, 'soon'), undefined);
  t.is(retryAfterMs(429, new Date(10_000).toUTCString(), 7_000), 3_000);
});
