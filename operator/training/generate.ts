/**
 * Autoregressive generation with a KV cache: the prompt is run once, then one token per step
 * against the cached keys/values. Sampling follows the usual order: temperature, top-k, top-p;
 * temperature 0 is greedy. Seeded, so a rollout can be reproduced.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, KvCache } from './model.ts';
import { Rng } from './rng.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Stop after emitting any of these ids (included in the output). */
  stopTokenIds?: number[];
  /** Return the log-prob of each sampled token under the (untempered) policy. */
  logprobs?: boolean;
}

export interface GenerateResult {
  tokens: number[];
  logprobs: number[];
  finishReason: 'stop' | 'length';
}

/**
 * The k largest logits' indices, largest first, equal logits in index order: the first k of a
 * stable descending sort, in one pass (O(V k) worst case, ~O(V) for peaked logits).
 */
export function topKIndices(logits: Float32Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (idx.length === k && !(v > logits[idx[k - 1]])) continue;
    let p = idx.length;
    while (p > 0 && logits[idx[p - 1]] < v) p--;
    idx.splice(p, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx;
}

/** Picks a token from logits (pure given the rng). */
export function sampleToken(logits: Float32Array, o: { temperature?: number; topK?: number; topP?: number }, rng: Rng): number {
  const temp = o.temperature ?? 1;
  if (temp <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let idx = o.topK && o.topK > 0 && o.topK < logits.length ? topKIndices(logits, o.topK) : Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  const max = logits[idx[0]];
  let probs = idx.map((i) => Math.exp((logits[i] - max) / temp));
  let z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  if (o.topP !== undefined && o.topP < 1) {
    let acc = 0;
    let keep = 0;
    while (keep < probs.length && acc < o.topP) acc += probs[keep++];
    idx = idx.slice(0, keep);
    probs = probs.slice(0, keep);
    z = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / z);
  }
  let u = rng.next();
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i];
    if (u <= 0) return idx[i];
  }
  return idx[idx.length - 1];
}

export function generate(model: CausalLM, prompt: number[], o: GenerateOptions): GenerateResult {
  if (prompt.length === 0) throw new Error('generate: empty prompt');
  const rng = new Rng(o.seed ?? 0);
  const tokens: number[] = [];
  const logprobs: number[] = [];
  let cache: KvCache | undefined;
  let input = prompt;
  let finishReason: GenerateResult['finishReason'] = 'length';
  try {
    for (let step = 0; step < o.maxNewTokens; step++) {
      const L = model.config.numLayers;
      const kept = tf.tidy(() => {
        const out = model.forward([input], { cache, returnCache: true });
        const row = tf.reshape(tf.slice(out.logits, [0, input.length - 1, 0], [1, 1, -1]), [-1]);
        return [row, ...out.cache!.k, ...out.cache!.v];
      });
      const last = kept[0].dataSync() as Float32Array;
      kept[0].dispose();
      const next: KvCache = { k: kept.slice(1, 1 + L) as tf.Tensor4D[], v: kept.slice(1 + L) as tf.Tensor4D[], length: (cache?.length ?? 0) + input.length };
      if (cache) tf.dispose([...cache.k, ...cache.v]);
      cache = next;
      const tok = sampleToken(last, o, rng);
      if (o.logprobs) {
        let m = -Infinity;
        for (const x of last) m = Math.max(m, x);
        let s = 0;
        for (const x of last) s += Math.exp(x - m);
        logprobs.push(last[tok] - m - Math.log(s));
      }
      tokens.push(tok);
      if (o.stopTokenIds?.includes(tok)) {
        finishReason = 'stop';
        break;
      }
      input = [tok];
    }
  } finally {
    if (cache) tf.dispose([...cache.k, ...cache.v]);
  }
  return { tokens, logprobs, finishReason };
}
