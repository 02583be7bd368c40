/**
 * The Manager assembles the runtime: one REST client (counted), shared caches per kind over the
 * namespace scope, controllers, leader election, the metrics and probe endpoints, and graceful
 * shutdown. Caches run in every replica (a new leader starts warm); controllers' workers run only
 * in the leader. /readyz is 200 when the caches synced and this replica leads (or leader
 * election is off; or readinessRequiresLeadership is false); /healthz is 200 while the process serves.
 *
 *   const mgr = await Manager.create({ kubeConfig, namespaces: ['team-a'] });
 *   mgr.addController({ name: 'rolloutbatch', for: EntropoResources.RolloutBatch, owns: [Pods], reconciler });
 *   mgr.add({ name: 'ttl-cleanup', start: (signal) => cleanupLoop(signal) });  // any other runnable
 *   await mgr.start();          // returns once started; mgr.done settles when it stops or loses the lease
 *   await mgr.stop();           // graceful: drain reconciles and runnables (bounded), THEN release the lease
 *
 * Shutdown order is controller-runtime's: the replica keeps renewing its Lease while controllers
 * and runnables drain (up to gracefulShutdownMs), and only once they stopped (or were aborted at
 * the end of the grace period) stops renewing and releases the Lease. A standby can therefore
 * never lead while a reconcile of the old leader is still running. If the Lease is lost meanwhile
 * (no renew within the renew deadline), everything in flight is aborted at once.
 */
import { hostname } from 'node:os';
import { setMaxListeners } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Configuration, KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../logging/logger.ts';
import { logger as rootLogger } from '../logging/logger.ts';
import { createRegistry, runtimeMetrics, type RuntimeMetrics } from '../metrics/registry.ts';
import { RestClient, type RestClientOptions } from './kube/rest.ts';
import { makeCountedApiClient } from './kube/typed.ts';
import type { Resource } from './kube/resource.ts';
import type { KubeObject } from './kube/types.ts';
import { Cache } from './cache.ts';
import { Controller, type Reconciler } from './controller.ts';
import { LeaderElector } from './leader.ts';
import { HttpEndpoints } from './http.ts';

export interface LeaderElectionOptions {
  namespace: string;
  id: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to watch; undefined or [] = all namespaces. */
  namespaces?: string[];
  /** Lease-based leader election; false = this replica always runs the controllers. */
  leaderElection?: LeaderElectionOptions | false;
  /** '[host]:port' of /metrics; '0' disables. Default '0' (the CLI sets ':8080'). */
  metricsBindAddress?: string;
  /** '[host]:port' of /healthz and /readyz; '0' disables. */
  healthProbeBindAddress?: string;
  /** Periodic resync of every cache (re-reconcile everything); 0 = off. */
  syncPeriodMs?: number;
  /**
   * /readyz requires leadership (default true). Set false where a Deployment with several replicas
   * rolls out with RollingUpdate: a standby that can never become ready stalls the rollout.
   */
  readinessRequiresLeadership?: boolean;
  /** Bound on waiting for in-flight reconciles at shutdown. Default 30 s. */
  gracefulShutdownMs?: number;
  /** Informer watchdog and watch timeout (defaults in informer.ts). */
  watchIdleTimeoutMs?: number;
  watchTimeoutSeconds?: number;
  /** Throttling behaviour of the REST client (Retry-After retries; see kube/rest.ts). */
  restClient?: Pick<RestClientOptions, 'maxRetries' | 'maxRetryAfterMs'>;
  registry?: Registry;
  log?: Logger;
}

export interface ControllerSpec {
  name: string;
  /** The kind this controller reconciles. */
  for: Resource;
  /**
   * Kinds whose objects carry a controller ownerReference to a `for` object (Pods, Jobs, ...);
   * an entry with its own labelSelector overrides ownedLabelSelector for that kind.
   */
  owns?: (Resource | { resource: Resource; labelSelector?: string })[];
  /** Label selector for the owned kinds' caches (cache only what we create). */
  ownedLabelSelector?: string;
  reconciler: Reconciler;
  workers?: number;
}

