/**
 * An informer: a local cache of one kind (one namespace or all, optionally label-selected) kept
 * current by LIST then WATCH from the list's resourceVersion, with client-go's recovery rules:
 * - 410 Gone (HTTP answer or ERROR event: the resourceVersion was compacted) -> relist; objects
 *   that vanished meanwhile are delivered as deletes;
 * - a failed watch (connection refused, reset, apiserver restart) is restarted from the last
 *   resourceVersion with exponential backoff (800 ms doubling to 30 s, jitter);
 * - a watch that goes silent is aborted and restarted: every watch asks for bookmarks and a
 *   server-side timeoutSeconds (random 60..120 s), so a healthy watch delivers something or ends
 *   within timeoutSeconds; nothing at all for timeoutSeconds + 15 s means a dead connection
 *   (an idle API server does not send periodic bookmarks when nothing changes, so the bound must
 *   come from timeoutSeconds, not from bookmarks alone);
 * - optional periodic resync re-delivers every cached object as an update.
 * Handlers run synchronously on each change; keep them cheap (enqueue a key).
 */
import type { Logger } from '../logging/logger.ts';
import { logger as rootLogger } from '../logging/logger.ts';
import { isGone, ApiError, retryAfterOf, type RestClient } from './kube/rest.ts';
import { resourcePath, type Resource } from './kube/resource.ts';
import { objectKey, keyOf, type KubeList, type KubeObject, type WatchEvent } from './kube/types.ts';
import { diffSnapshot } from './store.ts';
import { Backoff } from './ratelimit.ts';

export interface EventHandler<T extends KubeObject = KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, obj: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions {
  client: RestClient;
  resource: Resource;
  /** Namespace to watch; undefined or '' = all namespaces. */
  namespace?: string;
  labelSelector?: string;
  /** Re-deliver every cached object as an update this often; 0 or undefined = never. */
  resyncPeriodMs?: number;
  /** Server-side watch timeout; default a random 60..120 s (the watch is then re-opened from the last resourceVersion). */
  watchTimeoutSeconds?: number;
  /** Watchdog: restart a watch that delivered nothing (not even a bookmark) for this long; default timeoutSeconds + 15 s. */
  idleTimeoutMs?: number;
  /** LIST page size; default 500. */
  pageSize?: number;
  backoff?: Backoff;
  log?: Logger;
  /**
   * Drop metadata.managedFields from every object before it is cached (controller-runtime's
   * cache.TransformStripManagedFields): for caches whose readers never look at field ownership,
   * e.g. the operator's Pods, whose managedFields (scheduler, kubelet, us) are most of their size.
   */
  stripManagedFields?: boolean;
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: EventHandler<T>[] = [];
  private resourceVersion = '';
  private needList = true;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private abort?: AbortController;
  private loop?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  /** Counters for tests and diagnostics. */
  readonly stats = { lists: 0, watches: 0, relistsOnGone: 0, watchFailures: 0, silentWatches: 0 };

  constructor(readonly options: InformerOptions) {
    this.backoff = options.backoff ?? new Backoff(800, 30_000);
    this.log = (options.log ?? rootLogger).child({ informer: options.resource.plural, namespace: options.namespace || '*' });
  }

  addHandler(h: EventHandler<T>): void {
    this.handlers.push(h);
    // A handler added after the initial list sees the current objects as adds (client-go semantics).
    if (this.synced) for (const obj of this.cache.values()) h.onAdd?.(obj);
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(keyOf({ namespace, name }));
  }
  list(): T[] {
    return [...this.cache.values()];
  }
  get size(): number {
    return this.cache.size;
  }
  hasSynced(): boolean {
    return this.synced;
  }
  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
    if (this.options.resyncPeriodMs && this.options.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncPeriodMs);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** Re-delivers every cached object as an update (periodic resync). */
  resync(): void {
    for (const obj of this.cache.values()) for (const h of this.handlers) h.onUpdate?.(obj, obj);
  }

