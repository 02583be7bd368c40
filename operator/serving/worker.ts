/**
 * The model's thread: loads the model, runs the continuous-batching engine and answers the HTTP
 * thread's messages (protocol.ts: complete / cancel / shutdown in; ready / failed / result /
 * error / stats out). Decoding here keeps the HTTP thread free for /health and /metrics.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { completeChat } from './chat-service.ts';
import { Engine } from './engine.ts';
import { loadServedModel } from './loaded-model.ts';
import { ApiError, type EngineStats, type FromWorker, type ToWorker, type WorkerInit } from './protocol.ts';

const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const init = workerData as WorkerInit;

let loaded;
try {
  loaded = await loadServedModel(init);
} catch (e) {
  send({ type: 'failed', message: (e as Error).message });
  process.exit(1);
}
const { model, tok, contextLength, stopTokenIds, info } = loaded;

// Counters go out at most every 250 ms (and once more when the engine goes idle).
let lastStats = 0;
let pendingStats: EngineStats | undefined;
let statsTimer: NodeJS.Timeout | undefined;
const flushStats = () => {
  statsTimer = undefined;
  if (pendingStats) send({ type: 'stats', stats: pendingStats });
  pendingStats = undefined;
  lastStats = Date.now();
};
const engine = new Engine(model, {
  maxBatch: init.maxBatch,
  contextLength,
  // f32 keys and values of every layer: bytes per cached token.
  prefixCacheTokens: Math.floor(((init.prefixCacheMiB ?? 256) * 2 ** 20) / (model.config.numLayers * 2 * model.config.numKvHeads * model.config.headDim * 4)),
  decode: (ids) => tok.decode(ids, true),
  onStats: (s) => {
    pendingStats = s;
    if (Date.now() - lastStats >= 250 || (s.running === 0 && s.waiting === 0)) {
      if (statsTimer) clearTimeout(statsTimer);
      flushStats();
    } else statsTimer ??= setTimeout(flushStats, 250);
  },
});

port.on('message', (m: ToWorker) => {
  if (m.type === 'complete') {
    completeChat(engine, tok, m.request, { contextLength, stopTokenIds, id: m.id }).then(
      (result) => send({ type: 'result', id: m.id, result }),
      (e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(500, `generation failed: ${(e as Error).message}`);
        send({ type: 'error', id: m.id, error: err.toJSON() });
      },
    );
  } else if (m.type === 'cancel') {
    engine.cancel(m.id);
  } else if (m.type === 'shutdown') {
    void engine.close().then(() => {
      model.dispose();
      process.exit(0);
    });
  }
});

send({ type: 'ready', info });