export type StopReason = 'stopped' | 'leadership-lost';

/**
 * Anything the manager runs besides controllers (TTL cleanup, a policy server, a progress poller):
 * started once the caches synced (and, when needLeaderElection is true, the default, once this
 * replica leads); `start` runs until `signal` aborts at shutdown and then returns. A runnable that
 * fails (rejects) is logged and stops the manager, as in controller-runtime.
 */
export interface Runnable {
  name: string;
  /** Run only in the leader (default true); false: in every replica (e.g. a webhook). */
  needLeaderElection?: boolean;
  start(signal: AbortSignal): Promise<void>;
}

export class Manager {
  readonly registry: Registry;
  readonly metrics: RuntimeMetrics;
  readonly identity: string;
  readonly controllers: Controller[] = [];
  metricsPort?: number;
  healthPort?: number;
  private readonly caches = new Map<string, Cache>();
  private readonly log: Logger;
  private elector?: LeaderElector;
  private readonly lifetime = new AbortController();
  /** Aborted only once controllers and runnables stopped: the lease is renewed until then. */
  private readonly renewal = new AbortController();
  /** Aborted at shutdown: the signal runnables run under. */
  private readonly runnablesSignal = new AbortController();
  private readonly runnables: { runnable: Runnable; running?: Promise<void> }[] = [];
  private leaderStarted = false;
  private othersStarted = false;
  private controllersStarted = false;
  private stopping?: Promise<boolean>;
  private readonly metricsServer: HttpEndpoints;
  private readonly healthServer: HttpEndpoints;
  private settle!: (r: StopReason) => void;
  /** Settles when the manager stopped, or lost leadership (then the process should exit non-zero). */
  readonly done: Promise<StopReason> = new Promise((r) => (this.settle = r));

  private constructor(
    readonly client: RestClient,
    private readonly opts: ManagerOptions,
    registry: Registry,
  ) {
    this.registry = registry;
    this.metrics = runtimeMetrics(registry);
    this.log = opts.log ?? rootLogger.child({ component: 'manager' });
    // Every cache's sync wait listens on these signals: one listener per informer is expected.
    for (const c of [this.lifetime, this.renewal, this.runnablesSignal]) setMaxListeners(0, c.signal);
    const le = opts.leaderElection;
    this.identity = (le && le.identity) || `${hostname()}_${randomUUID()}`;
    this.metricsServer = new HttpEndpoints({ registry });
    this.healthServer = new HttpEndpoints({ healthz: () => ({ ok: true }), readyz: () => this.readiness() });
  }

  static async create(opts: ManagerOptions): Promise<Manager> {
    const registry = opts.registry ?? createRegistry();
    const client = await RestClient.fromKubeConfig(opts.kubeConfig, { ...opts.restClient, metrics: runtimeMetrics(registry) });
    return new Manager(client, opts, registry);
  }

  /**
   * The shared cache of a kind (one per kind and label selector; options apply when it is first
   * made: stripManagedFields drops metadata.managedFields of the cached objects).
   */
  cache<T extends KubeObject = KubeObject>(resource: Resource, labelSelector?: string, options: { stripManagedFields?: boolean } = {}): Cache<T> {
    const id = `${resource.group}/${resource.version}/${resource.plural}?${labelSelector ?? ''}`;
    let c = this.caches.get(id);
    if (!c) {
      c = new Cache(resource, this.opts.namespaces, {
        client: this.client,
        labelSelector,
        resyncPeriodMs: this.opts.syncPeriodMs,
        idleTimeoutMs: this.opts.watchIdleTimeoutMs,
        watchTimeoutSeconds: this.opts.watchTimeoutSeconds,
        log: this.log,
        ...(options.stripManagedFields ? { stripManagedFields: true } : {}),
      });
      this.caches.set(id, c);
      if (this.lifetime.signal.aborted === false && this.startedCaches) c.start();
    }
    return c as unknown as Cache<T>;
  }

