/**
 * Decoder-only transformer of the Llama / Qwen family, in tfjs: RMSNorm, RoPE (HF rotate_half
 * convention), grouped-query attention, SwiGLU MLP, optional QKV bias and per-head q/k norm
 * (Qwen3), tied or untied embeddings, optional LoRA adapters, and a KV cache for generation.
 * Weights keep their Hugging Face names and shapes (linear weights [out, in]).
 */
import * as tf from '@tensorflow/tfjs';
import { embeddingLookup } from './ops.ts';
import { causalAttention, DEFAULT_CHUNK_FLOATS } from './chunked.ts';
import type { ModelConfig } from './model-config.ts';

export const LinearModules = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LinearModules)[number];

export interface LoraSettings {
  rank: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
}

/** LoRA adapters, keyed by the HF module path, e.g. "model.layers.0.self_attn.q_proj". */
export interface LoraAdapters {
  settings: LoraSettings;
  scale: number;
  A: Map<string, tf.Variable>; // [r, in]
  B: Map<string, tf.Variable>; // [out, r]
}

export interface KvCache {
  k: tf.Tensor4D[]; // per layer [B, KV, T, hd]
  v: tf.Tensor4D[];
  length: number;
}

export interface ForwardOptions {
  /** Apply the LoRA adapters (false: the frozen base model, i.e. the reference policy). Default true. */
  adapters?: boolean;
  /** Enables LoRA dropout; the seed makes it reproducible. */
  dropoutSeed?: number;
  /** Continue from this cache; the new keys/values are returned in the result's cache. */
  cache?: KvCache;
  /** Return the KV cache (generation). */
  returnCache?: boolean;
  /** Return the final hidden states [B, T, D] instead of logits (and skip the LM head). */
  hiddenOnly?: boolean;
  /**
   * Attention over query chunks of this many positions (chunked.ts causalAttention: memory
   * chunk x T instead of T x T per head, recomputed in backward). Default: chunked only when one
   * layer's scores would exceed DEFAULT_CHUNK_FLOATS (and no keyBias is given); 0 forces the
   * direct form.
   */
  attentionChunk?: number;
  /** Recompute each layer in the backward pass instead of keeping its activations (training; not with a cache). */
  gradientCheckpointing?: boolean;
  /**
   * Batched decoding over a right-aligned cache (operator/serving): the position of each row's
   * first new token (length B). Default: the cache length, the same for every row.
   */
  positions?: number[];
  /** Additive attention bias over the keys, [B, cache length + T] (0 keep, -1e9 masked): a right-aligned cache's padding. */
  keyBias?: tf.Tensor2D;
  /**
   * Unchunked attention as one 2-D matmul per (row, KV head) instead of one batched matmul
   * (inference: serving's prefills on wasm). tfjs-wasm runs 2-D matmuls through XNNPACK but
   * batched ones through a plain loop (measured: [1, 2, 360, 180] x [1, 2, 180, 32] 2.4 ms batched,
   * 0.35 ms as two 2-D matmuls); worth it from about 32 query rows per head group, not for decode
   * steps. Same result up to float rounding. Default false.
   */
  headwiseAttention?: boolean;
}

/** What every layer of one forward pass shares. */
interface LayerContext {
  B: number;
  T: number;
  start: number;
  chunked: boolean;
  maskBias?: tf.Tensor;
  /** headwiseAttention: the causal mask plus row b's key bias, [n*T, Tk] per row (one entry without a key bias). */
  rowBias?: tf.Tensor2D[];
  cos: tf.Tensor3D;
  sin: tf.Tensor3D;
  newCache: KvCache;
}

/**
 * Row b's vector at position lengths[b] - 1 of `h` [B, T, D]: [B, D] (the last real token of
 * right-padded rows). Used by CausalLM.lastHiddenStates, and by callers that already hold a
 * forward pass's hidden states.
 */
export function lastPositions(h: tf.Tensor3D, lengths: readonly number[]): tf.Tensor2D {
  const [B, T, D] = h.shape;
  if (lengths.length !== B) throw new RangeError(`lastPositions: ${lengths.length} lengths for ${B} rows`);
  return tf.tidy(() => tf.concat(lengths.map((n, b) => {
    if (!Number.isInteger(n) || n < 1 || n > T) throw new RangeError(`lastPositions: length ${n} of row ${b} is outside 1..${T}`);
    return tf.reshape(tf.slice(h, [b, n - 1, 0], [1, 1, D]), [1, D]);
  }), 0) as tf.Tensor2D);
}

