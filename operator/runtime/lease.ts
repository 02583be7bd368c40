/**
 * Leader-election decisions on a coordination.k8s.io/v1 Lease (client-go's tryAcquireOrRenew), pure:
 * the I/O lives in leader.ts.
 *
 * Expiry is judged on the LOCAL clock from when this candidate last saw the record change
 * (observedAt), never by comparing another machine's renewTime with ours: clock skew cannot make
 * two candidates leaders at once.
 */

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export type LeaseDecision =
  | { action: 'create'; spec: LeaseSpec }
  | { action: 'update'; spec: LeaseSpec; acquired: boolean }
  | { action: 'wait'; holder: string; expiresInMs: number };

/** Kubernetes MicroTime (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function decide(current: LeaseSpec | undefined, observedAt: number, me: string, now: number, leaseDurationSeconds: number): LeaseDecision {
  const stamp = microTime(now);
  if (!current) {
    return {
      action: 'create',
      spec: { holderIdentity: me, leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
    };
  }
  const holder = current.holderIdentity ?? '';
  const duration = (current.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
  if (holder && holder !== me && observedAt + duration > now) {
    return { action: 'wait', holder, expiresInMs: observedAt + duration - now };
  }
  const mine = holder === me;
  return {
    action: 'update',
    acquired: !mine,
    spec: {
      holderIdentity: me,
      leaseDurationSeconds,
      acquireTime: mine && current.acquireTime ? current.acquireTime : stamp,
      renewTime: stamp,
      leaseTransitions: mine ? (current.leaseTransitions ?? 0) : (current.leaseTransitions ?? 0) + (holder ? 1 : 0),
    },
  };
}

/** The record a leader writes when it steps down: no holder, 1 s duration (client-go's release). */
export function released(current: LeaseSpec, now: number): LeaseSpec {
  const stamp = microTime(now);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: current.leaseTransitions ?? 0 };
}

/** The timings of client-go / controller-runtime: 15 s lease, 10 s renew deadline, 2 s retry. */
export const DEFAULT_LEASE = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** client-go's validation of the three timings. */
export function validateTimings(t: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }): void {
  if (t.leaseDurationMs <= t.renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
  if (t.renewDeadlineMs <= 1.2 * t.retryPeriodMs) throw new Error('renewDeadline must be greater than retryPeriod*1.2');
  if (t.retryPeriodMs < 1) throw new Error('retryPeriod must be positive');
}
