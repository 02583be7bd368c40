/**
 * The HTTP thread's handle on the model's worker thread (worker.ts): starts it, waits for the
 * model to load, sends requests and routes the answers back to their promises. From the compiled
 * CLI the worker is worker.js; from the TypeScript sources it is started through tsx's loader.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ApiError, type ChatCompletionRequest, type CompletionResult, type EngineStats, type FromWorker, type ModelInfo, type ToWorker, type WorkerInit } from './protocol.ts';

function startWorker(init: WorkerInit): Worker {
  // TensorFlow's start-up INFO lines (oneDNN, CPU features) off, set HERE: a worker's process.env
  // is its own copy, so the backend's own setting inside the worker never reaches the C library.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  const ts = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(ts ? './worker.ts' : './worker.js', import.meta.url));
  if (!ts) return new Worker(file, { workerData: init });
  // tsx's ESM loader, registered inside the worker before the worker module is imported.
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

export class EngineClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: CompletionResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited = false;
  /** Resolves with the model's facts once loaded; rejects if loading fails. */
  readonly ready: Promise<ModelInfo>;
  /** The latest counters of the engine. */
  stats: EngineStats = { running: 0, waiting: 0, steps: 0, generatedTokens: 0, promptTokens: 0, batchRows: 0, decodeSeconds: 0, prefillSeconds: 0, prefillPasses: 0, prefixHits: 0, prefixTokens: 0 };
  onStats?: (s: EngineStats) => void;

  constructor(init: WorkerInit) {
    this.worker = startWorker(init);
    let readyResolve!: (i: ModelInfo) => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          readyResolve(m.info);
          break;
        case 'failed':
          readyReject(new Error(m.message));
          break;
        case 'stats':
          this.stats = m.stats;
          this.onStats?.(m.stats);
          break;
        case 'result':
        case 'error': {
          const p = this.pending.get(m.id);
          if (!p) break;
          this.pending.delete(m.id);
          if (m.type === 'result') p.resolve(m.result);
          else p.reject(ApiError.from(m.error));
        }
      }
    });
    const fail = (why: string) => {
      this.exited = true;
      readyReject(new Error(why));
      for (const p of this.pending.values()) p.reject(new ApiError(500, `the model worker stopped: ${why}`));
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(e.message));
    this.worker.on('exit', (code) => fail(`exit code ${code}`));
  }

  private send(m: ToWorker): void {
    if (!this.exited) this.worker.postMessage(m);
  }

  /** Runs a validated request; rejects with an ApiError. `signal` aborts it (client gone). */
  complete(request: ChatCompletionRequest, signal?: AbortSignal): Promise<CompletionResult> {
    if (this.exited) return Promise.reject(new ApiError(503, 'the model worker is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ type: 'complete', id, request });
      signal?.addEventListener('abort', () => this.send({ type: 'cancel', id }), { once: true });
    });
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Stops the engine (queued requests fail with 503) and ends the thread. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((res) => this.worker.once('exit', () => res()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => void this.worker.terminate(), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
