/**
 * Leader election with a coordination.k8s.io/v1 Lease (decisions in lease.ts). run() blocks until
 * this candidate leads, then renews every retryPeriod; if no renew succeeds within renewDeadline it
 * stops leading (onStoppedLeading) and returns. release() hands the lease back on graceful
 * shutdown so another replica takes over at once instead of after the lease expires.
 */
import type { Logger } from '../logging/logger.ts';
import { logger as rootLogger } from '../logging/logger.ts';
import type { RuntimeMetrics } from '../metrics/registry.ts';
import { isConflict, isNotFound, type RestClient } from './kube/rest.ts';
import { Leases, resourcePath } from './kube/resource.ts';
import { decide, released, validateTimings, DEFAULT_LEASE, type LeaseSpec } from './lease.ts';
import { sleep } from './informer.ts';

interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

export interface LeaderElectorOptions {
  client: RestClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  metrics?: RuntimeMetrics;
  log?: Logger;
}

export class LeaderElector {
  private leading = false;
  private observed?: Lease;
  private observedAt = 0;
  private readonly timings: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  private readonly log: Logger;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.timings = {
      leaseDurationMs: opts.leaseDurationMs ?? DEFAULT_LEASE.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs ?? DEFAULT_LEASE.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs ?? DEFAULT_LEASE.retryPeriodMs,
    };
    validateTimings(this.timings);
    this.log = (opts.log ?? rootLogger).child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    opts.metrics?.leaderStatus.set({ name: opts.name }, 0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Resolves true once this candidate leads (false if the signal aborted first).
   */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.log.info('waiting for leadership');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.setLeading(true);
        this.log.info('became leader');
        return true;
      }
      await sleep(this.timings.retryPeriodMs * (1 + 0.2 * Math.random()), signal);
    }
    return false;
  }

  /** Renews until the signal aborts (resolves 'stopped') or a renew deadline passes (resolves 'lost'). */
  async renewLoop(signal: AbortSignal): Promise<'stopped' | 'lost'> {
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.timings.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) lastRenew = Date.now();
      else if (Date.now() - lastRenew > this.timings.renewDeadlineMs) {
        this.setLeading(false);
        this.log.error('leader election lost: no renew within the renew deadline');
        return 'lost';
      }
    }
    return 'stopped';
  }

  /** Steps down: writes an empty holder so another candidate can take over immediately. */
  async release(): Promise<void> {
    if (!this.leading || !this.observed) return;
    this.setLeading(false);
    const lease = { ...this.observed, spec: released(this.observed.spec, Date.now()) };
    try {
      await this.opts.client.request('PUT', this.path(this.opts.name), { body: lease, timeoutMs: 5_000 });
      this.log.info('released the lease');
    } catch (e) {
      this.log.warn('could not release the lease', { error: (e as Error).message });
    }
  }

  private setLeading(v: boolean): void {
    this.leading = v;
    this.opts.metrics?.leaderStatus.set({ name: this.opts.name }, v ? 1 : 0);
  }

  private path(name?: string): string {
    return resourcePath(Leases, this.opts.namespace, name);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, name, namespace, identity } = this.opts;
    const timeoutMs = this.timings.renewDeadlineMs;
    const now = () => Date.now();
    let current: Lease | undefined;
    try {
      current = await client.request<Lease>('GET', this.path(name), { timeoutMs });
    } catch (e) {
      if (!isNotFound(e)) {
        this.log.warn('error reading the lease', { error: (e as Error).message });
        return false;
      }
    }
    if (current && current.metadata.resourceVersion !== this.observed?.metadata.resourceVersion) {
      this.observed = current;
      this.observedAt = now();
    }
    const d = decide(current?.spec, this.observedAt, identity, now(), Math.round(this.timings.leaseDurationMs / 1000));
    if (d.action === 'wait') return false;
    try {
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace, ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}) },
        spec: d.spec,
      };
      const written =
        d.action === 'create'
          ? await client.request<Lease>('POST', this.path(), { body, timeoutMs })
          : await client.request<Lease>('PUT', this.path(name), { body, timeoutMs });
      this.observed = written;
      this.observedAt = now();
      if (d.action === 'create' || d.acquired) this.log.info('acquired the lease', { previousHolder: current?.spec.holderIdentity || undefined });
      return true;
    } catch (e) {
      // 409: another candidate wrote first; we lost this round.
      if (!isConflict(e)) this.log.warn('error writing the lease', { error: (e as Error).message });
      return false;
    }
  }
}
