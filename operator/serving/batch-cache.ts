/**
 * The running batch of a continuous-batching decoder: one KV cache per layer shared by every
 * sequence in the batch, [B, KV heads, C, head dim], RIGHT-ALIGNED: row r's keys/values are the
 * last len[r] columns, the columns before them are zero padding that an additive key bias masks.
 * A decode step appends one column to every row, so the alignment holds without moving data;
 * rows join (their prefill cache is left-padded to the batch's width, or the batch to theirs)
 * and leave (a gather of the remaining rows, then the columns no row uses are cut) between steps.
 * Attention does not depend on the order of the key columns (positions live in RoPE, applied
 * before caching), so a row's results equal those of decoding it alone up to float rounding.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, KvCache } from '../training/model.ts';

/** Additive bias of a masked key (the model's causal mask uses the same value). */
const MASKED = -1e9;

export class BatchCache {
  private k: tf.Tensor4D[] = [];
  private v: tf.Tensor4D[] = [];
  /** Tokens held by each row (its logical length: the position of its next token). */
  private lens: number[] = [];

  constructor(private readonly model: CausalLM) {}

  /** Rows in the batch. */
  get size(): number {
    return this.lens.length;
  }

  /** Columns of the cache (the longest row). */
  get width(): number {
    return this.k[0]?.shape[2] ?? 0;
  }

  /** Logical length of each row. */
  lengths(): readonly number[] {
    return this.lens;
  }

  /**
   * Appends rows with the given prefill caches ([1, KV, len, hd] per layer; `cache.length` is the
   * row's length). The caches stay owned by the caller (they are copied).
   */
  join(rows: KvCache[]): void {
    if (rows.length === 0) return;
    const L = this.model.config.numLayers;
    const width = Math.max(this.width, ...rows.map((r) => r.length));
    const padLeft = (t: tf.Tensor4D, to: number): tf.Tensor4D => (t.shape[2] === to ? t : (tf.pad(t, [[0, 0], [0, 0], [to - t.shape[2], 0], [0, 0]]) as tf.Tensor4D));
    const next = tf.tidy(() => {
      const ks: tf.Tensor4D[] = [];
      const vs: tf.Tensor4D[] = [];
      for (let l = 0; l < L; l++) {
        const kParts = [...(this.size ? [padLeft(this.k[l], width)] : []), ...rows.map((r) => padLeft(r.k[l], width))];
        const vParts = [...(this.size ? [padLeft(this.v[l], width)] : []), ...rows.map((r) => padLeft(r.v[l], width))];
        ks.push(kParts.length === 1 ? tf.clone(kParts[0]) : tf.concat(kParts, 0));
        vs.push(vParts.length === 1 ? tf.clone(vParts[0]) : tf.concat(vParts, 0));
      }
      return [...ks, ...vs];
    });
    tf.dispose([...this.k, ...this.v]);
    this.k = next.slice(0, L) as tf.Tensor4D[];
    this.v = next.slice(L) as tf.Tensor4D[];
    this.lens.push(...rows.map((r) => r.length));
  }

  /** Keeps only the rows at the given indices (in that order) and trims unused columns. */
  keep(indices: number[]): void {
    if (indices.length === this.size && indices.every((x, i) => x === i)) return;
    if (indices.length === 0) {
      this.clear();
      return;
    }
    const lens = indices.map((i) => this.lens[i]);
    const width = Math.max(...lens);
    const cut = this.width - width;
    const next = tf.tidy(() => {
      const idx = tf.tensor1d(indices, 'int32');
      const take = (t: tf.Tensor4D) => {
        const g = tf.gather(t, idx, 0) as tf.Tensor4D;
        return cut > 0 ? tf.slice(g, [0, 0, cut, 0], [-1, -1, -1, -1]) : g;
      };
      return [...this.k.map(take), ...this.v.map(take)];
    });
    const L = this.model.config.numLayers;
    tf.dispose([...this.k, ...this.v]);
    this.k = next.slice(0, L) as tf.Tensor4D[];
    this.v = next.slice(L) as tf.Tensor4D[];
    this.lens = lens;
  }

  /**
   * One decode step: token[r] is fed to row r at position len[r]. Returns the logits of the
   * next token per row, [B, vocab] flattened row-major, and extends every row by one.
   */
  step(tokens: number[]): Float32Array {
    const B = this.size;
    if (tokens.length !== B) throw new Error(`BatchCache.step: ${tokens.length} tokens for ${B} rows`);
    const C = this.width;
    const bias = new Float32Array(B * (C + 1));
    for (let r = 0; r < B; r++) for (let j = 0; j < C - this.lens[r]; j++) bias[r * (C + 1) + j] = MASKED;
    const L = this.model.config.numLayers;
    const out = tf.tidy(() => {
      const keyBias = tf.tensor2d(bias, [B, C + 1]);
      const res = this.model.forward(
        tokens.map((t) => [t]),
        { cache: { k: this.k, v: this.v, length: C }, returnCache: true, positions: [...this.lens], keyBias },
      );
      return [tf.reshape(res.logits, [B, -1]), ...res.cache!.k, ...res.cache!.v];
    });
    const logits = out[0].dataSync() as Float32Array;
    out[0].dispose();
    tf.dispose([...this.k, ...this.v]);
    this.k = out.slice(1, 1 + L) as tf.Tensor4D[];
    this.v = out.slice(1 + L) as tf.Tensor4D[];
    for (let r = 0; r < B; r++) this.lens[r]++;
    return logits;
  }

  /** Row r's keys/values alone, [1, KV, len, hd] per layer (a copy the caller owns). */
  row(r: number): KvCache {
    const len = this.lens[r];
    const C = this.width;
    const cut = (t: tf.Tensor4D) => tf.slice(t, [r, 0, C - len, 0], [1, -1, len, -1]) as tf.Tensor4D;
    return { k: this.k.map(cut), v: this.v.map(cut), length: len };
  }

  /** Frees the cache. */
  clear(): void {
    tf.dispose([...this.k, ...this.v]);
    this.k = [];
    this.v = [];
    this.lens = [];
  }
}

/** A copy of a cache (the copy is the caller's to free). */
export function cloneCache(cache: KvCache): KvCache {
  return { k: cache.k.map((t) => tf.clone(t)), v: cache.v.map((t) => tf.clone(t)), length: cache.length };
}

/** Frees a cache returned by prefill. */
export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.k, ...cache.v]);
}
