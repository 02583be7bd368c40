/**
 * AdamW (decoupled weight decay, PyTorch's update order), the warm-up + cosine / linear / constant
 * learning-rate schedule of Hugging Face's get_*_schedule_with_warmup, and global-norm gradient
 * clipping. The optimizer state is explicit so that checkpoints resume bit for bit.
 */
import * as tf from '@tensorflow/tfjs';

/** Learning-rate schedule after warm-up: the values of spec.training.scheduler. */
export type Scheduler = 'Cosine' | 'Linear' | 'Constant';

export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}

/** Multiplier of the peak learning rate for the update with 0-based index `step` (HF semantics). */
export function lrFactor(step: number, totalSteps: number, warmupRatio: number, scheduler: Scheduler): number {
  const warm = warmupSteps(totalSteps, warmupRatio);
  if (step < warm) return step / Math.max(1, warm);
  if (scheduler === 'Constant') return 1;
  const progress = (step - warm) / Math.max(1, totalSteps - warm);
  if (scheduler === 'Linear') return Math.max(0, 1 - progress);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Global L2 norm of the gradients, and the gradients scaled to at most maxNorm (0: no clipping). */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  // One device sync per step: the squared sums are added on the device, then read once.
  const norm = grads.size ? Math.sqrt(tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0])) : 0;
  if (!(maxNorm > 0) || norm <= maxNorm) return { grads, norm };
  const scale = maxNorm / (norm + 1e-6); // as torch.nn.utils.clip_grad_norm_
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) {
    out.set(k, tf.mul(g, scale));
    g.dispose();
  }
  return { grads: out, norm };
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay: number;
}

/** HF Trainer convention: no weight decay on biases and norm weights. */
export const decays = (name: string): boolean => !/bias|norm/.test(name);

export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  step = 0;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;

  constructor(
    readonly vars: Map<string, tf.Variable>,
    readonly opts: AdamWOptions,
  ) {
    this.b1 = opts.beta1 ?? 0.9;
    this.b2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    for (const [k, p] of vars) {
      this.m.set(k, tf.variable(tf.zerosLike(p), false));
      this.v.set(k, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** One update with learning rate lr: p <- p (1 - lr wd); p <- p - lr mhat / (sqrt(vhat) + eps). */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.step++;
    const bc1 = 1 - Math.pow(this.b1, this.step);
    const bc2 = 1 - Math.pow(this.b2, this.step);
    for (const [k, p] of this.vars) {
      const g = grads.get(k);
      if (!g) continue;
      tf.tidy(() => {
        const m = this.m.get(k)!;
        const v = this.v.get(k)!;
        m.assign(tf.add(tf.mul(m, this.b1), tf.mul(g, 1 - this.b1)));
        v.assign(tf.add(tf.mul(v, this.b2), tf.mul(tf.square(g), 1 - this.b2)));
        let next: tf.Tensor = p;
        if (this.opts.weightDecay > 0 && decays(k)) next = tf.mul(next, 1 - lr * this.opts.weightDecay);
        const denom = tf.add(tf.sqrt(tf.div(v, bc2)), this.eps);
        next = tf.sub(next, tf.mul(tf.div(m, denom), lr / bc1));
        p.assign(next);
      });
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
