/**
 * A controller: a work queue of namespace/name keys fed by informer events, drained by N workers
 * that call a Reconciler. The contract is controller-runtime's:
 *   reconcile(request) -> {} (done: forget the key's failures)
 *                       | { requeueAfterMs } (run again after that long)
 *                       | { requeue: true } (run again, rate-limited)
 *                       | throws (run again, rate-limited; 409 Conflict included: the next run
 *                         re-reads the object and decides again; an ApiError carrying the
 *                         server's Retry-After runs again no sooner than that)
 *                       | throws TerminalError (logged and counted, NOT retried: e.g. an invalid
 *                         spec the reconciler reported in status; a new event runs the key again)
 * A key is never reconciled by two workers at once (the queue guarantees it).
 */
import type { Logger } from '../logging/logger.ts';
import { logger as rootLogger } from '../logging/logger.ts';
import type { RuntimeMetrics } from '../metrics/registry.ts';
import type { EventHandler } from './informer.ts';
import type { RestClient } from './kube/rest.ts';
import { isConflict, retryAfterOf } from './kube/rest.ts';
import type { Resource } from './kube/resource.ts';
import { keyOf, parseKey, type KubeObject, type Request } from './kube/types.ts';
import { WorkQueue } from './workqueue.ts';
import type { RateLimiter } from './ratelimit.ts';

/**
 * An error that retrying cannot fix (controller-runtime's reconcile.TerminalError): the controller
 * logs it, counts it in controller_runtime_terminal_reconcile_errors_total and does not requeue.
 * The reconciler reports it in status first; the next change to the object reconciles it again.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

export const isTerminal = (e: unknown): e is TerminalError => e instanceof TerminalError;

export interface ReconcileResult {
  /** Reconcile this key again after this many ms (and forget its failures). */
  requeueAfterMs?: number;
  /** Reconcile again after the rate limiter's delay. */
  requeue?: boolean;
}

export interface ReconcileContext {
  controller: string;
  /** Logger with controller, namespace and name on every line. */
  log: Logger;
  /** Aborted when shutdown's grace period ran out: stop waiting and return. */
  signal: AbortSignal;
  client: RestClient;
}

export interface Reconciler {
  reconcile(req: Request, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  client: RestClient;
  workers?: number;
  metrics?: RuntimeMetrics;
  rateLimiter?: RateLimiter<string>;
  log?: Logger;
}

/** The owner key of an object whose controller owner reference points at `owner`'s kind, if any. */
export function controllerOwnerKey(obj: KubeObject, owner: Pick<Resource, 'group' | 'version' | 'kind'>): string | undefined {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller === true);
  if (!ref || ref.kind !== owner.kind) return undefined;
  const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
  if (group !== owner.group) return undefined;
  return keyOf({ namespace: obj.metadata.namespace, name: ref.name });
}

/** Anything that delivers object events: an Informer, or a Cache over several namespaces. */
export interface Source {
  addHandler(h: EventHandler): void;
}

