/**
 * Continuous batching (as in Orca / vLLM): requests wait in a FIFO queue; between decode steps
 * the scheduler admits the waiting requests while the running batch has room, prefills their
 * prompts together (operator/serving/prefill.ts: one forward pass for the prompts admitted in
 * the same step, identical prompts once; first tokens sampled from their logits), runs ONE decode
 * step for every running sequence at once (operator/serving/batch-cache.ts), and lets finished
 * sequences leave. A request with n choices is n sequences sharing one prefill.
 *
 * Sampling per sequence is operator/training/generate.ts's sampleToken with a seeded Rng: choice
 * i of a request with seed s draws from Rng(s + i), so choice 0 gives exactly the tokens of
 * generate(model, prompt, {seed: s}) (up to float rounding of the batched matmuls), whatever else
 * runs in the batch. Log-probabilities are of the untempered policy, like generate()'s.
 */
import type { CausalLM, KvCache } from '../training/model.ts';
import { sampleToken } from '../training/generate.ts';
import { Rng } from '../training/rng.ts';
import { BatchCache, cloneCache, disposeCache } from './batch-cache.ts';
import { planPrefills, prefillBatch } from './prefill.ts';
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
  /** Jobs whose prompt equalled another's admitted with them (one prefill served both), and their prompt tokens. */
  private sharedPrompts = 0;
  private sharedTokens = 0;
  private closed = false;
  private readonly stats: EngineStats = { running: 0, waiting: 0, steps: 0, generatedTokens: 0, promptTokens: 0, batchRows: 0, decodeSeconds: 0, prefillSeconds: 0, prefillPasses: 0, prefixHits: 0, prefixTokens: 0 };

  constructor(
    private readonly model: CausalLM,
    private readonly opts: EngineOptions,
  ) {
    this.batch = new BatchCache(model);
    this.prefixes = new PrefixCache(opts.prefixCacheTokens ?? 0);
  }

  /** Counters so far. */
  counters(): EngineStats {
    return { ...this.stats, running: this.running.length, waiting: this.waiting.length, prefixHits: this.prefixes.hits + this.sharedPrompts, prefixTokens: this.prefixes.reusedTokens + this.sharedTokens };
  }

  /**
   * Queues a job; resolves when every choice is done. Rejects with an ApiError for a prompt that
   * does not fit the context, or when cancelled or closed.
   * @param id caller's id for cancel(); default a fresh one.
   */
  submit(job: GenerationJob, id = this.nextId++): Promise<GenerationOutcome> {
    if (this.closed) return Promise.reject(new ApiError(503, 'the server is shutting down'));
    if (job.prompt.length === 0) return Promise.reject(new ApiError(400, 'messages: the prompt is empty', 'messages', 'invalid_value'));
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
    // Requests that arrive together (their messages already queued) are admitted, and prefilled, together.
    await new Promise((r) => setImmediate(r));
    while (this.waiting.length || this.running.length) {
      this.admit();
      this.dropCancelled();
      if (this.running.length) this.decodeStep();
      this.publish();
      // Let messages (new requests, cancels) in between steps.
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Admits waiting jobs in arrival order while the batch has room (a job with more choices than
   * the batch runs alone) and prefills them together (prefill.ts: planPrefills, prefillBatch).
   */
  private admit(): void {
    const admitted: Pending[] = [];
    let room = this.opts.maxBatch - this.running.length;
    while (this.waiting.length && !this.closed) {
      const next = this.waiting[0];
      if (next.job.n > room && (this.running.length > 0 || admitted.length > 0)) break;
      this.waiting.shift();
      admitted.push(next);
      room -= next.job.n;
    }
    if (admitted.length) this.start(admitted);
  }

  /**
   * Prefills the admitted jobs: identical prompts once, each with the longest cached prefix
   * reused, in as few passes as planPrefills allows; samples each choice's first token and lets
   * the unfinished choices join the running batch. A pass that fails is retried prompt by prompt,
   * so only the jobs whose own prompt fails are rejected.
   */
  private start(jobs: Pending[]): void {
    const t0 = now();
    // Rows: distinct prompts (the samples of one task often arrive together with one prompt).
    const rowOf = new Map<string, number>();
    const rows: { prompt: number[]; jobs: Pending[]; prefix?: KvCache }[] = [];
    for (const p of jobs) {
      const key = p.job.prompt.join(',');
      const r = rowOf.get(key);
      if (r === undefined) {
        rowOf.set(key, rows.length);
        rows.push({ prompt: p.job.prompt, jobs: [p] });
      } else {
        rows[r].jobs.push(p);
        this.sharedPrompts++;
        this.sharedTokens += p.job.prompt.length;
      }
    }
    for (const row of rows) row.prefix = this.prefixes.lookup(row.prompt);
    const passes = planPrefills(
      rows.map((row) => ({ cached: row.prefix?.length ?? 0, fresh: row.prompt.length - (row.prefix?.length ?? 0) })),
      { heads: this.model.config.numHeads },
    );
    const joining: { seq: Sequence; cache: KvCache }[] = [];
    const prefilled: KvCache[] = [];
    const started: Running[] = [];
    const rejected = new Set<Pending>();
    const release = (i: number) => {
      if (rows[i].prefix) disposeCache(rows[i].prefix!);
      rows[i].prefix = undefined;
    };
    try {
      const queue = [...passes];
      while (queue.length) {
        const pass = queue.shift()!;
        const tp = now();
        let out;
        try {
          out = prefillBatch(this.model, pass.map((i) => rows[i].prompt), pass.map((i) => rows[i].prefix));
        } catch (e) {
          // Its prompts again one by one: only the jobs of the prompt that fails alone fail.
          if (pass.length > 1) {
            queue.unshift(...pass.map((i) => [i]));
            continue;
          }
          for (const p of rows[pass[0]].jobs) {
            p.reject(e as Error);
            rejected.add(p);
          }
          release(pass[0]);
          continue;
        }
        pass.forEach(release);
        this.stats.prefillSeconds += now() - tp;
        this.stats.prefillPasses++;
        pass.forEach((i, k) => {
          const cache = out.caches[k];
          prefilled.push(cache);
          this.prefixes.insert(rows[i].prompt, cloneCache(cache));
          for (const p of rows[i].jobs) {
            this.stats.promptTokens += p.job.prompt.length;
            const r: Running = { ...p, sequences: [], queueSeconds: t0 - p.arrived, firstTokenSeconds: now() - p.arrived };
            const maxTokens = Math.min(p.job.maxTokens, this.opts.contextLength - p.job.prompt.length);
            for (let c = 0; c < p.job.n; c++) {
              const s: Sequence = { owner: r, index: c, rng: new Rng(p.job.seed + c), tokens: [], logprobs: p.job.logprobs ? [] : undefined, maxTokens };
              r.sequences.push(s);
              this.accept(s, out.logits[k]);
              if (!s.done) joining.push({ seq: s, cache });
            }
            this.requests.set(r.id, r);
            started.push(r);
          }
        });
      }
      this.batch.join(joining.map((j) => j.cache));
      this.running.push(...joining.map((j) => j.seq));
    } catch (e) {
      // The batch is unchanged: the jobs of this admission fail, the running ones go on.
      for (const p of jobs) {
        if (rejected.has(p)) continue;
        this.requests.delete(p.id);
        p.reject(e as Error);
      }
      return;
    } finally {
      for (const c of prefilled) disposeCache(c);
      rows.forEach((_, i) => release(i));
    }
    for (const r of started) this.finishIfDone(r);
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