/**
 * softmax(q k^T * scale + bias[b]) v with 2-D matmuls per (row b, KV head): q [B, KV, R, hd],
 * k and v [B, KV, Tk, hd], bias [R, Tk] per row (one entry: shared by every row); returns
 * [B, KV, R, hd] (ForwardOptions.headwiseAttention says why). Each head's scores are softmaxed
 * on their own, so no [B, KV, R, Tk] tensor is ever cut into heads (tfjs-wasm's slice copies its
 * whole input first: cutting the scores cost more than the matmuls).
 */
function headwiseAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor2D[], scale: number): tf.Tensor4D {
  const [B, KV, R, hd] = q.shape;
  const Tk = k.shape[2];
  const q3 = tf.reshape(q, [B * KV, R, hd]);
  // Keys transposed once: XNNPACK's fast path takes the right operand untransposed.
  const kT3 = tf.transpose(tf.reshape(k, [B * KV, Tk, hd]), [0, 2, 1]);
  const v3 = tf.reshape(v, [B * KV, Tk, hd]);
  const heads: tf.Tensor2D[] = [];
  for (let i = 0; i < B * KV; i++) {
    const qi = tf.reshape(tf.slice(q3, [i, 0, 0], [1, R, hd]), [R, hd]) as tf.Tensor2D;
    const ki = tf.reshape(tf.slice(kT3, [i, 0, 0], [1, hd, Tk]), [hd, Tk]) as tf.Tensor2D;
    const vi = tf.reshape(tf.slice(v3, [i, 0, 0], [1, Tk, hd]), [Tk, hd]) as tf.Tensor2D;
    const attn = tf.softmax(tf.add(tf.mul(tf.matMul(qi, ki), scale), bias[bias.length === 1 ? 0 : Math.floor(i / KV)]), -1) as tf.Tensor2D;
    heads.push(tf.matMul(attn, vi));
  }
  return tf.reshape(tf.stack(heads), [B, KV, R, hd]) as tf.Tensor4D;
}

export class CausalLM {
  constructor(
    readonly config: ModelConfig,
    /** HF name -> tensor (tf.Variable for parameters that are trained in full fine-tuning). */
    readonly params: Map<string, tf.Tensor>,
    public lora?: LoraAdapters,
  ) {}

  private p(name: string): tf.Tensor {
    const t = this.params.get(name);
    if (!t) throw new Error(`model: missing tensor ${name}`);
    return t;
  }

