/** The domain metrics fed from records and statuses (metrics/pipeline.ts), read back as Prometheus text. */
import test from 'ava';
import { createRegistry } from '../../../operator/metrics/registry.ts';
import { domainMetrics, SANDBOX_FAILURE_REASONS } from '../../../operator/metrics/domain.ts';
import { failureReason, observeRecord, observeStatus, progressFingerprint } from '../../../operator/metrics/pipeline.ts';
import { parseExposition, sumSamples } from '../../../operator/metrics/parse.ts';

const scrape = async (r: ReturnType<typeof createRegistry>) => parseExposition(await r.metrics());

test('counters exist at zero for every kind x outcome and kind x reason before anything happens', async (t) => {
  const r = createRegistry({ defaults: false });
  domainMetrics(r);
  const s = await scrape(r);
  const rollouts = s.filter((x) => x.name === 'entropo_rollouts_total');
  t.is(rollouts.length, 2 * 4);
  t.true(rollouts.every((x) => x.value === 0));
  const failures = s.filter((x) => x.name === 'entropo_sandbox_failures_total');
  t.is(failures.length, 2 * SANDBOX_FAILURE_REASONS.length);
  t.truthy(failures.find((x) => x.labels.kind === 'EvalSuite' && x.labels.reason === 'ImagePullBackOff'));
});

test('failure reasons are bounded; a start deadline names the waiting reason', (t) => {
  t.is(failureReason({ reason: 'OOMKilled' }), 'OOMKilled');
  t.is(failureReason({ reason: 'SomethingNew' }), 'Other');
  t.is(failureReason({ reason: 'StartDeadlineExceeded', message: 'not started within 600s (ImagePullBackOff: Back-off pulling image "x")' }), 'ImagePullBackOff');
  t.is(failureReason({ reason: 'StartDeadlineExceeded', message: 'not started within 600s (Unschedulable: 0/1 nodes)' }), 'Unschedulable');
  t.is(failureReason({ reason: 'StartDeadlineExceeded', message: 'not started within 600s' }), 'StartDeadlineExceeded');
});

test('records count rollouts by outcome, failures by reason, and the histograms of samples', async (t) => {
  const r = createRegistry({ defaults: false });
  const m = domainMetrics(r);
  observeRecord(m, 'RolloutBatch', { role: 'Sandbox', outcome: 'Succeeded', reason: 'Completed', summary: { resolved: true, seconds: 42, steps: 7, tokens: 3000 } });
  observeRecord(m, 'RolloutBatch', { role: 'Sandbox', outcome: 'Succeeded', reason: 'Completed', summary: { resolved: false, seconds: 10, steps: 3, tokens: 900 } });
  observeRecord(m, 'RolloutBatch', { role: 'Sandbox', outcome: 'Failed', reason: 'StartDeadlineExceeded', message: 'not started within 60s (ErrImagePull: nope)' });
  observeRecord(m, 'RolloutBatch', { role: 'Trainer', outcome: 'Failed', reason: 'Error' });
  const s = await scrape(r);
  t.is(sumSamples(s, 'entropo_rollouts_total', { kind: 'RolloutBatch', outcome: 'resolved' }), 1);
  t.is(sumSamples(s, 'entropo_rollouts_total', { kind: 'RolloutBatch', outcome: 'unresolved' }), 1);
  t.is(sumSamples(s, 'entropo_rollouts_total', { kind: 'RolloutBatch', outcome: 'failed' }), 1);
  t.is(sumSamples(s, 'entropo_sandbox_failures_total', { kind: 'RolloutBatch', reason: 'ErrImagePull' }), 1);
  t.is(sumSamples(s, 'entropo_sandbox_failures_total'), 1, 'the trainer record is not a sandbox failure');
  t.is(sumSamples(s, 'entropo_rollout_duration_seconds_sum', { kind: 'RolloutBatch' }), 52);
  t.is(sumSamples(s, 'entropo_rollout_steps_count', { kind: 'RolloutBatch' }), 2);
  t.is(sumSamples(s, 'entropo_rollout_tokens_bucket', { kind: 'RolloutBatch', le: '1000' }), 1);
});

