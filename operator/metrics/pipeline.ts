/**
 * Feeding the domain metrics (metrics/domain.ts: entropo_rollouts_total, entropo_sandbox_failures_total,
 * rollout histograms, entropo_resolve_rate, entropo_pass_at_1, entropo_best_at_n,
 * entropo_oracle_gap, entropo_phase) from what every executor has: the attempt records decide()
 * emits and the statuses it computes. Local mode calls these; they count exactly as the
 * operator's reconciler does, so dashboards read the same series from both.
 */
import type { RolloutSummary } from '../api/records.ts';
import { PHASES, SANDBOX_FAILURE_REASONS, TRAINING_GAUGES, objectKey, type DomainMetrics, type TrainingGauge } from './domain.ts';

/** What a record needs here (controllers/decision.ts AttemptRecord has these fields). */
export interface RecordLike {
  role: string;
  outcome: string;
  reason: string;
  message?: string;
  summary?: unknown;
}

const KNOWN_REASONS = new Set<string>(SANDBOX_FAILURE_REASONS);

/**
 * The reason label of a failed sandbox attempt: one of SANDBOX_FAILURE_REASONS ("Other" for any
 * other). A sandbox that never started is recorded as StartDeadlineExceeded with the waiting reason
 * in its message ("not started within 600s (ImagePullBackOff: ...)", controllers/sandbox-fleet.ts);
 * that waiting reason (image pulls, container config) is the label, so image pull failures are
 * counted as such.
 */
export function failureReason(r: Pick<RecordLike, 'reason' | 'message'>): string {
  if (r.reason === 'StartDeadlineExceeded') {
    const waiting = /^not started within \S+ \(([A-Za-z]+)/.exec(r.message ?? '')?.[1];
    if (waiting && KNOWN_REASONS.has(waiting)) return waiting;
  }
  return KNOWN_REASONS.has(r.reason) ? r.reason : 'Other';
}

/** Counts one new attempt record of an object of `kind` (call once per record stored). */
export function observeRecord(m: DomainMetrics, kind: string, r: RecordLike): void {
  if (r.role !== 'Sandbox') return;
  if (r.outcome === 'Failed') {
    m.rollouts.inc({ kind, outcome: 'failed' });
    m.sandboxFailures.inc({ kind, reason: failureReason(r) });
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

type TrainingStatus = Partial<Record<TrainingGauge, number>>;

/**
 * What counts as progress in a status: everything but conditions (their times and messages move
 * while a unit retries), message, observedGeneration and the ETA of the progress line.
 */
export function progressFingerprint(status: Record<string, unknown>): string {
  const { conditions: _c, message: _m, observedGeneration: _g, ...rest } = status;
  if (typeof rest.progress === 'string') rest.progress = rest.progress.replace(/\s*ETA\s+\S+/g, '');
  return JSON.stringify(rest);
}

/**
 * Sets the per-object gauges from an object's status: resolve rate, evaluation metrics, phase,
 * and for a TrainingRun its iteration and each iteration's training metrics; stamps
 * entropo_last_progress_timestamp_seconds when the status progressed (`now`: ms since the epoch).
 */
export function observeStatus(m: DomainMetrics, o: { kind: string; metadata: { name?: string; namespace?: string }; status?: unknown }, now = Date.now()): void {
  const status = (o.status ?? {}) as {
    phase?: string;
    resolveRate?: number;
    metrics?: { pass1?: number; bestAtN?: number; oracleGap?: number };
    iteration?: number;
    training?: TrainingStatus;
    history?: Array<{ iteration: number; training?: TrainingStatus }>;
  };
  const labels = { kind: o.kind, namespace: o.metadata.namespace ?? 'default', name: o.metadata.name ?? '' };
  const key = objectKey(labels.kind, labels.namespace, labels.name);
  const fingerprint = progressFingerprint(status as Record<string, unknown>);
  const seen = m.progress.get(key);
  if (seen?.fingerprint !== fingerprint) {
    m.progress.set(key, { fingerprint, at: now });
    m.lastProgress.set(labels, now / 1000);
  }
  if (o.kind === 'TrainingRun') {
    m.iteration.set(labels, status.iteration ?? 0);
    const perIteration = new Map<number, TrainingStatus>();
    // Per iteration from the history only: status.training is the LAST finished update, which
    // while iteration k trains is still iteration k-1's (labelling it k showed k-1's loss as k's).
    for (const h of status.history ?? []) if (h.training) perIteration.set(h.iteration, h.training);
    const iterations = m.trainingIterations.get(key) ?? new Set<string>();
    for (const [iteration, t] of perIteration) {
      for (const g of Object.keys(TRAINING_GAUGES) as TrainingGauge[]) {
        const v = t[g];
        if (typeof v === 'number' && Number.isFinite(v)) m.training[g].set({ ...labels, iteration: String(iteration) }, v);
      }
      iterations.add(String(iteration));
    }
    m.trainingIterations.set(key, iterations);
  }
  if (typeof status.resolveRate === 'number') m.resolveRate.set(labels, status.resolveRate);
  const em = status.metrics;
  if (em?.pass1 !== undefined) m.pass1.set(labels, em.pass1);
  if (em?.bestAtN !== undefined) m.bestAtN.set(labels, em.bestAtN);
  if (em?.oracleGap !== undefined) m.oracleGap.set(labels, em.oracleGap);
  if (status.phase) for (const phase of PHASES) m.phase.set({ ...labels, phase }, phase === status.phase ? 1 : 0);
}