  /** A typed client-node API client (e.g. CoreV1Api) whose requests are counted like the REST client's. */
  apiClient<T>(type: new (config: Configuration) => T): T {
    return makeCountedApiClient(this.opts.kubeConfig, type, this.metrics);
  }

  addController(spec: ControllerSpec): Controller {
    const ctl = new Controller({
      name: spec.name,
      reconciler: spec.reconciler,
      client: this.client,
      workers: spec.workers,
      metrics: this.metrics,
      log: this.log,
    });
    ctl.watchFor(this.cache(spec.for));
    for (const owned of spec.owns ?? []) {
      const [resource, selector] = 'resource' in owned ? [owned.resource, owned.labelSelector] : [owned, spec.ownedLabelSelector];
      ctl.watchOwned(this.cache(resource, selector), spec.for);
    }
    this.controllers.push(ctl);
    if (this.controllersStarted) ctl.start();
    return ctl;
  }

  /** Adds a runnable (see Runnable); started at once if its group is already running. */
  add(runnable: Runnable): void {
    const entry: { runnable: Runnable; running?: Promise<void> } = { runnable };
    this.runnables.push(entry);
    const leaderOnly = runnable.needLeaderElection ?? true;
    if ((leaderOnly && this.leaderStarted) || (!leaderOnly && this.othersStarted)) this.startRunnable(entry);
  }

  private startRunnable(entry: { runnable: Runnable; running?: Promise<void> }): void {
    if (entry.running || this.runnablesSignal.signal.aborted) return;
    const { runnable } = entry;
    this.log.info('starting runnable', { runnable: runnable.name });
    entry.running = (async () => {
      try {
        await runnable.start(this.runnablesSignal.signal);
      } catch (e) {
        if (this.runnablesSignal.signal.aborted) return;
        this.log.error('runnable failed, stopping the manager', { runnable: runnable.name, error: (e as Error).message, stack: (e as Error).stack });
        void this.stop();
      }
    })();
  }

  private startRunnables(leaderOnly: boolean): void {
    if (leaderOnly) this.leaderStarted = true;
    else this.othersStarted = true;
    for (const e of this.runnables) if ((e.runnable.needLeaderElection ?? true) === leaderOnly) this.startRunnable(e);
  }

  isLeader(): boolean {
    return this.opts.leaderElection ? (this.elector?.isLeader() ?? false) : true;
  }

  hasSynced(): boolean {
    return [...this.caches.values()].every((c) => c.hasSynced());
  }

  readiness(): { ok: boolean; detail?: string } {
    if (this.stopping) return { ok: false, detail: 'shutting down' };
    if (!this.hasSynced()) return { ok: false, detail: 'caches not synced' };
    if (!this.isLeader()) {
      return this.opts.readinessRequiresLeadership === false ? { ok: true, detail: 'standby' } : { ok: false, detail: 'not the leader' };
    }
    return { ok: true };
  }

  private startedCaches = false;
  private reason: StopReason = 'stopped';
  private leadLoop?: Promise<void>;

  /** Starts endpoints, caches and (once leading) controllers; returns when the endpoints listen. */
  async start(): Promise<void> {
    this.metricsPort = await this.metricsServer.listen(this.opts.metricsBindAddress ?? '0');
    this.healthPort = await this.healthServer.listen(this.opts.healthProbeBindAddress ?? '0');
    this.startedCaches = true;
    for (const c of this.caches.values()) c.start();
    const le = this.opts.leaderElection;
    this.log.info('manager started', {
      identity: this.identity,
      namespaces: this.opts.namespaces?.length ? this.opts.namespaces : 'all',
      leaderElection: le ? `${le.namespace}/${le.id}` : false,
      metricsPort: this.metricsPort,
      healthPort: this.healthPort,
    });
    void this.startOthersWhenSynced();
    if (!le) {
      void this.startControllersWhenSynced();
      return;
    }
    this.elector = new LeaderElector({
      client: this.client,
      namespace: le.namespace,
      name: le.id,
      identity: this.identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      metrics: this.metrics,
      log: this.log,
    });
    this.leadLoop = this.lead(this.elector);
  }

