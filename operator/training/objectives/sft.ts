/** SFT: masked cross-entropy over every assistant token of the given trajectories (no reference). */
import type * as tf from '@tensorflow/tfjs';
import { sftLoss } from '../losses.ts';
import type { Item } from '../items.ts';
import type { MicroStats, TrainingObjective } from './objective.ts';

export class SftObjective implements TrainingObjective {
  readonly kind = 'SFT' as const;
  readonly usesReference = false;
  sequences(items: Item[]) {
    return items.map((i) => i.seqs[0]);
  }
  needsReferenceDistribution(): boolean {
    return false;
  }
  loss(m: MicroStats): tf.Scalar {
    return sftLoss(m.logp, m.counts);
  }
  endStep() {
    return {};
  }
  state() {
    return {};
  }
  restore(): void {}
}
