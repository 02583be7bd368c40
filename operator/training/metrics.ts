/** Prometheus metrics of the trainer (prom-client), labelled by run. Idempotent per registry. */
import { Gauge, Counter, register as globalRegistry, type Registry } from 'prom-client';

export interface TrainingMetrics {
  loss: Gauge<'run'>;
  margin: Gauge<'run'>;
  z0: Gauge<'run'>;
  entropy: Gauge<'run'>;
  kl: Gauge<'run'>;
  gradNorm: Gauge<'run'>;
  tokensPerSecond: Gauge<'run'>;
  learningRate: Gauge<'run'>;
  step: Gauge<'run'>;
  tokens: Counter<'run'>;
}

function gauge(registry: Registry, name: string, help: string): Gauge<'run'> {
  return (registry.getSingleMetric(name) as Gauge<'run'> | undefined) ?? new Gauge({ name, help, labelNames: ['run'], registers: [registry] });
}

export function trainingMetrics(registry: Registry = globalRegistry): TrainingMetrics {
  const tokensName = 'entropo_training_tokens_total';
  return {
    loss: gauge(registry, 'entropo_training_loss', 'Training loss of the last optimizer step.'),
    margin: gauge(registry, 'entropo_training_reward_margin', 'Implicit-reward margin (chosen - rejected, or desirable - undesirable) of the last step.'),
    z0: gauge(registry, 'entropo_training_reference_point', 'KTO reference point z0 of the last step.'),
    entropy: gauge(registry, 'entropo_training_policy_entropy', 'Mean policy token entropy over assistant tokens (nats).'),
    kl: gauge(registry, 'entropo_training_kl_to_reference', 'Mean per-token KL(pi || pi_ref) over assistant tokens (nats).'),
    gradNorm: gauge(registry, 'entropo_training_grad_norm', 'Gradient norm before clipping.'),
    tokensPerSecond: gauge(registry, 'entropo_training_tokens_per_second', 'Training throughput (tokens per second).'),
    learningRate: gauge(registry, 'entropo_training_learning_rate', 'Learning rate of the last step.'),
    step: gauge(registry, 'entropo_training_step', 'Optimizer steps completed.'),
    tokens:
      (registry.getSingleMetric(tokensName) as Counter<'run'> | undefined) ??
      new Counter({ name: tokensName, help: 'Tokens trained on.', labelNames: ['run'], registers: [registry] }),
  };
}
