/**
 * A rate-limited work queue of keys with client-go's semantics:
 * - repeated adds of a key not yet taken collapse into one;
 * - a key is never handed to two workers at once: a key added while it is processed is held
 *   (dirty) and queued again when the worker calls done();
 * - addAfter() waits (delayed adds of one key collapse to the earliest);
 * - addRateLimited() waits for the rate limiter (per-key exponential backoff under a token bucket);
 *   forget() clears the key's failures.
 * Metrics: workqueue_* with label name.
 */
import type { RuntimeMetrics } from '../metrics/registry.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimit.ts';

export interface WorkQueueOptions {
  name: string;
  rateLimiter?: RateLimiter<string>;
  metrics?: RuntimeMetrics;
  now?: () => number;
}

export class WorkQueue {
  readonly name: string;
  private items: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Map<string, number>(); // key -> started at
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private waiters: ((key: string | undefined) => void)[] = [];
  private stopped = false;
  private readonly limiter: RateLimiter<string>;
  private readonly metrics?: RuntimeMetrics;
  private readonly now: () => number;

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.limiter = opts.rateLimiter ?? defaultControllerRateLimiter();
    this.metrics = opts.metrics;
    this.now = opts.now ?? Date.now;
    this.metrics?.queueAdds.inc({ name: this.name }, 0);
    this.metrics?.queueRetries.inc({ name: this.name }, 0);
    this.metrics?.trackQueue(this.name, {
      depth: () => this.len(),
      unfinishedWorkSeconds: (now) => {
        let s = 0;
        for (const t of this.processing.values()) s += (now - t) / 1000;
        return s;
      },
      longestRunningProcessorSeconds: (now) => {
        let s = 0;
        for (const t of this.processing.values()) s = Math.max(s, (now - t) / 1000);
        return s;
      },
    });
  }

  /** Keys waiting to be taken. */
  len(): number {
    return this.items.length - this.head;
  }
  /** Keys being processed now. */
  inFlight(): number {
    return this.processing.size;
  }
  get shuttingDown(): boolean {
    return this.stopped;
  }

  add(key: string): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.metrics?.queueAdds.inc({ name: this.name });
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    if (this.processing.has(key)) return; // re-queued by done()
    this.push(key);
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, timer });
  }

  /**
   * Adds the key after the rate limiter's delay (one more failure recorded), or after `atLeastMs`
   * when that is longer (the server's Retry-After: never sooner than it asked).
   */
  addRateLimited(key: string, atLeastMs = 0): void {
    if (this.stopped) return;
    this.metrics?.queueRetries.inc({ name: this.name });
    this.addAfter(key, Math.max(this.limiter.when(key, this.now()), atLeastMs));
  }

  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /** The next key, or undefined once the queue shut down. The caller must call done(key). */
  get(): Promise<string | undefined> {
    if (this.len() > 0) return Promise.resolve(this.take());
    if (this.stopped) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const started = this.processing.get(key);
    if (started === undefined) return;
    this.processing.delete(key);
    this.metrics?.workDuration.observe({ name: this.name }, (this.now() - started) / 1000);
    if (this.dirty.has(key) && !this.stopped) this.push(key);
  }

  /** Stops: no more adds, pending delayed adds are dropped, waiting get() calls return undefined. */
  shutdown(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    // Keys not taken yet are dropped: level-triggered reconcilers see them again after a restart.
    this.items = [];
    this.head = 0;
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve(undefined);
    this.metrics?.untrackQueue(this.name);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(this.startProcessing(key));
      return;
    }
    this.items.push(key);
  }

  private take(): string {
    const key = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.startProcessing(key);
  }

  private startProcessing(key: string): string {
    const now = this.now();
    const added = this.addedAt.get(key);
    if (added !== undefined) this.metrics?.queueDuration.observe({ name: this.name }, (now - added) / 1000);
    this.addedAt.delete(key);
    this.dirty.delete(key);
    this.processing.set(key, now);
    return key;
  }
}
