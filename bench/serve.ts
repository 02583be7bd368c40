/**
 * Benchmark of the policy server (not a test): `npm run bench:serve`.
 *
 * The real server (startPolicyServer: fastify, the model in a worker thread, continuous
 * batching) on loopback, driven by the official openai client at concurrency 1, 2, 4, 8: the
 * same workload at every level (--requests requests, prompt ~180 tokens, max_tokens 128,
 * ignore_eos so every completion has the same length), sent by c clients back to back.
 * Reported: generated tokens/s over the level, the mean decode batch, prompts per prefill pass
 * (prompts admitted together are prefilled in one forward pass), the prefill share of the
 * model's time, the model's busy share of the wall time (the rest: HTTP, messaging, tokenizing,
 * idle), request latency p50, and the ratios to concurrency 1 and to a single generate() loop
 * (operator/training/generate.ts: one sequence, KV cache, no server) on the same model and
 * backend. After a warm-up of every level (prompts of its own), the levels run in rounds
 * (generate(), c = 1, 2, 4, 8, then again) so that a busy spell of a shared machine hits every
 * level alike (every other round in reverse order); each figure is the best of --repeat rounds,
 * and the last column the median over rounds of a level's tokens/s over concurrency 1's in the
 * same round (adjacent levels share the machine's load of the moment).
 *
 * Model: --model <source> (e.g. builtin:tiny-coder); default a random model shaped like the
 * built-in tiny coder (Qwen2-style, hidden 128, 2 layers, vocab 1024, context 1024).
 * Flags: --concurrency 1,2,4,8  --requests 8 (per level)  --max-tokens 128  --repeat 5
 *        --backend wasm  --max-batch 8
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { logger } from '../operator/logging/logger.ts';
import { generate } from '../operator/training/generate.ts';
import { loadServedModel } from '../operator/serving/loaded-model.ts';
import { renderPrompt } from '../operator/serving/chat-format.ts';
import { startPolicyServer } from '../operator/serving/server.ts';
import { resolveModel } from '../operator/serving/source.ts';
import { writeTinyModel } from '../test/helpers/tiny-model.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    concurrency: { type: 'string', default: '1,2,4,8' },
    requests: { type: 'string', default: '8' },
    'max-tokens': { type: 'string', default: '128' },
    repeat: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'wasm' },
    'max-batch': { type: 'string', default: '8' },
  },
});
if (!process.env.ENTROPO_LOG_LEVEL) logger.level = 'warn';
const LEVELS = values.concurrency!.split(',').map(Number);
const REQUESTS = Number(values.requests);
const MAX_TOKENS = Number(values['max-tokens']);
const REPEAT = Number(values.repeat);

/** The 1-minute load average when the benchmark started (figures under load scatter: see README). */
const loadAtStart = os.loadavg()[0];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-bench-serve-'));
const source = values.model ?? `file://${writeTinyModel(path.join(tmp, 'tiny'), { hiddenSize: 128, layers: 2, vocabSize: 1024, contextLength: 1024, std: 0.1 })}`;
const resolved = await resolveModel(source);
const messages = (i: number) => [
  { role: 'system' as const, content: 'You are a coding agent. Fix the bug, run the tests, then call finish.' },
  { role: 'user' as const, content: `Task ${i}: parse() in utils.py returns None for empty strings; it should return an empty list. ${'Context line. '.repeat(4)}` },
];

// ---- the baseline: one generate() loop in this thread, same model and backend
const local = await loadServedModel({ ...resolved, backend: values.backend });
const prompt = local.tok.encode(renderPrompt(local.tok, { messages: messages(0) }));
generate(local.model, prompt, { maxNewTokens: 16, temperature: 0.7, topP: 0.8, topK: 20, seed: 0 }); // warm-up
/** Tokens/s of one generate() loop in this thread. */
function generateLoop(seed: number): number {
  const t0 = performance.now();
  const out = generate(local.model, prompt, { maxNewTokens: MAX_TOKENS, temperature: 0.7, topP: 0.8, topK: 20, seed });
  return out.tokens.length / ((performance.now() - t0) / 1000);
}


// ---- the server
const server = await startPolicyServer({ ...resolved, servedModelName: 'bench', host: '127.0.0.1', port: 0, backend: values.backend, maxBatch: Number(values['max-batch']), metrics: true });
const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0, timeout: 600_000 });

interface EngineCounters {
  steps: number;
  rows: number;
  decodeSeconds: number;
  prefillSeconds: number;
  prefillPasses: number;
}

async function counters(): Promise<EngineCounters> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const v = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { steps: v('entropo_serving_decode_steps_total'), rows: v('entropo_serving_decode_rows_total'), decodeSeconds: v('entropo_serving_decode_seconds_total'), prefillSeconds: v('entropo_serving_prefill_seconds_total'), prefillPasses: v('entropo_serving_prefill_passes_total') };
}

interface Level {
  c: number;
  tokensPerSecond: number;
  /** Tokens of decode steps per second of decode steps (prefills left out). */
  decodeTokensPerSecond: number;
  prefillShare: number;
  /** Prompts per prefill forward pass (prompts admitted together are prefilled together). */
  promptsPerPass: number;
  /** Share of the level's wall time the model spent in prefills and decode steps (the rest: HTTP, messaging, tokenizing, idle). */
  busy: number;
  meanBatch: number;
  p50: number;
  prompt: number;
}

