/**
 * Batched prefill: the prompts of requests admitted together run through the model in ONE
 * forward pass instead of one pass each (as vLLM batches the prefills of a scheduling step).
 *
 * Layout of a batch of B prompts, row r with c[r] tokens already cached (a prefix-cache hit,
 * prefix-cache.ts) and f[r] fresh tokens to run: the cached keys/values are LEFT-padded to the
 * widest prefix P (zero columns that an additive key bias masks, as in the right-aligned decode
 * batch of batch-cache.ts) and the fresh tokens are RIGHT-padded to the longest, T. Fresh token t
 * of every row then sits at key column P + t, so the model's causal mask (queries see keys up to
 * their own column) is right for every row and hides the right padding from real tokens; RoPE
 * gets each row's own positions c[r] + t. Row r's cache is columns P - c[r] .. P + f[r] - 1, and
 * its next-token logits are those of fresh position f[r] - 1. Every real query attends to exactly
 * the keys a solo prefill gives it (masked columns get weight exp(-1e9) = 0), so a row's cache and
 * logits equal a solo prefill's up to float rounding of the batched kernels.
 *
 * Why batched prefill rather than chunked prefill mixed into decode steps (Sarathi / vLLM's
 * chunked prefill): CausalLM.forward takes rows of one length [B, T]; a decode row (T = 1) in a
 * step with a prompt chunk would be padded to the chunk's length, multiplying its cost by the
 * chunk size. Mixing needs a packed (variable-length) attention kernel that tfjs does not have.
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_CHUNK_FLOATS } from '../training/chunked.ts';
import { lastPositions, type CausalLM, type KvCache } from '../training/model.ts';

/** Additive bias of a masked key (the model's causal mask uses the same value). */
const MASKED = -1e9;

/**
 * Whether a pass of `rows` query rows per KV head group runs its attention head by head
 * (ForwardOptions.headwiseAttention: several times faster on tfjs-wasm from about 32 rows;
 * elsewhere, and for fewer rows, the batched matmul is as fast or faster).
 */
function headwise(model: CausalLM, fresh: number): boolean {
  return tf.getBackend() === 'wasm' && (model.config.numHeads / model.config.numKvHeads) * fresh >= 32;
}

/**
 * Runs a prompt (B = 1) and returns its cache [1, KV, prompt length, hd] per layer (the caller's
 * to free) and the logits of the token after it [vocab]. With `prefix` (the cache of the
 * prompt's first prefix.length tokens, still owned by the caller), only the rest of the prompt is
 * run. Throws when nothing is left to run.
 */
