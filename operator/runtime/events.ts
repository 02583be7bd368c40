/**
 * Kubernetes Events for an object (core/v1 Event, as client-go's EventRecorder writes them):
 * Normal / Warning, a CamelCase reason and a message, reported by component `entropo-operator`.
 * Repeats of the same (object, type, reason, message) within the aggregation window are folded
 * into one Event whose count and lastTimestamp are patched, so a retry storm cannot flood etcd.
 * Best effort: a failed write is logged and dropped (events never fail a reconcile).
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../logging/logger.ts';
import type { RestClient } from './kube/rest.ts';
import { isNotFound } from './kube/rest.ts';
import type { KubeObject } from './kube/types.ts';
import { headChars } from '../util/text.ts';

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export const EVENT_COMPONENT = 'entropo-operator';

export class EventRecorder {
  private readonly seen = new Map<string, { name: string; namespace: string; count: number; at: number }>();

  constructor(
    private readonly client: RestClient,
    private readonly log: Logger,
    private readonly windowMs = 10 * 60_000,
    private readonly host = process.env.HOSTNAME ?? 'operator',
  ) {}

  /** Records an event about `obj` (apiVersion, kind, metadata.name/namespace/uid are used). */
  async record(obj: KubeObject, e: EventInput, now = Date.now()): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const message = headChars(e.message, 1024);
    const id = createHash('sha256').update(`${obj.metadata.uid}|${e.type}|${e.reason}|${message}`).digest('hex').slice(0, 16);
    const stamp = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const prior = this.seen.get(id);
    try {
      if (prior && now - prior.at < this.windowMs) {
        prior.count++;
        prior.at = now;
        await this.client.request('PATCH', `/api/v1/namespaces/${encodeURIComponent(prior.namespace)}/events/${encodeURIComponent(prior.name)}`, {
          body: { count: prior.count, lastTimestamp: stamp },
          contentType: 'application/merge-patch+json',
        });
        return;
      }
      const name = `${obj.metadata.name}.${id}`;
      this.seen.set(id, { name, namespace: ns, count: 1, at: now });
      this.prune(now);
      await this.client.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace: ns },
          involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: ns, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
          type: e.type,
          reason: e.reason,
          message,
          source: { component: EVENT_COMPONENT, host: this.host },
          reportingComponent: EVENT_COMPONENT,
          reportingInstance: this.host,
          firstTimestamp: stamp,
          lastTimestamp: stamp,
          count: 1,
        },
      });
    } catch (err) {
      // 409: an Event of that name exists (another replica, or our memory was lost): count it there.
      if (isNotFound(err)) this.seen.delete(id);
      this.log.debug('event not recorded', { reason: e.reason, error: (err as Error).message });
    }
  }

  private prune(now: number): void {
    if (this.seen.size < 10_000) return;
    for (const [k, v] of this.seen) if (now - v.at >= this.windowMs) this.seen.delete(k);
  }
}
