/**
 * Continuous batching (as in Orca / vLLM): requests wait in a FIFO queue; between decode steps
 * the scheduler admits waiting requests (prefill of the prompt, first token sampled from its
 * logits) while the running batch has room, runs ONE decode step for every running sequence at
 * once (operator/serving/batch-cache.ts), and lets finished sequences leave. A request with n
 * choices is n sequences sharing one prefill.
 *
 * Sampling per sequence is operator/training/generate.ts's sampleToken with a seeded Rng: choice
 * i of a request with seed s draws from Rng(s + i), so choice 0 gives exactly the tokens of
 * generate(model, prompt, {seed: s}) (up to float rounding of the batched matmuls), whatever else
 * runs in the batch. Log-probabilities are of the untempered policy, like generate()'s.
 */
import type { CausalLM } from '../training/model.ts';
import { sampleToken } from '../training/generate.ts';
import { Rng } from '../training/rng.ts';
import { BatchCache, cloneCache, disposeCache, prefill } from './batch-cache.ts';
import { PrefixCache } from './prefix-cache.ts';
import { ApiError, type EngineStats } from './protocol.ts';

/** A generation job: token ids in, token ids out. */
export interface GenerationJob {
  prompt: number[];
  /** Choices (independent samples). */
  n: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  /** <= 0: off. */
  topK: number;
  seed: number;
  /** Ids that end a sequence (not part of its text; counted as generated). */
  stopTokenIds: number[];
  /** Strings that end a sequence; the text is cut before the first one. Needs `decode`. */
  stop: string[];
  /** Log-probabilities of the sampled tokens, with this many alternatives each (0: none). */
  logprobs: boolean;
  topLogprobs: number;
}

export interface SequenceResult {
  tokens: number[];
  /** The text (stop strings cut); only computed when `decode` was given. */
  text?: string;
  finishReason: 'stop' | 'length';
  /** Per token: log p and the top alternatives (token id, log p). */
  logprobs?: { logprob: number; top: [number, number][] }[];
}

export interface GenerationOutcome {
  sequences: SequenceResult[];
  queueSeconds: number;
  firstTokenSeconds: number;
}

export interface EngineOptions {
  /** Most sequences decoded together (a request with more choices runs alone). */
  maxBatch: number;
  /** Context limit: prompt + completion tokens. */
  contextLength: number;
  /** Token ids to text, for stop strings. */
  decode?: (ids: number[]) => string;
  /** Called when the counters change. */
  onStats?: (s: EngineStats) => void;
  /** Tokens of KV cache kept for prefix reuse (prefix-cache.ts); 0 or absent: off. */
  prefixCacheTokens?: number;
}

interface Pending {
  id: number;
  job: GenerationJob;
  arrived: number;
  resolve: (o: GenerationOutcome) => void;
  reject: (e: Error) => void;
}

interface Sequence {
  owner: Running;
  index: number;
  rng: Rng;
  tokens: number[];
  logprobs: SequenceResult['logprobs'];
  maxTokens: number;
  done?: SequenceResult['finishReason'];
  text?: string;
}

interface Running extends Pending {
  sequences: Sequence[];
  queueSeconds: number;
  firstTokenSeconds: number;
  cancelled?: boolean;
}

const now = () => performance.now() / 1000;

/** log softmax of row at token, and the top-k (id, log p). */
function logprobsOf(row: Float32Array, token: number, k: number): { logprob: number; top: [number, number][] } {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > m) m = row[i];
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i] - m);
  const lse = m + Math.log(s);
  const top: [number, number][] = [];
  if (k > 0) {
    const idx = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, k);
    for (const i of idx) top.push([i, row[i] - lse]);
  }
  return { logprob: row[token] - lse, top };
}