export function prefill(model: CausalLM, prompt: number[], prefix?: KvCache): { cache: KvCache; logits: Float32Array } {
  const start = prefix?.length ?? 0;
  if (prompt.length <= start) throw new Error(`prefill: ${prompt.length} prompt tokens, ${start} cached: nothing to run`);
  const L = model.config.numLayers;
  const kept = tf.tidy(() => {
    // The LM head on the last position only: the prompt's other logits are never used.
    const out = model.forward([prompt.slice(start)], { cache: prefix, returnCache: true, hiddenOnly: true, headwiseAttention: headwise(model, prompt.length - start) });
    const last = tf.reshape(tf.slice(out.logits, [0, prompt.length - start - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D;
    const row = tf.reshape(model.lmHead(last), [-1]);
    return [row, ...out.cache!.k, ...out.cache!.v];
  });
  const logits = kept[0].dataSync() as Float32Array;
  kept[0].dispose();
  return { cache: { k: kept.slice(1, 1 + L) as tf.Tensor4D[], v: kept.slice(1 + L) as tf.Tensor4D[], length: prompt.length }, logits };
}

/** One prompt to prefill: tokens reused from the prefix cache and tokens to run. */
export interface PrefillItem {
  cached: number;
  fresh: number;
}

export interface PrefillLimits {
  /** Query heads of the model (attention scores are heads x T x (P + T) floats per row). */
  heads: number;
  /**
   * Most floats of attention scores in one pass whose rows have different prefix lengths (they
   * need a key bias, and the model's chunked attention does not take one). Default
   * DEFAULT_CHUNK_FLOATS (4 Mi floats, 16 MiB), the model's own threshold for chunking.
   */
  maxScoreFloats?: number;
  /** Most token positions (rows x T, padding included) in one pass. Default 4096. */
  maxTokens?: number;
  /** Most share of padded positions (rows x T minus the fresh tokens) in one pass. Default 0.25. */
  maxPadShare?: number;
}

/**
 * Splits prompts into prefill passes (pure): the indices of `items` per pass, each pass a list.
 * Prompts are taken longest fresh part first; a pass grows while its padded positions stay
 * within maxTokens and maxPadShare and, when its rows' cached lengths differ, its attention scores
 * within maxScoreFloats. A prompt that fits no pass with others gets a pass of its own (a solo
 * prefill, whose attention the model chunks when it is large). Every index appears exactly once.
 */
export function planPrefills(items: readonly PrefillItem[], limits: PrefillLimits): number[][] {
  const maxScore = limits.maxScoreFloats ?? DEFAULT_CHUNK_FLOATS;
  const maxTokens = limits.maxTokens ?? 4096;
  const maxPad = limits.maxPadShare ?? 0.25;
  const order = items.map((_, i) => i).sort((a, b) => items[b].fresh - items[a].fresh || a - b);
  const fits = (rows: number[]): boolean => {
    const T = Math.max(...rows.map((i) => items[i].fresh));
    const cells = rows.length * T;
    const fresh = rows.reduce((s, i) => s + items[i].fresh, 0);
    if (cells > maxTokens || cells - fresh > maxPad * cells) return false;
    const cached = rows.map((i) => items[i].cached);
    const P = Math.max(...cached);
    const uniform = cached.every((c) => c === P);
    return uniform || rows.length * limits.heads * T * (P + T) <= maxScore;
  };
  const passes: number[][] = [];
  let current: number[] = [];
  for (const i of order) {
    if (current.length && !fits([...current, i])) {
      passes.push(current);
      current = [];
    }
    current.push(i);
  }
  if (current.length) passes.push(current);
  return passes;
}

/**
 * Prefills B prompts in one forward pass (the layout in this module's comment). `prefixes[r]`
 * (optional, still owned by the caller) is the cache [1, KV, c, hd] per layer of prompt r's first
 * c tokens; c < prompts[r].length. Returns per prompt its cache [1, KV, prompt length, hd] per
 * layer (the caller's to free, see disposeCache) and the logits of the token after it [vocab].
 * B = 1 is the solo prefill(). Throws on an empty batch or a prompt with nothing
 * left to run.
 */
export function prefillBatch(model: CausalLM, prompts: number[][], prefixes: (KvCache | undefined)[] = []): { caches: KvCache[]; logits: Float32Array[] } {
  const B = prompts.length;
  if (B === 0) throw new Error('prefillBatch: no prompts');
  if (B === 1) {
    const one = prefill(model, prompts[0], prefixes[0]);
    return { caches: [one.cache], logits: [one.logits] };
  }
  const cached = prompts.map((p, r) => {
    const c = prefixes[r]?.length ?? 0;
    if (p.length <= c) throw new Error(`prefillBatch: prompt ${r} has ${p.length} tokens, ${c} cached: nothing to run`);
    return c;
  });
  const fresh = prompts.map((p, r) => p.length - cached[r]);
  const T = Math.max(...fresh);
  const P = Math.max(...cached);
  const uniform = cached.every((c) => c === P);
  const L = model.config.numLayers;
  const kept = tf.tidy(() => {
    // Fresh tokens right-padded (token 0: its keys sit after every real query, the causal mask hides them).
    const ids = prompts.map((p, r) => [...p.slice(cached[r]), ...new Array<number>(T - fresh[r]).fill(0)]);
    let cache: KvCache | undefined;
    if (P > 0) {
      const [, KV, , hd] = (prefixes.find((x) => x)!.k[0]).shape;
      const column = (r: number, t: tf.Tensor4D | undefined): tf.Tensor4D => {
        if (!t) return tf.zeros([1, KV, P, hd]);
        return t.shape[2] === P ? t : (tf.pad(t, [[0, 0], [0, 0], [P - t.shape[2], 0], [0, 0]]) as tf.Tensor4D);
      };
      const layer = (which: 'k' | 'v', l: number) => tf.concat(prompts.map((_, r) => column(r, prefixes[r]?.[which][l])), 0) as tf.Tensor4D;
      cache = { k: Array.from({ length: L }, (_, l) => layer('k', l)), v: Array.from({ length: L }, (_, l) => layer('v', l)), length: P };
    }
    let keyBias: tf.Tensor2D | undefined;
    if (!uniform) {
      const bias = new Float32Array(B * (P + T));
      for (let r = 0; r < B; r++) bias.fill(MASKED, r * (P + T), r * (P + T) + P - cached[r]);
      keyBias = tf.tensor2d(bias, [B, P + T]);
    }
    const out = model.forward(ids, { cache, returnCache: true, hiddenOnly: true, headwiseAttention: headwise(model, T), ...(keyBias ? { keyBias, positions: cached } : {}) });
    // The LM head on each row's last real position only.
    const logits = model.lmHead(lastPositions(out.logits, fresh));
    const rows: tf.Tensor[] = [logits];
    for (let r = 0; r < B; r++) {
      const cut = (t: tf.Tensor4D) => tf.slice(t, [r, 0, P - cached[r], 0], [1, -1, cached[r] + fresh[r], -1]);
      rows.push(...out.cache!.k.map(cut), ...out.cache!.v.map(cut));
    }
    return rows;
  });
  const all = kept[0].dataSync() as Float32Array;
  kept[0].dispose();
  const V = all.length / B;
  const caches: KvCache[] = [];
  for (let r = 0; r < B; r++) {
    const at = 1 + r * 2 * L;
    caches.push({ k: kept.slice(at, at + L) as tf.Tensor4D[], v: kept.slice(at + L, at + 2 * L) as tf.Tensor4D[], length: prompts[r].length });
  }
  return { caches, logits: prompts.map((_, r) => all.slice(r * V, (r + 1) * V)) };
}
