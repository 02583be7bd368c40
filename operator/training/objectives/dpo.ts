/** EntroPO-DPO / M-DPO (Eq. 7) on same-task pairs: each micro-batch forwards all chosen, then all rejected sequences. */
import * as tf from '@tensorflow/tfjs';
import { dpoLoss, type Temperatures } from '../losses.ts';
import type { Item } from '../items.ts';
import { mean, type MicroStats, type TrainingObjective } from './objective.ts';

export class DpoObjective implements TrainingObjective {
  readonly kind = 'DPO' as const;
  readonly usesReference = true;
  private margins: number[] = [];
  constructor(private readonly temps: Temperatures) {}
  sequences(items: Item[]) {
    return [...items.map((i) => i.seqs[0]), ...items.map((i) => i.seqs[1])];
  }
  needsReferenceDistribution(): boolean {
    return false;
  }
  loss(m: MicroStats): tf.Scalar {
    const n = m.items.length;
    const ref = tf.tensor1d([...m.items.map((i) => i.ref[0]), ...m.items.map((i) => i.ref[1])]);
    const r = dpoLoss({ chosen: tf.slice(m.logp, 0, n), rejected: tf.slice(m.logp, n, n), refChosen: tf.slice(ref, 0, n), refRejected: tf.slice(ref, n, n) }, this.temps);
    this.margins.push(...r.margins.dataSync());
    return r.loss;
  }
  endStep() {
    const margin = mean(this.margins);
    this.margins = [];
    return { margin };
  }
  state() {
    return {};
  }
  restore(): void {}
}
