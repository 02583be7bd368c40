/**
 * Domain metrics of the pipeline (entropo_*), fed from what every executor has: the attempt
 * records decide() emits and the statuses it computes. The same functions serve the operator
 * (Kubernetes executor) and local mode, so dashboards read the same series in both.
 *
 *   entropo_rollouts_total{kind,namespace,name,outcome}   outcome: resolved | unresolved | no_sample | stopped
 *   entropo_sandbox_failures_total{reason}                every failed sandbox attempt (no sample), by reason
 *   entropo_rollout_duration_seconds, entropo_rollout_steps, entropo_rollout_tokens   histograms of samples
 *   entropo_resolve_rate{kind,namespace,name}             resolved / completed (RolloutBatch, EvalSuite pass@1)
 *   entropo_eval_best_at_n / entropo_eval_pass_at_n / entropo_eval_oracle_gap{namespace,name}
 *   entropo_run_iteration{namespace,name}, entropo_run_phase{namespace,name,phase} (1 for the current phase)
 *   entropo_run_training_loss / entropo_run_policy_entropy{namespace,name}   latest iteration's update
 * Per-object series are removed with forget() when the object is deleted.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Phases } from '../api/common.ts';
import type { RolloutSummary } from '../api/records.ts';

export interface PipelineMetrics {
  rollouts: Counter<'kind' | 'namespace' | 'name' | 'outcome'>;
  sandboxFailures: Counter<'reason'>;
  duration: Histogram<'kind'>;
  steps: Histogram<'kind'>;
  tokens: Histogram<'kind'>;
  resolveRate: Gauge<'kind' | 'namespace' | 'name'>;
  bestAtN: Gauge<'namespace' | 'name'>;
  passAtN: Gauge<'namespace' | 'name'>;
  oracleGap: Gauge<'namespace' | 'name'>;
  iteration: Gauge<'namespace' | 'name'>;
  phase: Gauge<'namespace' | 'name' | 'phase'>;
  loss: Gauge<'namespace' | 'name'>;
  entropy: Gauge<'namespace' | 'name'>;
}

const cache = new WeakMap<Registry, PipelineMetrics>();

export function pipelineMetrics(registry: Registry): PipelineMetrics {
  const have = cache.get(registry);
  if (have) return have;
  const registers = [registry];
  const m: PipelineMetrics = {
    rollouts: new Counter({ name: 'entropo_rollouts_total', help: 'Finished rollouts by outcome (no_sample: infrastructure, never reward 0).', labelNames: ['kind', 'namespace', 'name', 'outcome'], registers }),
    sandboxFailures: new Counter({ name: 'entropo_sandbox_failures_total', help: 'Failed sandbox attempts (no sample) by reason.', labelNames: ['reason'], registers }),
    duration: new Histogram({ name: 'entropo_rollout_duration_seconds', help: 'Wall time of a rollout (samples).', labelNames: ['kind'], buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600], registers }),
    steps: new Histogram({ name: 'entropo_rollout_steps', help: 'Agent steps of a rollout (samples).', labelNames: ['kind'], buckets: [1, 2, 5, 10, 20, 50, 100, 200], registers }),
    tokens: new Histogram({ name: 'entropo_rollout_tokens', help: 'Tokens of a rollout (samples).', labelNames: ['kind'], buckets: [1e3, 4e3, 16e3, 32e3, 64e3, 128e3, 256e3], registers }),
    resolveRate: new Gauge({ name: 'entropo_resolve_rate', help: 'Resolved / completed rollouts.', labelNames: ['kind', 'namespace', 'name'], registers }),
    bestAtN: new Gauge({ name: 'entropo_eval_best_at_n', help: 'Resolve rate of the selector\'s pick.', labelNames: ['namespace', 'name'], registers }),
    passAtN: new Gauge({ name: 'entropo_eval_pass_at_n', help: 'Unbiased pass@N.', labelNames: ['namespace', 'name'], registers }),
    oracleGap: new Gauge({ name: 'entropo_eval_oracle_gap', help: 'pass@N - best@N.', labelNames: ['namespace', 'name'], registers }),
    iteration: new Gauge({ name: 'entropo_run_iteration', help: 'Current iteration of a TrainingRun.', labelNames: ['namespace', 'name'], registers }),
    phase: new Gauge({ name: 'entropo_run_phase', help: 'Phase of a TrainingRun (1 for the current one).', labelNames: ['namespace', 'name', 'phase'], registers }),
    loss: new Gauge({ name: 'entropo_run_training_loss', help: 'Final loss of the latest preference update.', labelNames: ['namespace', 'name'], registers }),
    entropy: new Gauge({ name: 'entropo_run_policy_entropy', help: 'Policy token entropy at the latest update (nats).', labelNames: ['namespace', 'name'], registers }),
  };
  cache.set(registry, m);
  return m;
}

interface Obj {
  kind: string;
  metadata: { name?: string; namespace?: string };
  status?: unknown;
}

const ids = (o: Obj) => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name ?? '' });

/** Counts one new attempt record of an object (call once per record the executor stores). */
/** What a record needs here (controllers/decision.ts AttemptRecord has these fields). */
export interface RecordLike {
  role: string;
  outcome: string;
  reason: string;
  summary?: unknown;
}

