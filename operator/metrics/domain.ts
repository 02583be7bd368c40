/**
 * The operator's domain metrics (entropo_*), on the manager's registry. Counters and histograms
 * count what this process observed (a restarted operator starts from zero, as every Prometheus
 * counter does); per-object gauges carry {kind, namespace, name} and are removed when the object
 * is deleted (forgetObject), so dashboards never show series of objects that no longer exist.
 *
 *   entropo_rollouts_total{kind, outcome}          finished rollouts: resolved | unresolved (a
 *                                                  sample), failed (no sample after its attempt),
 *                                                  stopped (suspend, deadline)
 *   entropo_sandbox_failures_total{kind, reason}   failed sandbox attempts by reason (ImagePullBackOff,
 *                                                  Evicted, OOMKilled, NoSample, StartDeadlineExceeded, ...)
 *   entropo_rollout_duration_seconds{kind}         histogram of a sample's rollout wall time
 *   entropo_rollout_steps{kind}                    histogram of assistant turns
 *   entropo_rollout_tokens{kind}                   histogram of total tokens
 *   entropo_resolve_rate{kind, namespace, name}    resolved / completed rollouts of the object
 *   entropo_best_at_n{kind, namespace, name}       EvalSuite: resolve rate of the selector's picks
 *   entropo_oracle_gap{kind, namespace, name}      EvalSuite: pass@N - best@N
 *   entropo_pass_at_1{kind, namespace, name}       EvalSuite / TrainingRun: latest pass@1
 *   entropo_phase{kind, namespace, name, phase}    1 for the object's current phase
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface DomainMetrics {
  rollouts: Counter<'kind' | 'outcome'>;
  sandboxFailures: Counter<'kind' | 'reason'>;
  duration: Histogram<'kind'>;
  steps: Histogram<'kind'>;
  tokens: Histogram<'kind'>;
  resolveRate: Gauge<'kind' | 'namespace' | 'name'>;
  bestAtN: Gauge<'kind' | 'namespace' | 'name'>;
  oracleGap: Gauge<'kind' | 'namespace' | 'name'>;
  pass1: Gauge<'kind' | 'namespace' | 'name'>;
  phase: Gauge<'kind' | 'namespace' | 'name' | 'phase'>;
  /** Removes every per-object series of an object (it was deleted). */
  forgetObject(kind: string, namespace: string, name: string): void;
}

const cache = new WeakMap<Registry, DomainMetrics>();
export const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended'] as const;

export function domainMetrics(registry: Registry): DomainMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const perObject = ['kind', 'namespace', 'name'] as const;
  const m: DomainMetrics = {
    rollouts: new Counter({ name: 'entropo_rollouts_total', help: 'Finished rollouts by outcome (resolved, unresolved, failed: no sample, stopped).', labelNames: ['kind', 'outcome'], registers }),
    sandboxFailures: new Counter({ name: 'entropo_sandbox_failures_total', help: 'Failed sandbox attempts (no sample) by reason.', labelNames: ['kind', 'reason'], registers }),
    duration: new Histogram({
      name: 'entropo_rollout_duration_seconds',
      help: 'Wall time of a rollout that produced a sample.',
      labelNames: ['kind'],
      buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    }),
    steps: new Histogram({ name: 'entropo_rollout_steps', help: 'Assistant turns of a rollout.', labelNames: ['kind'], buckets: [1, 2, 5, 10, 20, 50, 100, 150, 200, 500], registers }),
    tokens: new Histogram({
      name: 'entropo_rollout_tokens',
      help: 'Total tokens (prompt + completion) of a rollout.',
      labelNames: ['kind'],
      buckets: [1e3, 4e3, 16e3, 32e3, 64e3, 128e3, 256e3, 1e6],
      registers,
    }),
    resolveRate: new Gauge({ name: 'entropo_resolve_rate', help: 'Resolved / completed rollouts of the object.', labelNames: perObject, registers }),
    bestAtN: new Gauge({ name: 'entropo_best_at_n', help: 'Resolve rate of the selector\'s picks (best@N).', labelNames: perObject, registers }),
    oracleGap: new Gauge({ name: 'entropo_oracle_gap', help: 'pass@N - best@N.', labelNames: perObject, registers }),
    pass1: new Gauge({ name: 'entropo_pass_at_1', help: 'pass@1 of the latest evaluation.', labelNames: perObject, registers }),
    phase: new Gauge({ name: 'entropo_phase', help: '1 for the object\'s current phase.', labelNames: ['kind', 'namespace', 'name', 'phase'], registers }),
    forgetObject(kind, namespace, name) {
      const labels = { kind, namespace, name };
      for (const g of [m.resolveRate, m.bestAtN, m.oracleGap, m.pass1]) g.remove(labels);
      for (const phase of PHASES) m.phase.remove({ ...labels, phase });
    },
  };
  cache.set(registry, m);
  return m;
}
