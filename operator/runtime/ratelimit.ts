/**
 * Rate limiters of the work queue (client-go's workqueue.DefaultControllerRateLimiter): per-item
 * exponential failure backoff (5 ms doubling to 1000 s) combined by max with an overall token
 * bucket (10 qps, burst 100). Pure: time is passed in (milliseconds).
 */

export interface RateLimiter<K = string> {
  /** Delay in ms before the item may be processed again; records one more failure. */
  when(item: K, now: number): number;
  forget(item: K): void;
  numRequeues(item: K): number;
}

export class ItemExponentialFailureRateLimiter<K = string> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();
  constructor(
    readonly baseDelayMs = 5,
    readonly maxDelayMs = 1000_000,
  ) {}

  when(item: K): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    // 2^n overflows to Infinity long after the cap; min() keeps it finite.
    return Math.min(this.baseDelayMs * 2 ** n, this.maxDelayMs);
  }
  forget(item: K): void {
    this.failures.delete(item);
  }
  numRequeues(item: K): number {
    return this.failures.get(item) ?? 0;
  }
}

/** A token bucket like golang.org/x/time/rate: Reserve() never fails, it returns how long to wait. */
export class TokenBucket {
  private tokens: number;
  private last: number | undefined;
  constructor(
    readonly qps = 10,
    readonly burst = 100,
  ) {
    this.tokens = burst;
  }

  /** Takes one token (possibly going into debt) and returns the delay in ms until it is valid. */
  reserve(now: number): number {
    if (this.last !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}

export class BucketRateLimiter<K = string> implements RateLimiter<K> {
  constructor(readonly bucket = new TokenBucket()) {}
  when(_item: K, now: number): number {
    return this.bucket.reserve(now);
  }
  forget(): void {}
  numRequeues(): number {
    return 0;
  }
}

/** The worst (longest) delay of several limiters; every limiter records the failure. */
export class MaxOfRateLimiter<K = string> implements RateLimiter<K> {
  private readonly limiters: RateLimiter<K>[];
  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }
  when(item: K, now: number): number {
    let d = 0;
    for (const l of this.limiters) d = Math.max(d, l.when(item, now));
    return d;
  }
  forget(item: K): void {
    for (const l of this.limiters) l.forget(item);
  }
  numRequeues(item: K): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(item)));
  }
}

export function defaultControllerRateLimiter<K = string>(): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(new ItemExponentialFailureRateLimiter<K>(5, 1000_000), new BucketRateLimiter<K>(new TokenBucket(10, 100)));
}

/**
 * Backoff of a failing loop (watch restarts, lease retries): initial doubling to max, with +/- jitter,
 * reset when the loop ran healthy for resetAfterMs. `rand` is injectable for tests.
 */
export class Backoff {
  private attempt = 0;
  constructor(
    readonly initialMs = 800,
    readonly maxMs = 30_000,
    readonly jitter = 0.2,
    private readonly rand: () => number = Math.random,
  ) {}
  next(): number {
    const base = Math.min(this.initialMs * 2 ** this.attempt, this.maxMs);
    this.attempt++;
    return Math.round(base * (1 + this.jitter * (2 * this.rand() - 1)));
  }
  reset(): void {
    this.attempt = 0;
  }
  get attempts(): number {
    return this.attempt;
  }
}
