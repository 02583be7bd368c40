import test from 'ava';
import { WorkQueue } from '../../../operator/runtime/workqueue.ts';
import { ItemExponentialFailureRateLimiter } from '../../../operator/runtime/ratelimit.ts';
import { createRegistry, runtimeMetrics, sumCounter } from '../../../operator/metrics/registry.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

test('repeated adds of a waiting key collapse into one', async (t) => {
  const registry = createRegistry({ defaults: false });
  const q = new WorkQueue({ name: 'q', metrics: runtimeMetrics(registry) });
  for (let i = 0; i < 5; i++) q.add('a');
  q.add('b');
  q.add('a');
  t.is(q.len(), 2);
  t.is(await q.get(), 'a');
  t.is(await q.get(), 'b');
  t.is(q.len(), 0);
  t.is(await sumCounter(registry, 'workqueue_adds_total'), 2);
});

test('a key added while processed is not handed out again until done, then exactly once', async (t) => {
  const q = new WorkQueue({ name: 'q' });
  q.add('a');
  t.is(await q.get(), 'a');
  q.add('a');
  q.add('a');
  t.is(q.len(), 0, 'not queued while in flight');
  let second: string | undefined;
  void q.get().then((k) => (second = k));
  await tick();
  t.is(second, undefined, 'a waiting worker does not get the in-flight key');
  q.done('a');
  await tick();
  t.is(second, 'a');
  q.done('a');
  t.is(q.len(), 0);
  t.is(q.inFlight(), 0);
});

test('addAfter waits; delayed adds of one key collapse to the earliest', async (t) => {
  const q = new WorkQueue({ name: 'q' });
  q.addAfter('a', 300);
  q.addAfter('a', 20);
  q.addAfter('a', 600);
  const t0 = Date.now();
  t.is(await q.get(), 'a');
  const waited = Date.now() - t0;
  t.true(waited >= 15 && waited < 250, `waited ${waited} ms`);
  q.done('a');
  await tick(700);
  t.is(q.len(), 0, 'the later delayed adds were merged away');
});

test('addRateLimited backs off per key and forget resets it', async (t) => {
  const q = new WorkQueue({ name: 'q', rateLimiter: new ItemExponentialFailureRateLimiter(20, 1000) });
  q.addRateLimited('a');
  t.is(q.len(), 0);
  t.is(await q.get(), 'a');
  q.done('a');
  q.addRateLimited('a');
  t.is(q.numRequeues('a'), 2);
  const t0 = Date.now();
  t.is(await q.get(), 'a');
  t.true(Date.now() - t0 >= 35, 'second failure waits ~40 ms');
  q.done('a');
  q.forget('a');
  t.is(q.numRequeues('a'), 0);
});

test('shutdown wakes waiting workers with undefined and refuses adds', async (t) => {
  const q = new WorkQueue({ name: 'q' });
  const waiting = q.get();
  q.addAfter('later', 50);
  q.shutdown();
  t.is(await waiting, undefined);
  q.add('x');
  t.is(q.len(), 0);
  t.is(await q.get(), undefined);
  await tick(80);
  t.is(q.len(), 0, 'pending delayed adds dropped');
});

test('scrape-time gauges: depth, unfinished work and the longest running processor', async (t) => {
  const registry = createRegistry({ defaults: false });
  const q = new WorkQueue({ name: 'g', metrics: runtimeMetrics(registry) });
  q.add('a');
  q.add('b');
  q.add('c');
  await q.get();
  await tick(60);
  const text = await registry.metrics();
  t.regex(text, /workqueue_depth\{name="g"\} 2/);
  const longest = Number(/workqueue_longest_running_processor_seconds\{name="g"\} ([\d.e-]+)/.exec(text)![1]);
  t.true(longest >= 0.05 && longest < 5, `longest ${longest}`);
  const unfinished = Number(/workqueue_unfinished_work_seconds\{name="g"\} ([\d.e-]+)/.exec(text)![1]);
  t.true(unfinished >= 0.05);
});