export const RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ResultLabel = (typeof RESULTS)[number];

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly workers: number;
  private readonly log: Logger;
  private running: Promise<void>[] = [];
  private readonly hardStop = new AbortController();
  private started = false;

  constructor(private readonly opts: ControllerOptions) {
    this.name = opts.name;
    this.workers = Math.max(1, opts.workers ?? 1);
    this.queue = new WorkQueue({ name: opts.name, rateLimiter: opts.rateLimiter, metrics: opts.metrics });
    this.log = (opts.log ?? rootLogger).child({ controller: opts.name });
    opts.metrics?.maxConcurrentReconciles.set({ controller: opts.name }, this.workers);
    opts.metrics?.activeWorkers.set({ controller: opts.name }, 0);
    // Series exist from the start (like controller-runtime), so rate() and alerts see zeros.
    opts.metrics?.reconcileErrors.inc({ controller: opts.name }, 0);
    opts.metrics?.terminalReconcileErrors.inc({ controller: opts.name }, 0);
    for (const result of RESULTS) opts.metrics?.reconcileTotal.inc({ controller: opts.name, result }, 0);
  }

  /** Reconcile the objects of this informer's kind (key = the object's own key). */
  watchFor(informer: Source): this {
    const enqueue = (o: KubeObject) => this.queue.add(keyOf(o.metadata));
    informer.addHandler({ onAdd: enqueue, onUpdate: (_old, o) => enqueue(o), onDelete: enqueue });
    return this;
  }

  /** Reconcile the controller-owner (of kind `owner`) of each object of this informer's kind (Pods, Jobs, ...). */
  watchOwned(informer: Source, owner: Resource): this {
    const enqueue = (o: KubeObject) => {
      const key = controllerOwnerKey(o, owner);
      if (key) this.queue.add(key);
    };
    informer.addHandler({
      onAdd: enqueue,
      onUpdate: (old, o) => {
        enqueue(o);
        if (controllerOwnerKey(old, owner) !== controllerOwnerKey(o, owner)) enqueue(old);
      },
      onDelete: enqueue,
    });
    return this;
  }

  /** Reconcile the keys `map` returns for each event (any relation other than ownership). */
  watchMapped(informer: Source, map: (o: KubeObject) => Request[]): this {
    const enqueue = (o: KubeObject) => {
      for (const r of map(o)) this.queue.add(keyOf(r));
    };
    informer.addHandler({ onAdd: enqueue, onUpdate: (_old, o) => enqueue(o), onDelete: enqueue });
    return this;
  }

  /** Starts the workers (call once this replica leads). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.log.info('starting workers', { workers: this.workers });
    for (let i = 0; i < this.workers; i++) this.running.push(this.worker());
  }

  /**
   * Stops taking keys and waits for in-flight reconciles up to graceMs; then aborts their signal.
   * Resolves true when every worker finished within the grace period.
   */
  async stop(graceMs = 30_000): Promise<boolean> {
    this.queue.shutdown();
    if (graceMs <= 0) {
      const idle = this.queue.inFlight() === 0;
      if (!idle) this.hardStop.abort();
      return idle;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs)));
    const drained = await Promise.race([Promise.all(this.running).then(() => true), timedOut]);
    clearTimeout(timer);
    if (!drained) {
      this.log.error('in-flight reconciles did not finish within the grace period', { graceMs, inFlight: this.queue.inFlight() });
      this.hardStop.abort();
    }
    return drained;
  }

  /** Aborts in-flight reconciles at once (their ctx.signal) and takes no new key: the lease was lost. */
  abort(): void {
    this.queue.shutdown();
    this.hardStop.abort();
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    const { metrics, reconciler, client } = this.opts;
    const req = parseKey(key);
    const log = this.log.child({ namespace: req.namespace, name: req.name });
    const c = { controller: this.name };
    metrics?.activeWorkers.inc(c);
    const t0 = performance.now();
    let result: ResultLabel = 'success';
    try {
      const res = (await reconciler.reconcile(req, { controller: this.name, log, signal: this.hardStop.signal, client })) ?? {};
      if (res.requeueAfterMs !== undefined && res.requeueAfterMs > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, res.requeueAfterMs);
        result = 'requeue_after';
      } else if (res.requeue) {
        this.queue.addRateLimited(key);
        result = 'requeue';
      } else {
        this.queue.forget(key);
      }
    } catch (e) {
      result = 'error';
      metrics?.reconcileErrors.inc(c);
      if (isTerminal(e)) {
        metrics?.terminalReconcileErrors.inc(c);
        log.error('reconcile failed with a terminal error, not retrying', { error: e.message });
        this.queue.forget(key);
      } else {
        const retryAfter = retryAfterOf(e);
        if (isConflict(e)) log.info('conflict, will re-read and retry', { error: (e as Error).message, retries: this.queue.numRequeues(key) });
        else log.error('reconcile failed', { error: (e as Error).message, stack: (e as Error).stack, retries: this.queue.numRequeues(key), retryAfterMs: retryAfter });
        this.queue.addRateLimited(key, retryAfter);
      }
    } finally {
      metrics?.reconcileTime.observe(c, (performance.now() - t0) / 1000);
      metrics?.reconcileTotal.inc({ ...c, result });
      metrics?.activeWorkers.dec(c);
      this.queue.done(key);
    }
  }
}
