/**
 * A minimal real reconciler for the three kinds until their full controllers land: it accepts the
 * object (status.phase Pending if unset, status.observedGeneration, condition Accepted=True).
 * Idempotent; writes only through /status and only when something changed.
 */
import type { Condition } from '../api/common.ts';
import { setCondition } from '../runtime/conditions.ts';
import type { Cache } from '../runtime/cache.ts';
import type { Reconciler } from '../runtime/controller.ts';
import type { Resource } from '../runtime/kube/resource.ts';
import type { KubeObject } from '../runtime/kube/types.ts';
import { patchStatus } from '../runtime/status.ts';

interface AcceptStatus {
  phase?: string;
  observedGeneration?: number;
  conditions?: Condition[];
  [k: string]: unknown;
}

/** The accepted status of an object (pure). */
export function acceptedStatus(obj: KubeObject, now: number = Date.now()): AcceptStatus {
  const status = (obj.status ?? {}) as AcceptStatus;
  const generation = obj.metadata.generation ?? 0;
  return {
    ...status,
    phase: status.phase ?? 'Pending',
    observedGeneration: generation,
    conditions: setCondition(
      status.conditions,
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: `${obj.kind ?? 'object'} accepted by the operator`, observedGeneration: generation },
      now,
    ),
  };
}

export function acceptReconciler(resource: Resource, cache: Cache): Reconciler {
  return {
    async reconcile(req, ctx) {
      const obj = cache.get(req.namespace, req.name);
      if (!obj || obj.metadata.deletionTimestamp) return;
      const { changed } = await patchStatus(ctx.client, resource, obj, acceptedStatus(obj));
      if (changed) ctx.log.info('accepted', { generation: obj.metadata.generation });
    },
  };
}