export class Engine {
  private readonly waiting: Pending[] = [];
  private running: Sequence[] = [];
  private readonly requests = new Map<number, Running>();
  private readonly batch: BatchCache;
  private readonly prefixes: PrefixCache;
  private loop?: Promise<void>;
  private nextId = 1;
  private closed = false;
  private readonly stats: EngineStats = { running: 0, waiting: 0, steps: 0, generatedTokens: 0, promptTokens: 0, batchRows: 0, decodeSeconds: 0, prefillSeconds: 0, prefixHits: 0, prefixTokens: 0 };

  constructor(
    private readonly model: CausalLM,
    private readonly opts: EngineOptions,
  ) {
    this.batch = new BatchCache(model);
    this.prefixes = new PrefixCache(opts.prefixCacheTokens ?? 0);
  }

  /** Counters so far. */
  counters(): EngineStats {
    return { ...this.stats, running: this.running.length, waiting: this.waiting.length, prefixHits: this.prefixes.hits, prefixTokens: this.prefixes.reusedTokens };
  }

  /**
   * Queues a job; resolves when every choice is done. Rejects with an ApiError for a prompt that
   * does not fit the context, or when cancelled or closed.
   * @param id caller's id for cancel(); default a fresh one.
   */
  submit(job: GenerationJob, id = this.nextId++): Promise<GenerationOutcome> {
    if (this.closed) return Promise.reject(new ApiError(503, 'the server is shutting down'));
    if (job.prompt.length === 0) return Promise.reject(new ApiError(400, 'messages: the prompt is empty', 'messages'));
    if (job.prompt.length >= this.opts.contextLength) {
      return Promise.reject(
        new ApiError(
          400,
          `This model's maximum context length is ${this.opts.contextLength} tokens. However, your messages resulted in ${job.prompt.length} tokens, which leaves no room for a completion. Please reduce the length of the messages.`,
          'messages',
          'context_length_exceeded',
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, job, arrived: now(), resolve, reject });
      this.publish();
      this.loop ??= this.run().finally(() => (this.loop = undefined));
    });
  }

  /** Drops a queued or running job (its promise rejects). */
  cancel(id: number): void {
    const w = this.waiting.findIndex((p) => p.id === id);
    if (w >= 0) {
      const [p] = this.waiting.splice(w, 1);
      p.reject(new ApiError(499, 'cancelled'));
      this.publish();
      return;
    }
    const r = this.requests.get(id);
    if (r) r.cancelled = true;
  }

  /** Rejects everything queued, stops after the current step and frees the cache. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.waiting.splice(0)) p.reject(new ApiError(503, 'the server is shutting down'));
    for (const r of this.requests.values()) r.cancelled = true;
    await this.loop;
    this.batch.clear();
    this.prefixes.clear();
  }

  private publish(): void {
    this.opts.onStats?.(this.counters());
  }

  private async run(): Promise<void> {
    while (this.waiting.length || this.running.length) {
      this.admit();
      this.dropCancelled();
      if (this.running.length) this.decodeStep();
      this.publish();
      // Let messages (new requests, cancels) in between steps.
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Prefills waiting jobs while the batch has room (a job larger than the batch runs alone). */
  private admit(): void {
    while (this.waiting.length && !this.closed) {
      const next = this.waiting[0];
      const room = this.opts.maxBatch - this.running.length;
      if (next.job.n > room && this.running.length > 0) return;
      this.waiting.shift();
      try {
        this.start(next);
      } catch (e) {
        next.reject(e as Error);
      }
    }
  }

  private start(p: Pending): void {
    const t0 = now();
    const job = p.job;
    const prefix = this.prefixes.lookup(job.prompt);
    let out;
    try {
      out = prefill(this.model, job.prompt, prefix);
    } finally {
      if (prefix) disposeCache(prefix);
    }
    const { cache, logits } = out;
    this.prefixes.insert(job.prompt, cloneCache(cache));
    this.stats.prefillSeconds += now() - t0;
    this.stats.promptTokens += job.prompt.length;
    const r: Running = { ...p, sequences: [], queueSeconds: t0 - p.arrived, firstTokenSeconds: now() - p.arrived };
    const maxTokens = Math.min(job.maxTokens, this.opts.contextLength - job.prompt.length);
    const joining: Sequence[] = [];
    for (let i = 0; i < job.n; i++) {
      const s: Sequence = { owner: r, index: i, rng: new Rng(job.seed + i), tokens: [], logprobs: job.logprobs ? [] : undefined, maxTokens };
      r.sequences.push(s);
      this.accept(s, logits);
      if (!s.done) joining.push(s);
    }
    try {
      this.batch.join(joining.map(() => cache));
    } finally {
      disposeCache(cache);
    }
    this.running.push(...joining);
    this.requests.set(r.id, r);
    this.finishIfDone(r);
  }

  /** Samples the next token of s from its logits row and checks the stop conditions. */
  private accept(s: Sequence, row: Float32Array): void {
    const job = s.owner.job;
    const tok = sampleToken(row, { temperature: job.temperature, topK: job.topK, topP: job.topP }, s.rng);
    if (s.logprobs) s.logprobs.push(logprobsOf(row, tok, job.topLogprobs));
    s.tokens.push(tok);
    this.stats.generatedTokens++;
    if (job.stopTokenIds.includes(tok)) {
      s.done = 'stop';
      return;
    }
    if (job.stop.length && this.opts.decode) {
      const text = this.opts.decode(s.tokens);
      let cut = -1;
      for (const st of job.stop) {
        const at = text.indexOf(st);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      if (cut >= 0) {
        s.text = text.slice(0, cut);
        s.done = 'stop';
        return;
      }
    }
    if (s.tokens.length >= s.maxTokens) s.done = 'length';
  }

  private decodeStep(): void {
    const t0 = now();
    const B = this.running.length;
    const logits = this.batch.step(this.running.map((s) => s.tokens[s.tokens.length - 1]));
    const V = logits.length / B;
    this.running.forEach((s, r) => this.accept(s, logits.subarray(r * V, (r + 1) * V)));
    this.stats.steps++;
    this.stats.batchRows += B;
    this.stats.decodeSeconds += now() - t0;
    this.retire();
  }

  /** Lets finished (and cancelled) sequences leave the batch and completes their requests. */
  private retire(): void {
    const keep: number[] = [];
    const owners = new Set<Running>();
    this.running.forEach((s, i) => {
      if (s.done || s.owner.cancelled) owners.add(s.owner);
      else keep.push(i);
    });
    if (keep.length === this.running.length) return;
    // The first choice of each finished request leaves its prompt + completion for prefix reuse
    // (an agent's next turn starts with them).
    this.running.forEach((s, i) => {
      if (s.done && s.index === 0 && !s.owner.cancelled) {
        const row = this.batch.row(i);
        this.prefixes.insert([...s.owner.job.prompt, ...s.tokens].slice(0, row.length), row);
      }
    });
    this.batch.keep(keep);
    this.running = keep.map((i) => this.running[i]);
    for (const r of owners) this.finishIfDone(r);
  }

  private dropCancelled(): void {
    if (this.running.some((s) => s.owner.cancelled)) this.retire();
  }

  private finishIfDone(r: Running): void {
    if (r.cancelled) {
      if (this.requests.delete(r.id)) r.reject(new ApiError(499, 'cancelled'));
      return;
    }
    if (!r.sequences.every((s) => s.done)) return;
    this.requests.delete(r.id);
    const decode = this.opts.decode;
    r.resolve({
      sequences: r.sequences.map((s) => ({
        tokens: s.tokens,
        text: s.text ?? (decode ? decode(s.done === 'stop' && r.job.stopTokenIds.includes(s.tokens[s.tokens.length - 1]) ? s.tokens.slice(0, -1) : s.tokens) : undefined),
        finishReason: s.done!,
        ...(s.logprobs ? { logprobs: s.logprobs } : {}),
      })),
      queueSeconds: r.queueSeconds,
      firstTokenSeconds: r.firstTokenSeconds,
    });
  }
}