test('a TrainingRun status sets its iteration, each iteration\'s training metrics and progress time; forgetObject removes them', async (t) => {
  const r = createRegistry({ defaults: false });
  const m = domainMetrics(r);
  const run = (status: unknown) => ({ kind: 'TrainingRun', metadata: { namespace: 'ml', name: 'r1' }, status });
  observeStatus(
    m,
    run({
      phase: 'Running',
      iteration: 2,
      progress: '2/3 Training step 4/10 loss 0.61 ETA 3m',
      history: [{ iteration: 1, training: { loss: 0.7, entropy: 1.5, klToReference: 0.01, z0: 0.2, tokensPerSecond: 800, rewardMargin: 0.1 } }, { iteration: 2 }],
      training: { loss: 0.5, entropy: 1.4 },
      metrics: { pass1: 0.25, bestAtN: 0.5, oracleGap: 0.25 },
    }),
    1_000_000,
  );
  let s = await scrape(r);
  const obj = { kind: 'TrainingRun', namespace: 'ml', name: 'r1' };
  t.is(sumSamples(s, 'entropo_iteration', obj), 2);
  t.is(sumSamples(s, 'entropo_run_training_loss', { ...obj, iteration: '1' }), 0.7);
  // iteration 2 is still training: status.training (0.5) is iteration 1's last update, not 2's
  t.false(s.some((x) => x.name === 'entropo_run_training_loss' && x.labels.iteration === '2'), 'no figures for an iteration still training');
  t.is(sumSamples(s, 'entropo_run_training_kl_nats', { ...obj, iteration: '1' }), 0.01);
  t.is(sumSamples(s, 'entropo_run_training_reference_point', { ...obj, iteration: '1' }), 0.2);
  t.is(sumSamples(s, 'entropo_run_training_tokens_per_second', { ...obj, iteration: '1' }), 800);
  t.is(sumSamples(s, 'entropo_phase', { ...obj, phase: 'Running' }), 1);
  t.is(sumSamples(s, 'entropo_best_at_n', obj), 0.5);
  t.is(sumSamples(s, 'entropo_last_progress_timestamp_seconds', obj), 1000);

  // only the ETA and conditions moved: no progress; a new step is progress
  observeStatus(m, run({ phase: 'Running', iteration: 2, progress: '2/3 Training step 4/10 loss 0.61 ETA 2m', conditions: [{ type: 'Ready' }], history: [{ iteration: 1, training: { loss: 0.7, entropy: 1.5, klToReference: 0.01, z0: 0.2, tokensPerSecond: 800, rewardMargin: 0.1 } }, { iteration: 2 }], training: { loss: 0.5, entropy: 1.4 }, metrics: { pass1: 0.25, bestAtN: 0.5, oracleGap: 0.25 } }), 2_000_000);
  s = await scrape(r);
  t.is(sumSamples(s, 'entropo_last_progress_timestamp_seconds', obj), 1000);
  // iteration 2 is training: status.training is still iteration 1's; no iteration="2" series yet
  t.false(s.some((x) => x.name === 'entropo_run_training_loss' && x.labels.iteration === '2'), 'no training figures for an iteration still training');
  observeStatus(m, run({ phase: 'Running', iteration: 2, progress: '2/3 Training step 5/10 loss 0.6 ETA 2m' }), 3_000_000);
  s = await scrape(r);
  t.is(sumSamples(s, 'entropo_last_progress_timestamp_seconds', obj), 3000);
  // iteration 2's update finished: its history entry carries its figures
  observeStatus(m, run({ phase: 'Running', iteration: 2, progress: '2/3 Evaluating 0/4', history: [{ iteration: 1, training: { loss: 0.7 } }, { iteration: 2, training: { loss: 0.5 } }], training: { loss: 0.5 } }), 4_000_000);
  s = await scrape(r);
  t.is(sumSamples(s, 'entropo_run_training_loss', { ...obj, iteration: '2' }), 0.5);
  t.is(sumSamples(s, 'entropo_run_training_loss', { ...obj, iteration: '1' }), 0.7);

  m.forgetObject('TrainingRun', 'ml', 'r1');
  s = await scrape(r);
  t.deepEqual(s.filter((x) => x.labels.name === 'r1'), []);
});

test('the progress fingerprint ignores conditions, message, observedGeneration and ETA', (t) => {
  t.is(progressFingerprint({ phase: 'Running', conditions: [1], message: 'a', observedGeneration: 3, progress: 'step 1/2 ETA 5m' }), progressFingerprint({ phase: 'Running', progress: 'step 1/2 ETA 1m' }));
  t.not(progressFingerprint({ phase: 'Running', completed: 1 }), progressFingerprint({ phase: 'Running', completed: 2 }));
});