  private get path(): string {
    return resourcePath(this.options.resource, this.options.namespace);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        if (this.needList) {
          await this.relist(signal);
          this.needList = false;
        }
        await this.watchOnce(signal);
      } catch (e) {
        if (signal.aborted) break;
        if (isGone(e)) {
          // The resourceVersion we hold was compacted away: start over from a fresh list.
          this.stats.relistsOnGone++;
          this.log.info('resourceVersion too old, relisting', { resourceVersion: this.resourceVersion, error: (e as Error).message });
          this.needList = true;
          continue;
        }
        if ((e as Error).name === 'WatchSilentError') this.stats.silentWatches++;
        else this.stats.watchFailures++;
        // Throttled (429 / 5xx with Retry-After): never sooner than the server asked.
        const delay = Math.max(this.backoff.next(), retryAfterOf(e) ?? 0);
        this.log.warn('list/watch failed, retrying', { error: (e as Error).message, retryInMs: delay, relist: this.needList });
        await sleep(delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.options.client.request<KubeList<T>>('GET', this.path, {
        query: { labelSelector: this.options.labelSelector, limit: this.options.pageSize ?? 500, continue: cont },
        signal,
        timeoutMs: 60_000,
      });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont);
    this.stats.lists++;
    // A list's items carry no apiVersion/kind; restore them so handlers can build owner references.
    const { resource } = this.options;
    const apiVersion = resource.group ? `${resource.group}/${resource.version}` : resource.version;
    for (const it of items) {
      it.apiVersion ??= apiVersion;
      it.kind ??= resource.kind;
      if (this.options.stripManagedFields) delete it.metadata.managedFields;
    }
    const diff = diffSnapshot(this.cache, items);
    this.resourceVersion = rv;
    for (const obj of diff.deleted) this.cache.delete(objectKey(obj));
    for (const obj of diff.added) this.cache.set(objectKey(obj), obj);
    for (const { obj } of diff.updated) this.cache.set(objectKey(obj), obj);
    for (const obj of diff.deleted) for (const h of this.handlers) h.onDelete?.(obj);
    for (const obj of diff.added) for (const h of this.handlers) h.onAdd?.(obj);
    for (const { old, obj } of diff.updated) for (const h of this.handlers) h.onUpdate?.(old, obj);
    this.log.debug('listed', { items: items.length, resourceVersion: rv, added: diff.added.length, updated: diff.updated.length, deleted: diff.deleted.length });
    if (!this.synced) {
      this.synced = true;
      const w = this.syncWaiters;
      this.syncWaiters = [];
      for (const f of w) f();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? Math.floor(60 * (1 + Math.random()));
    const started = Date.now();
    let events = 0;
    this.stats.watches++;
    await this.options.client.watch<T>(
      this.path,
      { labelSelector: this.options.labelSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (ev) => {
        events++;
        this.apply(ev);
      },
      { signal, idleTimeoutMs: this.options.idleTimeoutMs ?? timeoutSeconds * 1000 + 15_000 },
    );
    // A watch that ran for a while (or half its timeout) was healthy: forget earlier failures.
    if (Date.now() - started >= Math.min(5_000, timeoutSeconds * 500) || events > 0) this.backoff.reset();
    else if (!signal.aborted) {
      // Closed at once with nothing delivered: treat as a failure so we do not spin.
      throw new Error('watch closed immediately');
    }
  }

  private apply(ev: WatchEvent<T>): void {
    if (ev.type === 'ERROR') {
      const s = ev.object;
      throw new ApiError(s.code ?? 500, s.reason ?? '', `watch error: ${s.message ?? JSON.stringify(s)}`);
    }
    const obj = ev.object;
    if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (ev.type === 'BOOKMARK') return;
    if (this.options.stripManagedFields) delete obj.metadata.managedFields;
    const key = objectKey(obj);
    const old = this.cache.get(key);
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      for (const h of this.handlers) h.onDelete?.(obj);
      return;
    }
    this.cache.set(key, obj);
    if (old) for (const h of this.handlers) h.onUpdate?.(old, obj);
    else for (const h of this.handlers) h.onAdd?.(obj);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
