/**
 * metav1.Condition helpers (apimachinery's meta.SetStatusCondition semantics), pure:
 * lastTransitionTime changes only when status flips; reason, message and observedGeneration are
 * updated in place; conditions stay a list keyed by type.
 */
import type { Condition } from '../api/common.ts';

export type ConditionStatus = Condition['status'];

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

/** Kubernetes Time (RFC 3339, seconds). */
export const rfc3339 = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** Returns a new list with `c` set; the input is not modified. */
export function setCondition(conditions: readonly Condition[] | undefined, c: ConditionInput, now: number = Date.now()): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const next: Condition = {
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message ?? '',
    lastTransitionTime: rfc3339(now),
    ...(c.observedGeneration !== undefined ? { observedGeneration: c.observedGeneration } : {}),
  };
  if (i < 0) {
    list.push(next);
    return list;
  }
  const old = list[i];
  if (old.status === c.status && old.lastTransitionTime) next.lastTransitionTime = old.lastTransitionTime;
  list[i] = next;
  return list;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
