/**
 * Feeding the domain metrics (metrics/domain.ts: entropo_rollouts_total, entropo_sandbox_failures_total,
 * rollout histograms, entropo_resolve_rate, entropo_pass_at_1, entropo_best_at_n,
 * entropo_oracle_gap, entropo_phase) from what every executor has: the attempt records decide()
 * emits and the statuses it computes. Local mode calls these; they count exactly as the
 * operator's reconciler does, so dashboards read the same series from both.
 */
import type { RolloutSummary } from '../api/records.ts';
import { PHASES, type DomainMetrics } from './domain.ts';

/** What a record needs here (controllers/decision.ts AttemptRecord has these fields). */
export interface RecordLike {
  role: string;
  outcome: string;
  reason: string;
  summary?: unknown;
}

/** Counts one new attempt record of an object of `kind` (call once per record stored). */
export function observeRecord(m: DomainMetrics, kind: string, r: RecordLike): void {
  if (r.role !== 'Sandbox') return;
  if (r.outcome === 'Failed') {
    m.rollouts.inc({ kind, outcome: 'failed' });
    m.sandboxFailures.inc({ kind, reason: r.reason });
  } else if (r.outcome === 'Stopped') m.rollouts.inc({ kind, outcome: 'stopped' });
  else {
    const s = r.summary as RolloutSummary | undefined;
    m.rollouts.inc({ kind, outcome: s?.resolved ? 'resolved' : 'unresolved' });
    if (s) {
      m.duration.observe({ kind }, s.seconds);
      m.steps.observe({ kind }, s.steps);
      m.tokens.observe({ kind }, s.tokens);
    }
  }
}

/** Sets the per-object gauges from an object's status. */
export function observeStatus(m: DomainMetrics, o: { kind: string; metadata: { name?: string; namespace?: string }; status?: unknown }): void {
  const status = (o.status ?? {}) as { phase?: string; resolveRate?: number; metrics?: { pass1?: number; bestAtN?: number; oracleGap?: number } };
  const labels = { kind: o.kind, namespace: o.metadata.namespace ?? 'default', name: o.metadata.name ?? '' };
  if (typeof status.resolveRate === 'number') m.resolveRate.set(labels, status.resolveRate);
  const em = status.metrics;
  if (em?.pass1 !== undefined) m.pass1.set(labels, em.pass1);
  if (em?.bestAtN !== undefined) m.bestAtN.set(labels, em.bestAtN);
  if (em?.oracleGap !== undefined) m.oracleGap.set(labels, em.oracleGap);
  if (status.phase) for (const phase of PHASES) m.phase.set({ ...labels, phase }, phase === status.phase ? 1 : 0);
}
