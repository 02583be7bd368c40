/**
 * EntroPO-KTO / M-KTO (Eqs. 11-13) on unpaired trajectories labelled by reward, with the
 * reference point z0 (a constant per step, recomputed every referencePointEvery steps):
 * - Exact (Eq. 13): mean over the step's batch of sum_t (-H_t + (gamma/zeta) CE_t) under the
 *   policy's full distribution; with gradient accumulation from a pass over every micro-batch
 *   before the gradient pass (same dropout seeds), else from the gradient pass's own forward;
 * - AuthorsKL / TRLKL: clamped estimates over mismatched pairs (x_i, y_{i+1}) of the batch.
 */
import * as tf from '@tensorflow/tfjs';
import type { Preference } from '../../api/common.ts';
import { authorsKlReferencePoint, exactReferencePoint, ktoLoss, trlKlReferencePoint } from '../losses.ts';
import { padBatch, sequenceStats } from '../logprobs.ts';
import { encodeConversation, MaskError, type EncodedSequence } from '../render.ts';
import { sequenceLogps } from '../reference.ts';
import type { Item } from '../items.ts';
import { mean, type MicroStats, type ObjectiveContext, type StepBatch, type TrainingObjective } from './objective.ts';

export type KtoSettings = NonNullable<Preference['kto']>;

export class KtoObjective implements TrainingObjective {
  readonly kind = 'KTO' as const;
  readonly usesReference = true;
  private z0?: number;
  private z0Step?: number;
  private due = false;
  private z0Batch?: number;
  private stepZ0s: number[] = [];
  private desirable: number[] = [];
  private undesirable: number[] = [];

  constructor(
    private readonly ctx: ObjectiveContext,
    private readonly kto: KtoSettings,
  ) {
    if (kto.referencePoint !== 'Exact' && ctx.training.batchSize < 2) {
      throw new Error(`training.batchSize must be >= 2 for preference.kto.referencePoint ${kto.referencePoint} (mismatched pairs need two examples)`);
    }
  }

  sequences(items: Item[]) {
    return items.map((i) => i.seqs[0]);
  }

  beginStep(b: StepBatch): void {
    this.due = this.z0 === undefined || b.step % this.kto.referencePointEvery === 0;
    this.z0Batch = undefined;
    if (!this.due) return;
    const { padId, temps, reference } = this.ctx;
    const size = Math.max(...b.micro.map((m) => m.length));
    if (this.kto.referencePoint !== 'Exact') {
      const mism: EncodedSequence[] = [];
      b.items.forEach((a, i) => {
        const c = b.items[(i + 1) % b.items.length];
        try {
          const e = encodeConversation(this.ctx.tok, [...a.prompt, ...c.completion], { tools: a.tools, maxLength: this.ctx.training.maxSequenceLength, truncation: 'KeepEnd' });
          if (e && e.assistantTokens > 0) mism.push(e);
        } catch (err) {
          if (!(err instanceof MaskError)) throw err; // a mismatched pair the template cannot mask: left out of the estimate
        }
      });
      if (mism.length) {
        const lp = sequenceLogps(b.policy(-1), mism, padId, size);
        const rl = sequenceLogps(reference, mism, padId, size);
        this.z0 = this.kto.referencePoint === 'AuthorsKL' ? authorsKlReferencePoint(lp, rl, temps) : trlKlReferencePoint(lp, rl);
      } else this.z0 ??= 0;
      this.z0Step = b.step;
    } else if (b.micro.length > 1) {
      const hs: number[] = [];
      const ces: number[] = [];
      b.micro.forEach((mb, mi) =>
        tf.tidy(() => {
          const batch = padBatch(this.sequences(mb), padId);
          const policy = b.policy(mi);
          const st = sequenceStats(policy.hidden(batch.ids), policy.head, batch, { reference: { hidden: reference.hidden(batch.ids), head: reference.head } });
          hs.push(...st.entropySums);
          ces.push(...st.crossEntropySums!);
        }),
      );
      this.z0Batch = exactReferencePoint(hs, ces, temps);
    }
  }

  needsReferenceDistribution(): boolean {
    return this.due && this.kto.referencePoint === 'Exact' && this.z0Batch === undefined;
  }

  loss(m: MicroStats, step: number): tf.Scalar {
    const { temps } = this.ctx;
    let z0 = this.z0!;
    if (this.due && this.kto.referencePoint === 'Exact') {
      z0 = this.z0Batch ?? exactReferencePoint(m.entropySums, m.crossEntropySums!, temps);
      this.stepZ0s.push(z0);
      this.z0Step = step;
    }
    const labels = m.items.map((i) => i.label!);
    const ref = tf.tensor1d(m.items.map((i) => i.ref[0]));
    const r = ktoLoss(m.logp, ref, labels, z0, { ...temps, desirableWeight: this.kto.desirableWeight, undesirableWeight: this.kto.undesirableWeight, mode: this.kto.referencePoint });
    const u = r.rewards.dataSync();
    labels.forEach((l, i) => (l ? this.desirable : this.undesirable).push(u[i]));
    return r.loss;
  }

  endStep() {
    if (this.stepZ0s.length) this.z0 = mean(this.stepZ0s);
    const margin = this.desirable.length && this.undesirable.length ? mean(this.desirable) - mean(this.undesirable) : undefined;
    this.stepZ0s = [];
    this.desirable = [];
    this.undesirable = [];
    return { margin, z0: this.z0 };
  }

  state() {
    return { z0: this.z0, z0Step: this.z0Step };
  }

  restore(s: { z0?: number; z0Step?: number }): void {
    this.z0 = s.z0;
    this.z0Step = s.z0Step;
  }
}
