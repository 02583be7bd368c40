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
 *   entropo_iteration{kind, namespace, name}       TrainingRun: current iteration (0 before the first)
 *   entropo_last_progress_timestamp_seconds{kind, namespace, name}
 *                                                  Unix time of the object's last progress (a status
 *                                                  change other than conditions, message and ETA)
 *   entropo_run_training_loss{kind, namespace, name, iteration}
 *   entropo_run_training_entropy_nats{...}         mean policy token entropy of the iteration's update
 *   entropo_run_training_kl_nats{...}              mean per-token KL(pi || pi_ref)
 *   entropo_run_training_reference_point{...}      KTO reference point z0
 *   entropo_run_training_reward_margin{...}        implicit-reward margin
 *   entropo_run_training_tokens_per_second{...}    trainer throughput
 *                                                  TrainingRun: the last step of each iteration's
 *                                                  update (status.history[].training; the running
 *                                                  iteration's from status.training)
 *
 * Cardinality is bounded: kind is one of three, outcome one of four, reason one of
 * SANDBOX_FAILURE_REASONS (anything else is "Other"), iteration <= spec.iterations (at most 100),
 * and per-object series exist only while the object does. Counters are created at zero for every
 * kind x outcome and kind x reason, so rate() and alert expressions see a series from the start.
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
  iteration: Gauge<'kind' | 'namespace' | 'name'>;
  lastProgress: Gauge<'kind' | 'namespace' | 'name'>;
  training: Record<TrainingGauge, Gauge<'kind' | 'namespace' | 'name' | 'iteration'>>;
  /** Iterations with training series, by object key (kind/namespace/name): what forgetObject removes. */
  trainingIterations: Map<string, Set<string>>;
  /** Progress fingerprint and the time it last changed (ms), by object key. */
  progress: Map<string, { fingerprint: string; at: number }>;
  /** Removes every per-object series of an object (it was deleted). */
  forgetObject(kind: string, namespace: string, name: string): void;
}

const cache = new WeakMap<Registry, DomainMetrics>();
export const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Suspended'] as const;
/** Kinds whose attempt records count rollouts (a TrainingRun's rollouts are its children's). */
export const ROLLOUT_KINDS = ['RolloutBatch', 'EvalSuite'] as const;
export const ROLLOUT_OUTCOMES = ['resolved', 'unresolved', 'failed', 'stopped'] as const;
/**
 * The values of entropo_sandbox_failures_total's reason label (pod-state.ts START_FAILURES and
 * failure reasons, sandbox-fleet.ts classifySandbox's); any other reason is counted as "Other".
 */
export const SANDBOX_FAILURE_REASONS = [
  'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError', 'CreateContainerError',
  'Unschedulable', 'StartDeadlineExceeded', 'Evicted', 'Preempted', 'OOMKilled', 'DeadlineExceeded', 'Deleted', 'Error',
  'SandboxError', 'InvalidAssignment', 'NoSample', 'ModelError', 'Other',
] as const;
/** Reasons that are the policy's doing, not the infrastructure's (EntroPOSandboxFailuresHigh leaves them out). */
export const POLICY_FAILURE_REASONS = ['NoSample', 'ModelError', 'InvalidAssignment'] as const;
export const TRAINING_GAUGES = {
  loss: ['entropo_run_training_loss', 'Training loss of the last optimizer step of the iteration\'s update.'],
  entropy: ['entropo_run_training_entropy_nats', 'Mean policy token entropy over assistant tokens (nats) at the last step of the iteration\'s update.'],
  klToReference: ['entropo_run_training_kl_nats', 'Mean per-token KL(pi || pi_ref) over assistant tokens (nats) at the last step of the iteration\'s update.'],
  z0: ['entropo_run_training_reference_point', 'KTO reference point z0 at the last step of the iteration\'s update.'],
  rewardMargin: ['entropo_run_training_reward_margin', 'Implicit-reward margin at the last step of the iteration\'s update.'],
  tokensPerSecond: ['entropo_run_training_tokens_per_second', 'Trainer throughput of the iteration\'s update (tokens per second).'],
} as const;
export type TrainingGauge = keyof typeof TRAINING_GAUGES;

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
    iteration: new Gauge({ name: 'entropo_iteration', help: 'Current iteration of a TrainingRun (0 before the first).', labelNames: perObject, registers }),
    lastProgress: new Gauge({
      name: 'entropo_last_progress_timestamp_seconds',
      help: 'Unix time of the object\'s last progress (a status change other than conditions, message and ETA).',
      labelNames: perObject,
      registers,
    }),
    training: Object.fromEntries(
      Object.entries(TRAINING_GAUGES).map(([k, [name, help]]) => [k, new Gauge({ name, help, labelNames: [...perObject, 'iteration'], registers })]),
    ) as DomainMetrics['training'],
    trainingIterations: new Map(),
    progress: new Map(),
    forgetObject(kind, namespace, name) {
      const labels = { kind, namespace, name };
      for (const g of [m.resolveRate, m.bestAtN, m.oracleGap, m.pass1, m.iteration, m.lastProgress]) g.remove(labels);
      for (const phase of PHASES) m.phase.remove({ ...labels, phase });
      const key = objectKey(kind, namespace, name);
      for (const iteration of m.trainingIterations.get(key) ?? []) for (const g of Object.values(m.training)) g.remove({ ...labels, iteration });
      m.trainingIterations.delete(key);
      m.progress.delete(key);
    },
  };
  for (const kind of ROLLOUT_KINDS) {
    for (const outcome of ROLLOUT_OUTCOMES) m.rollouts.inc({ kind, outcome }, 0);
    for (const reason of SANDBOX_FAILURE_REASONS) m.sandboxFailures.inc({ kind, reason }, 0);
  }
  cache.set(registry, m);
  return m;
}

/** The key of an object in DomainMetrics' maps. */
export const objectKey = (kind: string, namespace: string, name: string): string => `${kind}/${namespace}/${name}`;
