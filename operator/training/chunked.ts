/**
 * Memory-bounded forms of the two T x T / T x V computations of training (issue: long
 * trajectories, large vocabularies), as tf.customGrad ops whose backward recomputes chunk by chunk
 * instead of keeping every intermediate:
 *
 * - tokenLogProbs: the LM head, log-softmax and target pick of every position, `rows` positions
 *   at a time (the T x V logits never exist at once; the Liger / "fused linear cross-entropy"
 *   technique). The same pass yields per-token entropy H_t = -sum_v p log p and, given the
 *   reference's hidden states, cross-entropy CE_t = -sum_v p log q (constants, no gradient).
 * - causalAttention: softmax(q k^T / sqrt(hd) + causal mask) v over query chunks (the
 *   FlashAttention recurrence without the fused kernel): peak memory chunk x Tk per head instead
 *   of T x Tk, with the backward recomputing each chunk's probabilities.
 *
 * Gradients follow the textbook forms: d logits = dy (onehot - softmax); for attention
 * dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = dS K s, dK = dS^T Q s.
 */
import * as tf from '@tensorflow/tfjs';

type Args = (tf.Tensor | tf.GradSaveFunc)[];

/** Floats one chunk's [rows x V] (or [rows x Tk]) matrix may hold: 4M floats = 16 MiB. */
export const DEFAULT_CHUNK_FLOATS = 4 * 1024 * 1024;

export interface TokenLogProbInput {
  /** Final hidden states [N, D] (N = B*T rows, row b*T + t). */
  hidden: tf.Tensor2D;
  /** LM head [V, D] (tied: the embedding matrix). */
  head: tf.Tensor2D;
  /** Target token of each row (0 where the row predicts nothing). */
  targets: Int32Array;
  /** 1 where the row's target is an assistant token (the only rows that matter). */
  weights: Float32Array;
  /** The head is trained (full fine-tuning): its gradient is computed too. */
  headTrainable?: boolean;
  /** Reference hidden states [N, D] and head: per-token cross-entropy CE_t. */
  reference?: { hidden: tf.Tensor2D; head: tf.Tensor2D };
  /** Rows per chunk; default DEFAULT_CHUNK_FLOATS / V. */
  rows?: number;
}

export interface TokenLogProbs {
  /** [N] log pi(target | prefix) per row (0 on rows of weight 0); differentiable w.r.t. hidden (and head). */
  logp: tf.Tensor1D;
  /** Per-row entropy H_t, 0 on rows of weight 0. */
  entropy: Float32Array;
  /** Per-row cross-entropy to the reference, when reference was given. */
  crossEntropy?: Float32Array;
}

/** log softmax over the last axis from primitive ops (the wasm backend has no LogSoftmax kernel). */
function logSoftmax(x: tf.Tensor2D): tf.Tensor2D {
  const shifted = tf.sub(x, tf.max(x, -1, true));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true))) as tf.Tensor2D;
}

function chunkRanges(n: number, rows: number, weights: Float32Array): [number, number][] {
  const out: [number, number][] = [];
  for (let a = 0; a < n; a += rows) {
    const b = Math.min(n, a + rows);
    let any = false;
    for (let i = a; i < b && !any; i++) any = weights[i] !== 0;
    if (any) out.push([a, b]);
  }
  return out;
}

/**
 * Per-row log-probabilities of the targets, entropy and cross-entropy to the reference, computed
 * `rows` positions at a time, in forward and backward. Rows of weight 0 contribute nothing.
 */
