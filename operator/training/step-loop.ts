/**
 * The one step loop every objective runs in: per optimizer step, the batch of the epoch's
 * permutation, split into gradient-accumulation micro-batches; per micro-batch one policy forward
 * with gradients (log-prob sums, entropy and, when due, cross-entropy to the reference), the
 * objective's loss weighted by its share of the batch; then global-norm clipping, AdamW with the
 * warm-up + schedule learning rate, metrics (JSONL, Prometheus, progress) and checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import type { Training } from '../api/common.ts';
import type { Logger } from 'winston';
import type { CausalLM } from './model.ts';
import type { Item } from './items.ts';
import { padBatch, sequenceStats, type HiddenModel, type PaddedBatch } from './logprobs.ts';
import { clipByGlobalNorm, lrFactor, type AdamW } from './optimizer.ts';
import { permutation } from './rng.ts';
import { saveCheckpoint } from './checkpoint.ts';
import type { TrainingMetrics } from './metrics.ts';
import type { TrainingObjective } from './objectives/index.ts';
import { PROGRESS_FORMAT } from './progress-line.ts';

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  learningRate: number;
  gradNorm: number;
  /** Implicit-reward margin: chosen - rejected (DPO), mean desirable - mean undesirable (KTO). */
  margin?: number;
  z0?: number;
  /** Mean policy token entropy over assistant tokens (nats). */
  entropy: number;
  /**
   * Mean per-token KL(pi || pi_ref) over the step's assistant tokens, when the reference
   * distribution was computed: every referenceMetricsEvery steps (in the step's forward pass,
   * before its update) and always on the run's last step, there after its update (the trained
   * policy's KL: non-zero once the policy moved, even in a run shorter than referenceMetricsEvery).
   */
  kl?: number;
  examples: number;
  tokens: number;
  assistantTokens: number;
  stepSeconds: number;
  tokensPerSecond: number;
}

export interface LoopInput {
  training: Training;
  objective: TrainingObjective;
  items: Item[];
  model: CausalLM;
  reference: HiddenModel;
  padId: number;
  /** Steps already done (resume) and the total. */
  start: number;
  totalSteps: number;
  outputDir: string;
  metricsFile: string;
  fingerprint: string;
  run: string;
  metrics: TrainingMetrics;
  log: Logger;
  /** Reference distribution for the KL metric every N steps and after the last step; 0: never. */
  referenceMetricsEvery: number;
  checkpointEvery?: number;
  /** Recompute each layer in backward (model.ts checkpointedLayer). */
  gradientCheckpointing: boolean;
  haltAfterStep?: number;
  progress: boolean;
  /** progress asked for explicitly on a stream that is not a TTY: a line every 5 s. */
  progressLines: boolean;
}

