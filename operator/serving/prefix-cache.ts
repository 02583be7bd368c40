/**
 * Prefix caching (as vLLM's automatic prefix caching, per sequence rather than per block): the
 * KV caches of recent sequences, keyed by their token ids. An agent's next turn re-sends the
 * whole conversation, whose head is the previous turn's prompt and completion: its prefill then
 * runs only on the tokens after the longest cached prefix. The caches are [1, KV, len, hd] per
 * layer, held up to a budget of tokens and evicted least recently used first.
 */
import * as tf from '@tensorflow/tfjs';
import type { KvCache } from '../training/model.ts';

interface Entry {
  ids: number[];
  cache: KvCache;
  used: number;
}

/** Shortest prefix worth reusing (shorter ones are recomputed). */
const MIN_PREFIX = 8;

export class PrefixCache {
  private entries: Entry[] = [];
  private tokens = 0;
  private clock = 0;
  /** Lookups that reused a prefix, and the prompt tokens they skipped. */
  hits = 0;
  reusedTokens = 0;

  /** @param budgetTokens most tokens held over all entries (0: caching off). */
  constructor(private readonly budgetTokens: number) {}

  /**
   * The longest cached prefix of `prompt`, at most prompt.length - 1 tokens (the last token is
   * always run, for its logits), as a fresh [1, KV, L, hd] cache the caller owns; undefined when
   * no prefix of at least MIN_PREFIX tokens is cached.
   */
  lookup(prompt: number[]): KvCache | undefined {
    let best: Entry | undefined;
    let bestLen = 0;
    for (const e of this.entries) {
      const max = Math.min(e.ids.length, prompt.length - 1);
      let l = 0;
      while (l < max && e.ids[l] === prompt[l]) l++;
      if (l > bestLen) {
        best = e;
        bestLen = l;
      }
    }
    if (!best || bestLen < MIN_PREFIX) return undefined;
    best.used = ++this.clock;
    this.hits++;
    this.reusedTokens += bestLen;
    const cut = (t: tf.Tensor4D) => tf.slice(t, [0, 0, 0, 0], [1, -1, bestLen, -1]) as tf.Tensor4D;
    return { k: best.cache.k.map(cut), v: best.cache.v.map(cut), length: bestLen };
  }

  /**
   * Stores the cache of `ids` (cache.length === ids.length); takes ownership of the tensors. An
   * entry that is a prefix of the new one is replaced by it.
   */
  insert(ids: number[], cache: KvCache): void {
    if (this.budgetTokens <= 0 || ids.length > this.budgetTokens || ids.length < MIN_PREFIX) {
      tf.dispose([...cache.k, ...cache.v]);
      return;
    }
    this.entries = this.entries.filter((e) => {
      const covered = e.ids.length <= ids.length && e.ids.every((x, i) => x === ids[i]);
      if (covered) this.drop(e);
      return !covered;
    });
    this.entries.push({ ids, cache, used: ++this.clock });
    this.tokens += ids.length;
    while (this.tokens > this.budgetTokens) {
      const oldest = this.entries.reduce((a, b) => (b.used < a.used ? b : a));
      this.entries.splice(this.entries.indexOf(oldest), 1);
      this.drop(oldest);
    }
  }

  /** Entries held. */
  get size(): number {
    return this.entries.length;
  }

  private drop(e: Entry): void {
    this.tokens -= e.ids.length;
    tf.dispose([...e.cache.k, ...e.cache.v]);
  }

  /** Frees every entry. */
  clear(): void {
    for (const e of this.entries) tf.dispose([...e.cache.k, ...e.cache.v]);
    this.entries = [];
    this.tokens = 0;
  }
}
