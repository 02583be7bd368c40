/**
 * The policy server's Prometheus metrics (prom-client), named after Prometheus conventions and
 * close to vLLM's: requests by route and status code, request latency, time to first token,
 * prompt / generated tokens, throughput, running and waiting sequences, the mean decode batch.
 * Engine counters arrive from the worker as running totals and are turned into counter increments.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats } from './protocol.ts';

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160];

export class ServingMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'code'>;
  readonly duration: Histogram<'route'>;
  readonly firstToken: Histogram;
  readonly queueTime: Histogram;
  private readonly promptTokens: Counter;
  private readonly generatedTokens: Counter;
  private readonly steps: Counter;
  private readonly batchRows: Counter;
  private readonly decodeSeconds: Counter;
  private readonly prefillSeconds: Counter;
  private readonly prefillPasses: Counter;
  private readonly prefixHits: Counter;
  private readonly prefixTokens: Counter;
  private readonly running: Gauge;
  private readonly waiting: Gauge;
  private readonly tokensPerSecond: Gauge;
  private readonly meanBatch: Gauge;
  private last?: EngineStats;
  /** (time s, generated tokens) samples of the last 10 s, for tokens/s. */
  private window: [number, number][] = [];

  constructor(opts: { model: string; registry?: Registry; defaults?: boolean }) {
    const registers = [(this.registry = opts.registry ?? new Registry())];
    this.registry.setDefaultLabels({});
    if (opts.defaults !== false) collectDefaultMetrics({ register: this.registry });
    const info = new Gauge({ name: 'entropo_serving_model_info', help: 'The served model (value 1).', labelNames: ['model'], registers });
    info.set({ model: opts.model }, 1);
    this.requests = new Counter({ name: 'entropo_serving_requests_total', help: 'HTTP requests by route and status code.', labelNames: ['route', 'code'], registers });
    this.duration = new Histogram({ name: 'entropo_serving_request_duration_seconds', help: 'Time from request to response.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers });
    this.firstToken = new Histogram({ name: 'entropo_serving_time_to_first_token_seconds', help: 'Time from arrival to the first sampled token (queue + prefill).', buckets: LATENCY_BUCKETS, registers });
    this.queueTime = new Histogram({ name: 'entropo_serving_queue_time_seconds', help: 'Time a request waited for room in the running batch.', buckets: LATENCY_BUCKETS, registers });
    this.promptTokens = new Counter({ name: 'entropo_serving_prompt_tokens_total', help: 'Prompt tokens prefilled.', registers });
    this.generatedTokens = new Counter({ name: 'entropo_serving_generation_tokens_total', help: 'Tokens generated.', registers });
    this.steps = new Counter({ name: 'entropo_serving_decode_steps_total', help: 'Batched decode steps run.', registers });
    this.batchRows = new Counter({ name: 'entropo_serving_decode_rows_total', help: 'Sequences summed over decode steps (tokens produced by decode steps).', registers });
    this.decodeSeconds = new Counter({ name: 'entropo_serving_decode_seconds_total', help: 'Time spent in batched decode steps (sampling included).', registers });
    this.prefillSeconds = new Counter({ name: 'entropo_serving_prefill_seconds_total', help: 'Time spent prefilling prompts.', registers });
    this.prefillPasses = new Counter({ name: 'entropo_serving_prefill_passes_total', help: 'Prefill forward passes (prompts admitted together share one).', registers });
    this.prefixHits = new Counter({ name: 'entropo_serving_prefix_cache_hits_total', help: 'Prefills that reused the KV cache of a cached prefix.', registers });
    this.prefixTokens = new Counter({ name: 'entropo_serving_prefix_cache_reused_tokens_total', help: 'Prompt tokens not prefilled thanks to the prefix cache.', registers });
    this.running = new Gauge({ name: 'entropo_serving_running_sequences', help: 'Sequences in the running batch.', registers });
    this.waiting = new Gauge({ name: 'entropo_serving_waiting_requests', help: 'Requests queued for the batch.', registers });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.tokensPerSecond = new Gauge({
      name: 'entropo_serving_generation_tokens_per_second',
      help: 'Generated tokens per second over the last 10 s.',
      registers,
      collect() {
        this.set(self.rate(performance.now() / 1000));
      },
    });
    this.meanBatch = new Gauge({ name: 'entropo_serving_mean_batch_size', help: 'Mean sequences per decode step since start.', registers });
  }

  /** Applies the worker's latest running totals. */
  engine(s: EngineStats, nowSeconds = performance.now() / 1000): void {
    const prev = this.last;
    this.promptTokens.inc(s.promptTokens - (prev?.promptTokens ?? 0));
    this.generatedTokens.inc(s.generatedTokens - (prev?.generatedTokens ?? 0));
    this.steps.inc(s.steps - (prev?.steps ?? 0));
    this.batchRows.inc(s.batchRows - (prev?.batchRows ?? 0));
    this.decodeSeconds.inc(s.decodeSeconds - (prev?.decodeSeconds ?? 0));
    this.prefillSeconds.inc(s.prefillSeconds - (prev?.prefillSeconds ?? 0));
    this.prefillPasses.inc(s.prefillPasses - (prev?.prefillPasses ?? 0));
    this.prefixHits.inc(s.prefixHits - (prev?.prefixHits ?? 0));
    this.prefixTokens.inc(s.prefixTokens - (prev?.prefixTokens ?? 0));
    this.running.set(s.running);
    this.waiting.set(s.waiting);
    if (s.steps > 0) this.meanBatch.set(s.batchRows / s.steps);
    this.last = s;
    this.window.push([nowSeconds, s.generatedTokens]);
    this.prune(nowSeconds);
  }

  /** Keeps the samples of the last 10 s and the newest one before them (the anchor). */
  private prune(nowSeconds: number): void {
    let first = 0;
    while (first + 1 < this.window.length && this.window[first + 1][0] <= nowSeconds - 10) first++;
    this.window = this.window.slice(first);
  }

  /** Generated tokens per second since the anchor sample (about the last 10 s); 0 before any. */
  rate(nowSeconds: number): number {
    this.prune(nowSeconds);
    if (!this.last || this.window.length === 0) return 0;
    const [t0, g0] = this.window[0];
    return nowSeconds > t0 ? (this.last.generatedTokens - g0) / (nowSeconds - t0) : 0;
  }
}