export function observeRecord(m: PipelineMetrics, o: Obj, r: RecordLike): void {
  if (r.role !== 'Sandbox') return;
  const s = r.summary as RolloutSummary | undefined;
  const outcome = r.outcome === 'Stopped' ? 'stopped' : r.outcome === 'Failed' ? 'no_sample' : s?.resolved ? 'resolved' : 'unresolved';
  m.rollouts.inc({ kind: o.kind, ...ids(o), outcome });
  if (r.outcome === 'Failed') m.sandboxFailures.inc({ reason: r.reason });
  if (r.outcome === 'Succeeded' && s) {
    m.duration.observe({ kind: o.kind }, s.seconds);
    m.steps.observe({ kind: o.kind }, s.steps);
    m.tokens.observe({ kind: o.kind }, s.tokens);
  }
}

/** Sets the per-object gauges from a status. */
export function observeStatus(m: PipelineMetrics, o: Obj): void {
  const st = (o.status ?? {}) as {
    phase?: string;
    resolveRate?: number;
    iteration?: number;
    metrics?: { pass1?: number; passAtN?: number; bestAtN?: number; oracleGap?: number };
    training?: { loss?: number; entropy?: number };
  };
  const l = ids(o);
  if (o.kind === 'RolloutBatch' && st.resolveRate !== undefined) m.resolveRate.set({ kind: o.kind, ...l }, st.resolveRate);
  if (o.kind === 'EvalSuite' && st.metrics?.pass1 !== undefined) m.resolveRate.set({ kind: o.kind, ...l }, st.metrics.pass1);
  if (st.metrics?.bestAtN !== undefined) m.bestAtN.set(l, st.metrics.bestAtN);
  if (st.metrics?.passAtN !== undefined) m.passAtN.set(l, st.metrics.passAtN);
  if (st.metrics?.oracleGap !== undefined) m.oracleGap.set(l, st.metrics.oracleGap);
  if (o.kind === 'TrainingRun') {
    if (st.iteration !== undefined) m.iteration.set(l, st.iteration);
    const phases: readonly string[] = ['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended'] satisfies (typeof Phases)[number][];
    for (const p of phases) m.phase.set({ ...l, phase: p }, st.phase === p ? 1 : 0);
    if (st.training?.loss !== undefined) m.loss.set(l, st.training.loss);
    if (st.training?.entropy !== undefined) m.entropy.set(l, st.training.entropy);
  }
}

/** Removes an object's series (it was deleted). */
export function forget(m: PipelineMetrics, o: Obj): void {
  const l = ids(o);
  for (const g of [m.bestAtN, m.passAtN, m.oracleGap, m.iteration, m.loss, m.entropy]) g.remove(l);
  m.resolveRate.remove({ kind: o.kind, ...l });
  for (const p of ['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended']) m.phase.remove({ ...l, phase: p });
  for (const outcome of ['resolved', 'unresolved', 'no_sample', 'stopped']) m.rollouts.remove({ kind: o.kind, ...l, outcome });
}
