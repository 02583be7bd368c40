import test from 'ava';
import { Backoff, BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter, TokenBucket, defaultControllerRateLimiter } from '../../../operator/runtime/ratelimit.ts';

test('per-item exponential backoff: 5 ms doubling, capped at 1000 s, per key, reset by forget', (t) => {
  const l = new ItemExponentialFailureRateLimiter(5, 1000_000);
  t.deepEqual([1, 2, 3, 4, 5].map(() => l.when('a')), [5, 10, 20, 40, 80]);
  t.is(l.when('b'), 5);
  t.is(l.numRequeues('a'), 5);
  for (let i = 0; i < 40; i++) l.when('a');
  t.is(l.when('a'), 1000_000);
  for (let i = 0; i < 2000; i++) l.when('a'); // 2^n overflows to Infinity: still the cap
  t.is(l.when('a'), 1000_000);
  l.forget('a');
  t.is(l.numRequeues('a'), 0);
  t.is(l.when('a'), 5);
});

test('token bucket: burst of 100 free, then one token per 100 ms at 10 qps, refilled with time', (t) => {
  const b = new TokenBucket(10, 100);
  const delays = Array.from({ length: 103 }, () => b.reserve(0));
  t.true(delays.slice(0, 100).every((d) => d === 0));
  t.deepEqual(delays.slice(100).map((d) => Math.round(d)), [100, 200, 300]);
  // 10 s later the debt (3 tokens) is repaid and the bucket is full again.
  t.is(b.reserve(10_000), 0);
  const b2 = new TokenBucket(10, 1);
  t.is(b2.reserve(0), 0);
  t.is(Math.round(b2.reserve(50)), 50);
});

test('default controller rate limiter: the max of per-key backoff and the overall bucket', (t) => {
  const l = defaultControllerRateLimiter<string>();
  // 100 different keys fail once each: all 5 ms (bucket burst covers them).
  for (let i = 0; i < 100; i++) t.is(l.when(`k${i}`, 0), 5);
  // The 101st key at the same instant waits for the bucket: 100 ms.
  t.is(Math.round(l.when('k100', 0)), 100);
  const m = new MaxOfRateLimiter(new ItemExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(new TokenBucket(1000, 1000)));
  t.deepEqual([0, 1, 2].map(() => m.when('x', 0)), [5, 10, 20]);
  t.is(m.numRequeues('x'), 3);
  m.forget('x');
  t.is(m.numRequeues('x'), 0);
});

test('backoff doubles to its maximum within the jitter band and resets', (t) => {
  const mid = new Backoff(800, 30_000, 0.2, () => 0.5);
  t.deepEqual(Array.from({ length: 8 }, () => mid.next()), [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]);
  mid.reset();
  t.is(mid.next(), 800);
  const lo = new Backoff(800, 30_000, 0.2, () => 0);
  const hi = new Backoff(800, 30_000, 0.2, () => 1);
  t.is(lo.next(), 640);
  t.is(hi.next(), 960);
});