export interface LoopResult {
  history: StepMetrics[];
  halted: boolean;
  opt: AdamW;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Items of step s: the epoch's permutation (seeded), batchSize at a time. */
export function stepItems(items: Item[], training: Training, s: number, perEpoch: number): { epoch: number; batch: Item[]; micro: Item[][] } {
  const epoch = Math.floor(s / perEpoch);
  const b = s % perEpoch;
  const idx = permutation(items.length, training.seed, epoch).slice(b * training.batchSize, (b + 1) * training.batchSize);
  const batch = idx.map((i) => items[i]);
  const size = Math.ceil(batch.length / training.gradientAccumulationSteps);
  const micro: Item[][] = [];
  for (let i = 0; i < batch.length; i += size) micro.push(batch.slice(i, i + size));
  return { epoch, batch, micro };
}

/**
 * Mean per-token KL(pi || pi_ref) over the assistant tokens of `batches` (padded micro-batches),
 * the policy as it is now (no dropout, no gradient): the sum of the cross-entropy to the reference
 * minus the policy's entropy over the tokens (sequenceStats, as the step's own estimate), divided
 * by the token count. undefined when the batches have no assistant token.
 */
export function klToReference(batches: PaddedBatch[], model: CausalLM, reference: HiddenModel, headTrainable: boolean): number | undefined {
  let sum = 0;
  let tokens = 0;
  for (const padded of batches) {
    tf.tidy(() => {
      const refHidden = reference.hidden(padded.ids);
      const hidden = model.forward(padded.ids, { hiddenOnly: true }).logits;
      const st = sequenceStats(hidden, model.headWeight(), padded, { headTrainable, reference: { hidden: refHidden, head: reference.head } });
      sum += st.crossEntropySums!.reduce((a, x) => a + x, 0) - st.entropySums.reduce((a, x) => a + x, 0);
      tokens += st.counts.reduce((a, x) => a + x, 0);
    });
  }
  return tokens ? sum / tokens : undefined;
}

export async function runSteps(input: LoopInput, opt: AdamW): Promise<LoopResult> {
  const { training: tr, objective, items, model, reference, padId, metrics, run, log } = input;
  const perEpoch = Math.ceil(items.length / tr.batchSize);
  const vars = model.trainableVariables();
  const varKey = new Map<string, string>();
  for (const [k, v] of vars) varKey.set(v.name, k);
  const bar = input.progress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: PROGRESS_FORMAT,
          hideCursor: true,
          noTTYOutput: input.progressLines,
          notTTYSchedule: 5000,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(input.totalSteps, input.start, { loss: '-', tps: '-' });

  const history: StepMetrics[] = [];
  let halted = false;
  for (let s = input.start; s < input.totalSteps; s++) {
    const t0 = performance.now();
    const { epoch, batch, micro } = stepItems(items, tr, s, perEpoch);
    const seedOf = (mi: number) => tr.seed * 1000003 + s * 101 + mi;
    const headTrainable = tr.method === 'Full';
    const policy = (mi: number): HiddenModel => ({
      hidden: (ids) => model.forward(ids, { hiddenOnly: true, ...(mi < 0 ? {} : { dropoutSeed: seedOf(mi) }) }).logits,
      head: model.headWeight(),
      headTrainable,
    });
    objective.beginStep?.({ step: s, items: batch, micro, policy });
    const klDue = input.referenceMetricsEvery > 0 && s % input.referenceMetricsEvery === 0;

    let grads = new Map<string, tf.Tensor>();
    let lossSum = 0;
    let entropySum = 0;
    let klSum = 0;
    let klTokens = 0;
    let assistantTokens = 0;
    let tokens = 0;
    micro.forEach((mb, mi) => {
      const weight = mb.length / batch.length;
      const seqs = objective.sequences(mb);
      const padded = padBatch(seqs, padId);
      tokens += padded.lengths.reduce((a, x) => a + x, 0);
      const needRefDist = objective.needsReferenceDistribution(s) || klDue;
      const refHidden = needRefDist ? tf.tidy(() => reference.hidden(padded.ids)) : undefined;
      const { value, grads: g } = tf.variableGrads(() => {
        const p = policy(mi);
        const hidden = input.gradientCheckpointing ? model.forward(padded.ids, { hiddenOnly: true, gradientCheckpointing: true, dropoutSeed: seedOf(mi) }).logits : p.hidden(padded.ids);
        const st = sequenceStats(hidden, p.head, padded, { headTrainable, reference: refHidden ? { hidden: refHidden, head: reference.head } : undefined });
        const hSums = st.entropySums;
        const n = st.counts.reduce((a, x) => a + x, 0);
        assistantTokens += n;
        entropySum += hSums.reduce((a, x) => a + x, 0);
        const ceSums = st.crossEntropySums;
        if (ceSums) {
          klSum += ceSums.reduce((a, x) => a + x, 0) - hSums.reduce((a, x) => a + x, 0);
          klTokens += n;
        }
        const loss = objective.loss({ items: mb, logp: st.logp, counts: st.counts, entropySums: hSums, crossEntropySums: ceSums }, s);
        return tf.mul(loss, weight) as tf.Scalar;
      }, [...vars.values()]);
      lossSum += value.dataSync()[0];
      value.dispose();
      refHidden?.dispose();
      for (const [name, gt] of Object.entries(g)) {
        const key = varKey.get(name)!;
        const prev = grads.get(key);
        if (prev) {
          grads.set(key, tf.add(prev, gt));
          prev.dispose();
          gt.dispose();
        } else grads.set(key, gt);
      }
    });
    const extras = objective.endStep(s);
    const clipped = clipByGlobalNorm(grads, tr.maxGradNorm);
    grads = clipped.grads;
    const lr = tr.learningRate * lrFactor(s, input.totalSteps, tr.warmupRatio, tr.scheduler);
    opt.apply(grads, lr);
    for (const g of grads.values()) g.dispose();
    const last = s + 1 === input.totalSteps;
    // The last step's KL is the trained policy's: measured after its update (a short run would
    // otherwise report only step 0's, where the policy still is the reference).
    const kl = last && input.referenceMetricsEvery > 0 ? klToReference(micro.map((mb) => padBatch(objective.sequences(mb), padId)), model, reference, headTrainable) : klTokens ? klSum / klTokens : undefined;
    const stepSeconds = (performance.now() - t0) / 1000;

    const m: StepMetrics = {
      step: s + 1,
      epoch,
      loss: lossSum,
      learningRate: lr,
      gradNorm: clipped.norm,
      margin: extras.margin,
      z0: extras.z0,
      entropy: entropySum / Math.max(1, assistantTokens),
      kl,
      examples: batch.length,
      tokens,
      assistantTokens,
      stepSeconds,
      tokensPerSecond: tokens / stepSeconds,
    };
    history.push(m);
    appendFileSync(input.metricsFile, `${JSON.stringify(m)}\n`);
    metrics.loss.set({ run }, m.loss);
    if (m.margin !== undefined && !Number.isNaN(m.margin)) metrics.margin.set({ run }, m.margin);
    if (m.z0 !== undefined) metrics.z0.set({ run }, m.z0);
    metrics.entropy.set({ run }, m.entropy);
    if (m.kl !== undefined) metrics.kl.set({ run }, m.kl);
    metrics.gradNorm.set({ run }, m.gradNorm);
    metrics.tokensPerSecond.set({ run }, m.tokensPerSecond);
    metrics.learningRate.set({ run }, lr);
    metrics.step.set({ run }, s + 1);
    metrics.tokens.inc({ run }, tokens);
    bar?.update(s + 1, { loss: m.loss.toFixed(4), tps: m.tokensPerSecond.toFixed(0) });
    log.debug('step', m);
    // Let the event loop serve /metrics scrapes and signals between steps (tfjs work is synchronous).
    await new Promise((resolve) => setImmediate(resolve));

    const halt = input.haltAfterStep !== undefined && s + 1 >= input.haltAfterStep && !last;
    if (last || halt || (input.checkpointEvery && (s + 1) % input.checkpointEvery === 0)) {
      await saveCheckpoint(input.outputDir, vars, opt, { step: s + 1, ...objective.state(), fingerprint: input.fingerprint, totalSteps: input.totalSteps });
    }
    if (halt) {
      halted = true;
      break;
    }
  }
  bar?.stop();
  return { history, halted, opt };
}

export { mean };