  /** Variables an optimizer should update: the adapters (LoRA) or every parameter (full). */
  trainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    if (this.lora) {
      for (const [k, v] of this.lora.A) out.set(`${k}.lora_A.weight`, v);
      for (const [k, v] of this.lora.B) out.set(`${k}.lora_B.weight`, v);
    } else {
      for (const [k, v] of this.params) if (v instanceof tf.Variable && v.trainable) out.set(k, v);
    }
    return out;
  }

  /** Transposed copies [in, out] of frozen weights (inference): see transposeFrozenWeights. */
  private readonly transposed = new Map<string, tf.Tensor2D>();

  /**
   * Keeps a transposed copy [in, out] of every frozen 2-D weight (plain tensors, not
   * tf.Variables) so that linear layers and the LM head multiply without transposeB: the wasm
   * and cpu backends' transposeB matmul is several times slower, the more so the more rows
   * (measured: [8, 128] x [384, 128]^T 219 us against 21 us pre-transposed). Costs one more copy
   * of those weights; for serving and generation, where weights never change.
   */
  transposeFrozenWeights(): void {
    for (const [name, t] of this.params) {
      if (t.rank !== 2 || t instanceof tf.Variable || (name.endsWith('embed_tokens.weight') && this.params.has('lm_head.weight'))) continue;
      if (!this.transposed.has(name)) this.transposed.set(name, tf.keep(tf.transpose(t as tf.Tensor2D)));
    }
  }

  /** x [N, in] times weight [out, in]^T. */
  private project(x: tf.Tensor2D, name: string): tf.Tensor2D {
    const wt = this.transposed.get(name);
    return wt ? tf.matMul(x, wt) : tf.matMul(x, this.p(name) as tf.Tensor2D, false, true);
  }

  private linear(x: tf.Tensor2D, module: string, opts: ForwardOptions): tf.Tensor2D {
    let y: tf.Tensor2D = this.project(x, `${module}.weight`);
    const bias = this.params.get(`${module}.bias`);
    if (bias) y = tf.add(y, bias) as tf.Tensor2D;
    const lora = opts.adapters === false ? undefined : this.lora;
    const A = lora?.A.get(module);
    if (lora && A) {
      const B = lora.B.get(module)!;
      const xin = opts.dropoutSeed !== undefined && lora.settings.dropout > 0 ? tf.dropout(x, lora.settings.dropout, undefined, opts.dropoutSeed) : x;
      const delta = tf.matMul(tf.matMul(xin, A, false, true), B, false, true);
      y = tf.add(y, tf.mul(delta, lora.scale)) as tf.Tensor2D;
    }
    return y;
  }

  private rmsNorm(x: tf.Tensor, weight: tf.Tensor): tf.Tensor {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.config.rmsNormEps))), weight);
  }

  /**
   * cos, sin tables [S, T, hd] for positions starts[r]..starts[r]+T-1 of each of the S rows
   * (S = 1: one table for the whole batch): emb = cat(freqs, freqs).
   */
  private rope(starts: number[], T: number): { cos: tf.Tensor3D; sin: tf.Tensor3D } {
    const hd = this.config.headDim;
    const half = hd / 2;
    const S = starts.length;
    const cos = new Float32Array(S * T * hd);
    const sin = new Float32Array(S * T * hd);
    for (let r = 0; r < S; r++) {
      for (let t = 0; t < T; t++) {
        const o = (r * T + t) * hd;
        for (let i = 0; i < half; i++) {
          // inv_freq computed in float32 as HF does: 1 / theta^(2i/hd)
          const invFreq = Math.fround(1 / Math.pow(this.config.ropeTheta, Math.fround((2 * i) / hd)));
          const f = Math.fround((starts[r] + t) * invFreq);
          cos[o + i] = cos[o + i + half] = Math.cos(f);
          sin[o + i] = sin[o + i + half] = Math.sin(f);
        }
      }
    }
    return { cos: tf.tensor3d(cos, [S, T, hd]), sin: tf.tensor3d(sin, [S, T, hd]) };
  }

  /** x [B, T, heads, hd]: x * cos + rotate_half(x) * sin (tables [1 or B, T, hd]). */
  private applyRope(x: tf.Tensor4D, cos: tf.Tensor3D, sin: tf.Tensor3D): tf.Tensor4D {
    const half = this.config.headDim / 2;
    const [x1, x2] = tf.split(x, [half, half], -1);
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    const [S, T, hd] = cos.shape;
    const c = tf.reshape(cos, [S, T, 1, hd]);
    const s = tf.reshape(sin, [S, T, 1, hd]);
    return tf.add(tf.mul(x, c), tf.mul(rotated, s)) as tf.Tensor4D;
  }

  /**
   * Logits [B, T, V] for token ids [B, T] (equal lengths; right-pad shorter rows: attention is
   * causal, so padding never changes earlier positions).
   */
  forward(ids: number[][] | tf.Tensor2D, opts: ForwardOptions = {}): { logits: tf.Tensor3D; cache?: KvCache } {
    const c = this.config;
    const idsT = Array.isArray(ids) ? tf.tensor2d(ids, undefined, 'int32') : ids;
    const [B, T] = idsT.shape;
    const start = opts.cache?.length ?? 0;
    const Tk = start + T;
    const D = c.hiddenSize;
    const H = c.numHeads;
    const KV = c.numKvHeads;
    const n = H / KV;
    const newCache: KvCache = { k: [], v: [], length: Tk };

    const chunked = !opts.keyBias && opts.attentionChunk !== 0 && (opts.attentionChunk !== undefined || B * H * T * Tk > DEFAULT_CHUNK_FLOATS);
    let maskBias: tf.Tensor | undefined;
    let rowBias: tf.Tensor2D[] | undefined;
    if (!chunked) {
      // Causal mask bias [n*T, Tk]: query row r is position start + (r mod T).
      const bias = new Float32Array(n * T * Tk);
      for (let r = 0; r < n * T; r++) {
        const q = start + (r % T);
        for (let k = q + 1; k < Tk; k++) bias[r * Tk + k] = -1e9;
      }
      maskBias = tf.tensor2d(bias, [n * T, Tk]);
      if (opts.headwiseAttention) {
        const causal = maskBias as tf.Tensor2D;
        rowBias = opts.keyBias ? Array.from({ length: B }, (_, b) => tf.add(causal, tf.slice(opts.keyBias!, [b, 0], [1, Tk])) as tf.Tensor2D) : [causal];
      }
      if (opts.keyBias) maskBias = tf.add(maskBias, tf.reshape(opts.keyBias, [B, 1, 1, Tk]));
    }
    if (opts.positions && opts.positions.length !== B) throw new Error(`model: positions has ${opts.positions.length} rows, the batch ${B}`);
    const { cos, sin } = this.rope(opts.positions ?? [start], T);

    let h = embeddingLookup(this.p('model.embed_tokens.weight') as tf.Tensor2D, tf.reshape(idsT, [-1]) as tf.Tensor1D) as tf.Tensor2D; // [B*T, D]
    const layer: LayerContext = { B, T, start, chunked, maskBias, rowBias, cos, sin, newCache };
    for (let i = 0; i < c.numLayers; i++) {
      h = opts.gradientCheckpointing && !opts.cache && !opts.returnCache ? this.checkpointedLayer(i, h, layer, opts) : this.layer(i, h, layer, opts);
    }
    h = this.rmsNorm(h, this.p('model.norm.weight')) as tf.Tensor2D;
    if (opts.hiddenOnly) return { logits: tf.reshape(h, [B, T, D]) as tf.Tensor3D, cache: opts.returnCache ? newCache : undefined };
    const logits = tf.reshape(this.lmHead(h as tf.Tensor2D), [B, T, c.vocabSize]) as tf.Tensor3D;
    return { logits, cache: opts.returnCache ? newCache : undefined };
  }

  /** One decoder layer: h [B*T, D] -> h (pre-norm attention and SwiGLU MLP, residuals). */
  private layer(i: number, h: tf.Tensor2D, ctx: LayerContext, opts: ForwardOptions): tf.Tensor2D {
    const c = this.config;
    const { B, T, start, chunked, maskBias, rowBias, cos, sin, newCache } = ctx;
    const H = c.numHeads;
    const KV = c.numKvHeads;
    const n = H / KV;
    const hd = c.headDim;
    const pre = `model.layers.${i}`;
    const x = this.rmsNorm(h, this.p(`${pre}.input_layernorm.weight`)) as tf.Tensor2D;
    let q = tf.reshape(this.linear(x, `${pre}.self_attn.q_proj`, opts), [B, T, H, hd]) as tf.Tensor4D;
    let k = tf.reshape(this.linear(x, `${pre}.self_attn.k_proj`, opts), [B, T, KV, hd]) as tf.Tensor4D;
    const v = tf.reshape(this.linear(x, `${pre}.self_attn.v_proj`, opts), [B, T, KV, hd]) as tf.Tensor4D;
    if (c.qkNorm) {
      q = this.rmsNorm(q, this.p(`${pre}.self_attn.q_norm.weight`)) as tf.Tensor4D;
      k = this.rmsNorm(k, this.p(`${pre}.self_attn.k_norm.weight`)) as tf.Tensor4D;
    }
    q = this.applyRope(q, cos, sin);
    k = this.applyRope(k, cos, sin);
    let kt = tf.transpose(k, [0, 2, 1, 3]) as tf.Tensor4D; // [B, KV, T, hd]
    let vt = tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D;
    if (opts.cache) {
      kt = tf.concat([opts.cache.k[i], kt], 2);
      vt = tf.concat([opts.cache.v[i], vt], 2);
    }
    if (opts.returnCache) {
      newCache.k.push(kt);
      newCache.v.push(vt);
    }
    // Grouped-query attention without repeating K/V: query head h = kv * n + j shares kv head kv.
    let merged: tf.Tensor2D;
    if (chunked) {
      // rows position-major (t * n + j), so a chunk of positions is a contiguous block of rows
      const qg = tf.reshape(tf.transpose(tf.reshape(q, [B, T, KV, n, hd]), [0, 2, 1, 3, 4]), [B, KV, T * n, hd]) as tf.Tensor4D;
      const ctx = causalAttention(qg, kt, vt, n, start, opts.attentionChunk);
      merged = tf.reshape(tf.transpose(tf.reshape(ctx, [B, KV, T, n, hd]), [0, 2, 1, 3, 4]), [B * T, H * hd]) as tf.Tensor2D;
    } else {
      const qg = tf.reshape(tf.transpose(tf.reshape(q, [B, T, KV, n, hd]), [0, 2, 3, 1, 4]), [B, KV, n * T, hd]) as tf.Tensor4D;
      const ctx = rowBias ? headwiseAttention(qg, kt, vt, rowBias, 1 / Math.sqrt(hd)) : tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(qg, kt, false, true), 1 / Math.sqrt(hd)), maskBias!), -1), vt); // [B, KV, n*T, hd]
      merged = tf.reshape(tf.transpose(tf.reshape(ctx, [B, KV, n, T, hd]), [0, 3, 1, 2, 4]), [B * T, H * hd]) as tf.Tensor2D;
    }
    h = tf.add(h, this.linear(merged, `${pre}.self_attn.o_proj`, opts));
    const x2 = this.rmsNorm(h, this.p(`${pre}.post_attention_layernorm.weight`)) as tf.Tensor2D;
    const gate = this.linear(x2, `${pre}.mlp.gate_proj`, opts);
    const up = this.linear(x2, `${pre}.mlp.up_proj`, opts);
    const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D; // SwiGLU: silu(gate) * up
    h = tf.add(h, this.linear(act, `${pre}.mlp.down_proj`, opts));
    return h;
  }

  /**
   * The layer with gradient checkpointing: the forward keeps only its input; the backward
   * recomputes the layer and takes its gradients (w.r.t. the input and the layer's trainable
   * variables) in one go. Memory: one layer's activations at a time instead of every layer's.
   */
  private checkpointedLayer(i: number, h: tf.Tensor2D, ctx: LayerContext, opts: ForwardOptions): tf.Tensor2D {
    const prefix = `model.layers.${i}.`;
    const vars = [...this.trainableVariables()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
    const consts = [ctx.cos, ctx.sin, ...(ctx.maskBias ? [ctx.maskBias] : [])];
    const rebuild = (saved: tf.Tensor[]): LayerContext => ({ ...ctx, cos: saved[1] as tf.Tensor3D, sin: saved[2] as tf.Tensor3D, maskBias: ctx.maskBias ? saved[3] : undefined });
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const inputs = args.slice(0, 1 + consts.length) as tf.Tensor[];
      save(inputs);
      return {
        value: this.layer(i, inputs[0] as tf.Tensor2D, rebuild(inputs), opts),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const hv = tf.variable(saved[0], true, `ckpt_${i}_${Math.random().toString(36).slice(2)}`);
          // A gradient computed inside a gradient: tfjs's engine drops the outer pass's tape when
          // the inner one ends (it was written for one level), so the outer tape is put back.
          const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
          const outerTape = state.activeTape;
          let grads: tf.NamedTensorMap;
          try {
            grads = tf.variableGrads(() => tf.sum(tf.mul(this.layer(i, hv as unknown as tf.Tensor2D, rebuild(saved), opts), dy)) as tf.Scalar, [hv, ...vars]).grads;
          } finally {
            state.activeTape = outerTape;
          }
          const out = [grads[hv.name], ...consts.map((t) => tf.zerosLike(t)), ...vars.map((v) => grads[v.name] ?? tf.zerosLike(v))];
          hv.dispose();
          return out;
        },
      };
    });
    return f(h, ...consts, ...vars) as tf.Tensor2D;
  }

  /**
   * The final hidden state (after the last RMSNorm: the LM head's input) at the last real token of
   * each row: [B, D]. `ids` are right-padded rows; `lengths[b]` (1..T) is row b's real length
   * (causal attention: padding never changes earlier positions). The paper's diversity measure
   * (docs/method.md section 9: mean pairwise cosine similarity of a task's N trajectories) compares
   * these. Throws RangeError on a length outside 1..T or a count that differs from the rows.
   */
  lastHiddenStates(ids: number[][], lengths: readonly number[], opts: Pick<ForwardOptions, 'adapters' | 'attentionChunk'> = {}): tf.Tensor2D {
    if (lengths.length !== ids.length) throw new RangeError(`lastHiddenStates: ${lengths.length} lengths for ${ids.length} rows`);
    const T = ids[0]?.length ?? 0;
    for (const [b, n] of lengths.entries()) {
      if (!Number.isInteger(n) || n < 1 || n > T) throw new RangeError(`lastHiddenStates: length ${n} of row ${b} is outside 1..${T}`);
    }
    return tf.tidy(() => lastPositions(this.forward(ids, { ...opts, hiddenOnly: true }).logits, lengths));
  }

  /** Logits [N, vocab] of final hidden states [N, D] (forward's hiddenOnly output, e.g. only the last position's). */
  lmHead(h: tf.Tensor2D): tf.Tensor2D {
    return this.project(h, this.params.has('lm_head.weight') ? 'lm_head.weight' : 'model.embed_tokens.weight');
  }

  /** The LM head's weight [V, D] (tied embeddings: the embedding matrix), for the chunked head of training (chunked.ts). */
  headWeight(): tf.Tensor2D {
    return (this.params.get('lm_head.weight') ?? this.p('model.embed_tokens.weight')) as tf.Tensor2D;
  }

  /** Frees every tensor the model owns. */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    for (const t of this.transposed.values()) t.dispose();
    if (this.lora) for (const m of [this.lora.A, this.lora.B]) for (const t of m.values()) t.dispose();
  }
}