  private async lead(elector: LeaderElector): Promise<void> {
    if (!(await elector.acquire(this.lifetime.signal))) return;
    // Renew from the moment we lead (also while caches sync), until the runnables have stopped.
    const renewing = elector.renewLoop(this.renewal.signal);
    void this.startControllersWhenSynced();
    const r = await renewing;
    if (r === 'lost') {
      // Like controller-runtime: a replica that lost the lease must not keep reconciling.
      // In-flight reconciles are aborted at once (no grace): the next leader may already be writing.
      this.reason = 'leadership-lost';
      for (const c of this.controllers) c.abort();
      this.runnablesSignal.abort();
      void this.stop({ graceMs: 0 });
    }
  }

  private async startOthersWhenSynced(): Promise<void> {
    const signal = this.lifetime.signal;
    const ok = (await Promise.all([...this.caches.values()].map((c) => c.waitForSync(signal)))).every(Boolean);
    if (!ok || signal.aborted) return;
    this.startRunnables(false);
  }

  private async startControllersWhenSynced(): Promise<void> {
    const signal = this.lifetime.signal;
    const caches = [...this.caches.values()];
    const ok = (await Promise.all(caches.map((c) => c.waitForSync(signal)))).every(Boolean);
    if (!ok || signal.aborted) return;
    this.log.info('caches synced, starting controllers', { controllers: this.controllers.map((c) => c.name) });
    this.controllersStarted = true;
    for (const c of this.controllers) c.start();
    this.startRunnables(true);
  }

  /**
   * Graceful stop: no new keys; in-flight reconciles finish and runnables return (together bounded
   * by gracefulShutdownMs, then aborted); only then the Lease stops being renewed and is released;
   * caches stop, endpoints close. Resolves true when everything finished in time.
   */
  stop(opts: { graceMs?: number } = {}): Promise<boolean> {
    this.stopping ??= (async () => {
      this.log.info('shutting down');
      this.lifetime.abort();
      const grace = opts.graceMs ?? this.opts.gracefulShutdownMs ?? 30_000;
      const deadline = Date.now() + grace;
      this.runnablesSignal.abort();
      const [controllersDrained, runnablesDrained] = await Promise.all([
        Promise.all(this.controllers.map((c) => c.stop(grace))).then((r) => r.every(Boolean)),
        this.waitForRunnables(deadline),
      ]);
      const drained = controllersDrained && runnablesDrained;
      // Everything stopped (or was aborted): now stop renewing, let an in-flight renew finish so
      // the release is the last lease write, and hand the lease back.
      this.renewal.abort();
      await this.leadLoop;
      await this.elector?.release();
      await Promise.all([...this.caches.values()].map((c) => c.stop()));
      await Promise.all([this.metricsServer.close(), this.healthServer.close()]);
      this.client.close();
      this.log.info('stopped', { drained });
      this.settle(this.reason);
      return drained;
    })();
    return this.stopping;
  }

  private async waitForRunnables(deadline: number): Promise<boolean> {
    const running = this.runnables.map((e) => e.running).filter((p): p is Promise<void> => p !== undefined);
    if (running.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, deadline - Date.now()))));
    const ok = await Promise.race([Promise.all(running).then(() => true), timedOut]);
    clearTimeout(timer);
    if (!ok) this.log.error('runnables did not stop within the grace period', { runnables: this.runnables.map((e) => e.runnable.name) });
    return ok;
  }
}