export function tokenLogProbs(input: TokenLogProbInput): TokenLogProbs {
  const { head, targets, weights } = input;
  const [N, D] = input.hidden.shape;
  const V = head.shape[0];
  const rows = Math.max(1, input.rows ?? Math.floor(DEFAULT_CHUNK_FLOATS / V));
  const ranges = chunkRanges(N, rows, weights);
  const entropy = new Float32Array(N);
  const crossEntropy = input.reference ? new Float32Array(N) : undefined;
  const oneHot = (a: number, b: number) => tf.cast(tf.oneHot(tf.tensor1d(targets.subarray(a, b), 'int32'), V), 'float32') as tf.Tensor2D;
  const f = tf.customGrad((...args: Args) => {
    const h = args[0] as tf.Tensor2D;
    const w = (input.headTrainable ? args[1] : head) as tf.Tensor2D;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save(input.headTrainable ? [h, w] : [h]);
    const values = new Float32Array(N);
    for (const [a, b] of ranges) {
      tf.tidy(() => {
        const lp = logSoftmax(tf.matMul(tf.slice(h, [a, 0], [b - a, D]), w, false, true));
        const p = tf.exp(lp);
        const picked = tf.sum(tf.mul(lp, oneHot(a, b)), -1);
        values.set(picked.dataSync(), a);
        entropy.set(tf.neg(tf.sum(tf.mul(p, lp), -1)).dataSync(), a);
        if (input.reference && crossEntropy) {
          const r = input.reference;
          const q = logSoftmax(tf.matMul(tf.slice(r.hidden, [a, 0], [b - a, D]), r.head, false, true));
          crossEntropy.set(tf.neg(tf.sum(tf.mul(p, q), -1)).dataSync(), a);
        }
      });
    }
    for (let i = 0; i < N; i++) {
      if (weights[i] === 0) {
        values[i] = 0;
        entropy[i] = 0;
        if (crossEntropy) crossEntropy[i] = 0;
      }
    }
    return {
      value: tf.tensor1d(values),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const hs = saved[0] as tf.Tensor2D;
        const ws = (input.headTrainable ? saved[1] : head) as tf.Tensor2D;
        const dHidden: tf.Tensor2D[] = [];
        let dHead: tf.Tensor2D | undefined = input.headTrainable ? tf.zeros([V, D]) : undefined;
        let pos = 0;
        const zeros = (n: number) => dHidden.push(tf.zeros([n, D]));
        for (const [a, b] of ranges) {
          if (a > pos) zeros(a - pos);
          const [dh, dw] = tf.tidy(() => {
            const hc = tf.slice(hs, [a, 0], [b - a, D]);
            const p = tf.softmax(tf.matMul(hc, ws, false, true));
            const g = tf.mul(tf.sub(oneHot(a, b), p), tf.expandDims(tf.slice(dy, [a], [b - a]), -1)) as tf.Tensor2D; // d logits
            return [tf.matMul(g, ws), input.headTrainable ? tf.matMul(g, hc, true, false) : undefined] as const;
          });
          dHidden.push(dh as tf.Tensor2D);
          if (dHead && dw) {
            const next = tf.add(dHead, dw) as tf.Tensor2D;
            dHead.dispose();
            dw.dispose();
            dHead = next;
          }
          pos = b;
        }
        if (pos < N) zeros(N - pos);
        const dH = dHidden.length === 1 ? dHidden[0] : tf.concat(dHidden, 0);
        if (dHidden.length > 1) tf.dispose(dHidden);
        return input.headTrainable ? [dH, dHead!] : [dH];
      },
    };
  });
  const logp = (input.headTrainable ? f(input.hidden, head) : f(input.hidden)) as tf.Tensor1D;
  return { logp, entropy, crossEntropy };
}

