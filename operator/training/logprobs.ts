/**
 * Token statistics from logits (docs/method.md sections 1 and 5): masked per-sequence SUMS of
 * log-probabilities, and per-token policy entropy and cross-entropy to the reference over the
 * full vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import { logSoftmax, pickTargets } from './ops.ts';
import { tokenLogProbs } from './chunked.ts';

/** Right-padded batch: ids [B, T] and the assistant mask of each token. */
export interface PaddedBatch {
  ids: number[][];
  mask: number[][];
  lengths: number[];
}

export function padBatch(seqs: { ids: number[]; mask: number[] }[], padId: number): PaddedBatch {
  const T = Math.max(...seqs.map((s) => s.ids.length));
  return {
    ids: seqs.map((s) => [...s.ids, ...new Array<number>(T - s.ids.length).fill(padId)]),
    mask: seqs.map((s) => [...s.mask, ...new Array<number>(T - s.mask.length).fill(0)]),
    lengths: seqs.map((s) => s.ids.length),
  };
}

export interface TokenStats {
  /** [B] sum over assistant tokens of log pi(token | prefix)  (log pi(tau), section 1). */
  logp: tf.Tensor1D;
  /** [B*(T-1)] weights: 1 at predicted assistant tokens. */
  weights: tf.Tensor1D;
  /** [B] assistant tokens per sequence. */
  counts: number[];
  /** Log-softmax of the policy at predicting positions [B*(T-1), V]. */
  logProbs: tf.Tensor2D;
}

/** Targets are ids[:, 1:]; logits[:, :-1] predict them. */
export function tokenStats(logits: tf.Tensor3D, batch: PaddedBatch): TokenStats {
  const [B, T, V] = logits.shape;
  const lp = logSoftmax(tf.reshape(tf.slice(logits, [0, 0, 0], [B, T - 1, V]), [B * (T - 1), V])) as tf.Tensor2D;
  const targets = tf.tensor1d(batch.ids.flatMap((r) => r.slice(1)), 'int32');
  const w = batch.mask.flatMap((r) => r.slice(1));
  const weights = tf.tensor1d(w, 'float32');
  const picked = pickTargets(lp, targets);
  const logp = tf.sum(tf.reshape(tf.mul(picked, weights), [B, T - 1]), 1) as tf.Tensor1D;
  const counts = batch.mask.map((r) => r.slice(1).reduce((a, b) => a + b, 0));
  return { logp, weights, counts, logProbs: lp };
}

/** Per-token entropy H(pi(.|s_t)) = -sum_v p log p  [N]. */
export function tokenEntropy(logProbs: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(tf.exp(logProbs), logProbs), -1)) as tf.Tensor1D;
}

/** Per-token cross-entropy H(pi, pi_ref) = -sum_v p log q  [N]. */
export function tokenCrossEntropy(logProbs: tf.Tensor2D, refLogProbs: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(tf.exp(logProbs), refLogProbs), -1)) as tf.Tensor1D;
}

/** Log-softmax of reference logits at the predicting positions [B*(T-1), V]. */
export function referenceLogProbs(refLogits: tf.Tensor3D): tf.Tensor2D {
  const [B, T, V] = refLogits.shape;
  return logSoftmax(tf.reshape(tf.slice(refLogits, [0, 0, 0], [B, T - 1, V]), [B * (T - 1), V])) as tf.Tensor2D;
}

/** Per-sequence sums of a per-token quantity over assistant tokens: [B]. */
export function perSequenceSum(values: tf.Tensor1D, weights: tf.Tensor1D, B: number): tf.Tensor1D {
  return tf.sum(tf.reshape(tf.mul(values, weights), [B, -1]), 1) as tf.Tensor1D;
}

/** A model seen from its final hidden states: hidden(ids) [B, T, D] and the LM head [V, D]. */
export interface HiddenModel {
  hidden(ids: number[][]): tf.Tensor3D;
  head: tf.Tensor2D;
  /** The head is trained (full fine-tuning). */
  headTrainable?: boolean;
}

export interface SequenceStats {
  /** [B] sum over assistant tokens of log pi(token | prefix); differentiable. */
  logp: tf.Tensor1D;
  /** [B] assistant tokens per sequence. */
  counts: number[];
  /** [B] sums of the policy's token entropy over assistant tokens. */
  entropySums: number[];
  /** [B] sums of the cross-entropy to the reference over assistant tokens (when a reference was given). */
  crossEntropySums?: number[];
}

/**
 * Masked per-sequence statistics of a padded batch from hidden states, in bounded memory
 * (chunked.ts tokenLogProbs: the [T, V] logits of a sequence never exist at once). Equal to
 * tokenStats / tokenEntropy / tokenCrossEntropy within float32 round-off (a test checks it).
 * `hidden` [B, T, D]; `reference.hidden` [B, T, D] of the reference model (no gradient).
 */
export function sequenceStats(
  hidden: tf.Tensor3D,
  head: tf.Tensor2D,
  batch: PaddedBatch,
  opts: { headTrainable?: boolean; reference?: { hidden: tf.Tensor3D; head: tf.Tensor2D }; rows?: number } = {},
): SequenceStats {
  const [B, T, D] = hidden.shape;
  const N = B * T;
  const targets = new Int32Array(N);
  const weights = new Float32Array(N);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      targets[b * T + t] = batch.ids[b][t + 1];
      weights[b * T + t] = batch.mask[b][t + 1];
    }
  }
  const r = tokenLogProbs({
    hidden: tf.reshape(hidden, [N, D]) as tf.Tensor2D,
    head,
    targets,
    weights,
    headTrainable: opts.headTrainable,
    reference: opts.reference ? { hidden: tf.reshape(opts.reference.hidden, [N, D]) as tf.Tensor2D, head: opts.reference.head } : undefined,
    rows: opts.rows,
  });
  const logp = tf.sum(tf.reshape(tf.mul(r.logp, tf.tensor1d(weights)), [B, T]), 1) as tf.Tensor1D;
  const perSeq = (x: Float32Array) => Array.from({ length: B }, (_, b) => x.subarray(b * T, (b + 1) * T).reduce((a, v) => a + v, 0));
  return {
    logp,
    counts: batch.mask.map((row) => row.slice(1).reduce((a, v) => a + v, 0)),
    entropySums: perSeq(r.entropy),
    crossEntropySums: r.crossEntropy ? perSeq(r.crossEntropy) : undefined,
  };
}