async function level(c: number, seed: number): Promise<Level> {
  // Let the worker's counters of the previous level arrive (sent at most every 250 ms).
  await new Promise((r) => setTimeout(r, 400));
  const before = await counters();
  const latencies: number[] = [];
  let tokens = 0;
  let promptTokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async (_, k) => {
      for (let i = k; i < REQUESTS; i += c) {
        const s = performance.now();
        const r = await client.chat.completions.create({
          model: 'bench',
          // A prompt of its own per request (only the system prompt is shared): no prefix-cache hit beyond it.
          messages: messages(seed + i),
          temperature: 0.7,
          top_p: 0.8,
          seed: seed + k * 100 + i,
          max_tokens: MAX_TOKENS,
          top_k: 20,
          ignore_eos: true,
        } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
        latencies.push((performance.now() - s) / 1000);
        tokens += r.usage!.completion_tokens;
        promptTokens = r.usage!.prompt_tokens;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 400));
  const after = await counters();
  latencies.sort((a, b) => a - b);
  const decode = after.decodeSeconds - before.decodeSeconds;
  const prefill = after.prefillSeconds - before.prefillSeconds;
  return {
    c,
    tokensPerSecond: tokens / seconds,
    decodeTokensPerSecond: (after.rows - before.rows) / decode,
    prefillShare: prefill / (prefill + decode),
    promptsPerPass: REQUESTS / Math.max(1, after.prefillPasses - before.prefillPasses),
    busy: (prefill + decode) / seconds,
    meanBatch: (after.rows - before.rows) / Math.max(1, after.steps - before.steps),
    p50: latencies[Math.floor(latencies.length / 2)],
    prompt: promptTokens,
  };
}

// Warm-up: every level once, with prompts of its own ("Task 900000"...; a level whose prompts it had
// seen would skip their prefills), so that no level pays the first use of its shapes (heap growth).
for (const [j, c] of LEVELS.entries()) await level(c, 900_000 + j * 1000);
let baseline = 0;
const best = new Map<number, Level>();
/** Per round: tokens/s of each level (for the per-round ratios). */
const rounds: Map<number, number>[] = [];
for (let r = 0; r < REPEAT; r++) {
  baseline = Math.max(baseline, generateLoop(r));
  const round = new Map<number, number>();
  // Every other round backwards (8, 4, 2, 1): a load that rises or falls over a round favours no level.
  const order = r % 2 === 0 ? [...LEVELS.entries()] : [...LEVELS.entries()].reverse();
  for (const [j, c] of order) {
    const l = await level(c, (r * LEVELS.length + j + 1) * 1000);
    round.set(c, l.tokensPerSecond);
    if (!best.has(c) || l.tokensPerSecond > best.get(c)!.tokensPerSecond) best.set(c, l);
    process.stderr.write(`round ${r + 1}, concurrency ${c}: ${l.tokensPerSecond.toFixed(1)} tokens/s\n`);
  }
  rounds.push(round);
}
/** Median over rounds of tokens/s at c over tokens/s at the first level in the same round. */
const medianRatio = (c: number): number => {
  const xs = rounds.map((m) => m.get(c)! / m.get(LEVELS[0])!).sort((a, b) => a - b);
  return xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
};
local.model.dispose();
const results = LEVELS.map((c) => best.get(c)!);
await server.close();
rmSync(tmp, { recursive: true, force: true });

const base1 = results.find((r) => r.c === 1) ?? results[0];
const one = base1.tokensPerSecond;
console.log(`model: ${source} (${server.info.parameters.toLocaleString('en-US')} parameters, backend ${server.info.backend}); prompt ${results[0].prompt} tokens, ${MAX_TOKENS} generated per request, ${REQUESTS} requests per level; best of ${REPEAT} rounds`);
console.log(`single generate() loop (no server): ${baseline.toFixed(1)} tokens/s`);
console.log(`machine: ${os.cpus().length} cores, load average ${loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end${Math.max(loadAtStart, os.loadavg()[0]) > os.cpus().length ? ' (a busy machine: load slows concurrency 1 most and the ratios scatter; compare on a quiet one)' : ''}`);
console.log('');
console.log('| concurrency | tokens/s | vs concurrency 1 | vs generate() loop | decode-step tokens/s | decode vs concurrency 1 | mean decode batch | prompts per prefill pass | prefill share of model time | model busy share of wall time | latency p50 (s) | median per-round ratio vs concurrency 1 |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(
    `| ${r.c} | ${r.tokensPerSecond.toFixed(1)} | ${(r.tokensPerSecond / one).toFixed(2)}x | ${(r.tokensPerSecond / baseline).toFixed(2)}x | ${r.decodeTokensPerSecond.toFixed(1)} | ${(r.decodeTokensPerSecond / base1.decodeTokensPerSecond).toFixed(2)}x | ${r.meanBatch.toFixed(2)} | ${r.promptsPerPass.toFixed(2)} | ${(100 * r.prefillShare).toFixed(0)}% | ${(100 * r.busy).toFixed(0)}% | ${r.p50.toFixed(2)} | ${medianRatio(r.c).toFixed(2)}x |`,
  );
}
const four = results.find((r) => r.c === 4);
if (four) {
  const e2e = four.tokensPerSecond / one;
  const dec = four.decodeTokensPerSecond / base1.decodeTokensPerSecond;
  const paired = medianRatio(4);
  console.log(`\ngoal >= 2.5x at concurrency 4 vs 1: end to end ${e2e.toFixed(2)}x best against best (${e2e >= 2.5 ? 'met' : 'NOT met'}), ${paired.toFixed(2)}x median of the rounds' own ratios (${paired >= 2.5 ? 'met' : 'NOT met'}); decode steps ${dec.toFixed(2)}x (${dec >= 2.5 ? 'met' : 'NOT met'})`);
}