/**
 * Causal grouped-query attention, chunked over query positions.
 * q: [B, KV, T*n, hd] with row t*n + j = query head j of group kv at position start + t;
 * k, v: [B, KV, Tk, hd] (Tk = start + T). Returns [B, KV, T*n, hd].
 * `chunk` positions (chunk*n rows) per step; default so one chunk's scores hold <= DEFAULT_CHUNK_FLOATS.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, n: number, start: number, chunk?: number): tf.Tensor4D {
  const [B, KV, rowsTotal, hd] = q.shape;
  const T = rowsTotal / n;
  const Tk = k.shape[2];
  const scale = 1 / Math.sqrt(hd);
  const c = Math.max(1, chunk ?? Math.floor(DEFAULT_CHUNK_FLOATS / Math.max(1, B * KV * n * Tk)));
  const ranges: [number, number][] = [];
  for (let a = 0; a < T; a += c) ranges.push([a, Math.min(T, a + c)]);
  /** Scores of positions [a, b) against keys [0, start + b) (later keys are masked for all of them). */
  const probs = (qs: tf.Tensor4D, ks: tf.Tensor4D, a: number, b: number) => {
    const kLen = start + b;
    const rows = (b - a) * n;
    const bias = new Float32Array(rows * kLen);
    for (let r = 0; r < rows; r++) {
      const pos = start + a + Math.floor(r / n);
      for (let key = pos + 1; key < kLen; key++) bias[r * kLen + key] = -1e9;
    }
    const qc = tf.slice(qs, [0, 0, a * n, 0], [B, KV, rows, hd]);
    const kc = tf.slice(ks, [0, 0, 0, 0], [B, KV, kLen, hd]);
    const s = tf.add(tf.mul(tf.matMul(qc, kc, false, true), scale), tf.tensor2d(bias, [rows, kLen]));
    return { qc, kc, p: tf.softmax(s, -1) as tf.Tensor4D, kLen, rows };
  };
  const f = tf.customGrad((...args: Args) => {
    const [qs, ks, vs, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([qs, ks, vs]);
    const outs = ranges.map(([a, b]) =>
      tf.tidy(() => {
        const { p, kLen } = probs(qs, ks, a, b);
        return tf.matMul(p, tf.slice(vs, [0, 0, 0, 0], [B, KV, kLen, hd]));
      }),
    );
    const value = outs.length === 1 ? outs[0] : tf.concat(outs, 2);
    if (outs.length > 1) tf.dispose(outs);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [qs2, ks2, vs2] = saved as tf.Tensor4D[];
        const dQ: tf.Tensor[] = [];
        let dK = tf.zeros([B, KV, Tk, hd]) as tf.Tensor4D;
        let dV = tf.zeros([B, KV, Tk, hd]) as tf.Tensor4D;
        for (const [a, b] of ranges) {
          const [dq, dk, dv] = tf.tidy(() => {
            const { qc, kc, p, kLen, rows } = probs(qs2, ks2, a, b);
            const dO = tf.slice(dy, [0, 0, a * n, 0], [B, KV, rows, hd]) as tf.Tensor4D;
            const vc = tf.slice(vs2, [0, 0, 0, 0], [B, KV, kLen, hd]);
            const dvc = tf.matMul(p, dO, true, false); // [B, KV, kLen, hd]
            const dP = tf.matMul(dO, vc, false, true); // [B, KV, rows, kLen]
            const dS = tf.mul(p, tf.sub(dP, tf.sum(tf.mul(dP, p), -1, true)));
            const dqc = tf.mul(tf.matMul(dS, kc), scale);
            const dkc = tf.mul(tf.matMul(dS, qc, true, false), scale);
            const pad = (x: tf.Tensor) => (kLen < Tk ? tf.pad(x, [[0, 0], [0, 0], [0, Tk - kLen], [0, 0]]) : x);
            return [dqc, pad(dkc), pad(dvc)];
          });
          dQ.push(dq);
          const nk = tf.add(dK, dk) as tf.Tensor4D;
          const nv = tf.add(dV, dv) as tf.Tensor4D;
          tf.dispose([dK, dV, dk, dv]);
          dK = nk;
          dV = nv;
        }
        const dq = dQ.length === 1 ? dQ[0] : tf.concat(dQ, 2);
        if (dQ.length > 1) tf.dispose(dQ);
        return [dq, dK, dV];
      },
    };
  });
  return f(q, k, v) as tf.Tensor4D;
}
