/**
 * Serving a policy, pure: a policy with an external endpoint is used as is; a policy with a
 * source (builtin:, store://, file://) gets a PolicyServer unit (`entropo serve`), and rollouts
 * wait until it is ready. A server that fails is recorded and replaced, up to backoffLimit.
 */
import type { ModelRef } from '../api/common.ts';
import { rfc3339, unitName, type AttemptRecord, type DecisionEvent, type ObservedUnit, type OwnerRef, type PolicyServerUnit, type PolicyTarget, type StopAction } from './decision.ts';
import { slotStates } from './run-policy.ts';

export interface ServeInput {
  owner: OwnerRef;
  base: string;
  policy: ModelRef;
  /** Checkpoint number (0 = the starting policy); part of the unit name. */
  checkpoint: number;
  /** Overrides policy.source (a trained checkpoint: store://...). */
  source?: string;
  storeUri: string;
  replicas?: number;
  resources?: Record<string, unknown>;
  units: readonly ObservedUnit[];
  records: readonly AttemptRecord[];
  backoffLimit: number;
  now: number;
}

export interface ServeResult {
  /** Defined once the policy can be called. */
  target?: PolicyTarget;
  start: PolicyServerUnit[];
  stop: StopAction[];
  records: AttemptRecord[];
  events: DecisionEvent[];
  /** The server failed more than backoffLimit times. */
  failed?: string;
}

export const policyServerName = (base: string, checkpoint: number, attempt: number): string => unitName(base, `policy-c${checkpoint}-a${attempt}`);

/** Keeps the server of `checkpoint` up (or uses the endpoint). Other servers of the owner are not touched. */
export function servePolicy(i: ServeInput): ServeResult {
  const out: ServeResult = { start: [], stop: [], records: [], events: [] };
  if (i.policy.endpoint) {
    out.target = { model: i.policy.name, url: i.policy.endpoint.url, ...(i.policy.endpoint.apiKeySecretRef ? { apiKeySecretRef: i.policy.endpoint.apiKeySecretRef } : {}) };
    return out;
  }
  const source = i.source ?? i.policy.source!;
  const mine = (u: { role: string; checkpoint?: number; index?: number }) => u.role === 'PolicyServer' && (u.checkpoint ?? u.index) === i.checkpoint;
  const recorded = new Set(i.records.map((r) => r.unit));
  // a server already recorded (ended) but still there: let it go
  for (const u of i.units) if (mine(u) && recorded.has(u.name) && !u.terminating) out.stop.push({ name: u.name, role: 'PolicyServer', reason: 'Recorded' });
  const live = i.units.filter((u) => mine(u) && !recorded.has(u.name));
  for (const u of live) {
    if (u.phase === 'Failed' || u.phase === 'Succeeded') {
      const r: AttemptRecord = {
        unit: u.name,
        role: 'PolicyServer',
        index: i.checkpoint,
        attempt: u.attempt ?? 0,
        outcome: 'Failed',
        reason: u.reason ?? 'ServerExited',
        message: u.message ?? 'policy server exited',
        at: rfc3339(i.now),
      };
      out.records.push(r);
      out.stop.push({ name: u.name, role: 'PolicyServer', reason: r.reason });
      out.events.push({ type: 'Warning', reason: 'PolicyServerFailed', message: `${u.name}: ${r.reason}: ${r.message}` });
    }
  }
  const ok = live.filter((u) => u.phase !== 'Failed' && u.phase !== 'Succeeded' && !u.terminating);
  const ready = ok.find((u) => u.ready && u.endpoint);
  if (ready) {
    out.target = { model: i.policy.name, url: ready.endpoint! };
    return out;
  }
  if (ok.length > 0) return out;
  const slot = slotStates([...i.records, ...out.records].filter(mine), i.backoffLimit, (r) => r.index).get(i.checkpoint);
  if (slot?.exhausted) {
    const last = [...i.records, ...out.records].filter((r) => mine(r) && r.outcome === 'Failed').pop();
    out.failed = `policy server for ${source} failed ${slot.failures} times (last: ${slot.lastReason}${last?.message ? `: ${last.message}` : ''})`.slice(0, 2000);
    return out;
  }
  const maxLive = Math.max(-1, ...i.units.filter(mine).map((u) => u.attempt ?? 0));
  const attempt = Math.max(slot?.nextAttempt ?? 0, maxLive + 1);
  const unit: PolicyServerUnit = {
    role: 'PolicyServer',
    name: policyServerName(i.base, i.checkpoint, attempt),
    owner: i.owner,
    checkpoint: i.checkpoint,
    attempt,
    model: i.policy.name,
    source,
    storeUri: i.storeUri,
    replicas: i.replicas ?? 1,
  };
  if (i.resources) unit.resources = i.resources;
  out.start.push(unit);
  return out;
}

/** Stops every live policy server of the owner except those of `keep` checkpoints. */
export function stopServers(units: readonly ObservedUnit[], keep: readonly number[] = [], reason = 'NoLongerNeeded'): StopAction[] {
  return units
    .filter((u) => u.role === 'PolicyServer' && !u.terminating && !keep.includes(u.checkpoint ?? u.index ?? -1))
    .map((u) => ({ name: u.name, role: 'PolicyServer' as const, reason }));
}
