import test from 'ava';
import { generate } from '../../../operator/training/generate.ts';
import { Engine, type GenerationJob } from '../../../operator/serving/engine.ts';
import type { LoadedModel } from '../../../operator/serving/loaded-model.ts';
import { useServedTinyModel } from '../../helpers/served-tiny-model.ts';

let m: LoadedModel;
const modelDir = useServedTinyModel(test, { prefix: 'entropo-engine-', seed: 3 }, (loaded) => (m = loaded));

const job = (prompt: number[], over: Partial<GenerationJob> = {}): GenerationJob => ({
  prompt,
  n: 1,
  maxTokens: 12,
  temperature: 0.8,
  topP: 0.9,
  topK: 20,
  seed: 1,
  stopTokenIds: [],
  stop: [],
  logprobs: false,
  topLogprobs: 0,
  ...over,
});

const prompts = [
  [1, 20, 30, 40, 50],
  [1, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72],
  [1, 100],
  [1, 200, 201, 202, 203, 204, 205, 206, 207],
];

test.serial('batched decoding gives each sequence the tokens and log-probs of generate() alone, with sequences joining and leaving', async (t) => {
  const engine = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
  // Different lengths (rows leave at different steps), seeds, temperatures; one greedy.
  const jobs = prompts.map((p, i) => job(p, { seed: 10 + i, maxTokens: 6 + 5 * i, temperature: i === 2 ? 0 : 0.8, logprobs: true }));
  const first = engine.submit(jobs[0]);
  const second = engine.submit(jobs[1]);
  // The others join after a few steps of the first two.
  await new Promise((r) => setTimeout(r, 30));
  const rest = jobs.slice(2).map((j) => engine.submit(j));
  const outs = await Promise.all([first, second, ...rest]);
  const counters = engine.counters();
  t.true(counters.batchRows / counters.steps > 1.5, `mean batch ${counters.batchRows / counters.steps}`);
  jobs.forEach((j, i) => {
    const alone = generate(m.model, j.prompt, { maxNewTokens: j.maxTokens, temperature: j.temperature, topP: j.topP, topK: j.topK, seed: j.seed, logprobs: true });
    const got = outs[i].sequences[0];
    t.deepEqual(got.tokens, alone.tokens, `sequence ${i}`);
    t.is(got.finishReason, 'length');
    got.logprobs!.forEach((lp, k) => t.true(Math.abs(lp.logprob - alone.logprobs[k]) < 1e-4, `logprob ${i}/${k}: ${lp.logprob} vs ${alone.logprobs[k]}`));
  });
  await engine.close();
});

test.serial('n choices share a prefill; choice i samples with seed + i; max batch limits the running sequences', async (t) => {
  const engine = new Engine(m.model, { maxBatch: 2, contextLength: m.contextLength });
  let peak = 0;
  const watched = new Engine(m.model, { maxBatch: 2, contextLength: m.contextLength, onStats: (s) => (peak = Math.max(peak, s.running)) });
  const out = await engine.submit(job(prompts[0], { n: 3, seed: 5 }));
  t.is(out.sequences.length, 3);
  out.sequences.forEach((s, i) => {
    const alone = generate(m.model, prompts[0], { maxNewTokens: 12, temperature: 0.8, topP: 0.9, topK: 20, seed: 5 + i });
    t.deepEqual(s.tokens, alone.tokens, `choice ${i}`);
  });
  await Promise.all([0, 1, 2, 3].map((i) => watched.submit(job(prompts[i], { seed: i }))));
  t.is(peak, 2);
  await engine.close();
  await watched.close();
});

test.serial('stop tokens and stop strings end a sequence; the context limit caps max tokens; an over-long prompt is a 400 naming messages', async (t) => {
  const decode = (ids: number[]) => m.tok.decode(ids, true);
  const engine = new Engine(m.model, { maxBatch: 4, contextLength: 40, decode });
  const free = await engine.submit(job(prompts[1], { temperature: 0, maxTokens: 20 }));
  const ids = free.sequences[0].tokens;
  // Stop on the 4th generated token.
  const byToken = await engine.submit(job(prompts[1], { temperature: 0, maxTokens: 20, stopTokenIds: [ids[3]] }));
  t.deepEqual(byToken.sequences[0].tokens, ids.slice(0, ids.indexOf(ids[3]) + 1));
  t.is(byToken.sequences[0].finishReason, 'stop');
  const text = decode(ids);
  const stopAt = text.slice(3, 5);
  const byString = await engine.submit(job(prompts[1], { temperature: 0, maxTokens: 20, stop: [stopAt] }));
  t.is(byString.sequences[0].text, text.slice(0, text.indexOf(stopAt)));
  t.is(byString.sequences[0].finishReason, 'stop');
  // 14 prompt tokens + at most 26 in a context of 40.
  const capped = await engine.submit(job(prompts[1], { temperature: 0, maxTokens: 1000 }));
  t.is(capped.sequences[0].tokens.length, 26);
  t.is(capped.sequences[0].finishReason, 'length');
  const err = await t.throwsAsync(engine.submit(job(Array(40).fill(5))));
  t.like(err, { status: 400, param: 'messages', code: 'context_length_exceeded' });
  t.regex(err!.message, /maximum context length is 40 tokens/);
  await engine.close();
});

test('topKIndices is the first k of a stable descending sort (ties in index order)', async (t) => {
  const { topKIndices } = await import('../../../operator/training/generate.ts');
  const { Rng } = await import('../../../operator/training/rng.ts');
  const rng = new Rng(9);
  for (let trial = 0; trial < 200; trial++) {
    const V = 1 + Math.floor(rng.next() * 60);
    // Few distinct values: many ties.
    const logits = Float32Array.from({ length: V }, () => Math.floor(rng.next() * 6) - 3);
    const k = 1 + Math.floor(rng.next() * V);
    const sorted = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
    t.deepEqual(topKIndices(logits, k), sorted.slice(0, k));
  }
});

test('transposeFrozenWeights: the same logits as the transposeB matmuls, to float rounding', async (t) => {
  const { loadModel } = await import('../../../operator/training/model-io.ts');
  const plain = loadModel(modelDir);
  const fast = loadModel(modelDir);
  fast.transposeFrozenWeights();
  const ids = [prompts[1], prompts[1].map((x) => x + 1)];
  const a = plain.forward(ids).logits.dataSync();
  const b = fast.forward(ids).logits.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  t.true(worst < 1e-4, `max |diff| ${worst}`);
  plain.dispose();
  fast.dispose();
});

test.serial('prefix caching: a next turn (prompt = last prompt + completion + more) prefills only its new tokens and samples exactly as generate()', async (t) => {
  const engine = new Engine(m.model, { maxBatch: 4, contextLength: m.contextLength, prefixCacheTokens: 4096 });
  const turn1 = job(prompts[1], { seed: 3, maxTokens: 20 });
  const a = await engine.submit(turn1);
  const turn2Prompt = [...prompts[1], ...a.sequences[0].tokens, 2, 1, 77, 78, 79, 2, 1, 80];
  const before = engine.counters();
  // Two requests sharing the new prompt, at once, and an unrelated one.
  const [b, c, d] = await Promise.all([engine.submit(job(turn2Prompt, { seed: 4 })), engine.submit(job(turn2Prompt, { seed: 5 })), engine.submit(job([1, 250, 251], { seed: 6 }))]);
  const after = engine.counters();
  t.is(after.prefixHits - before.prefixHits, 2);
  // The first reuses turn 1's prompt + completion (all but its last sampled token); the second,
  // admitted with it, shares its prefill: the whole prompt.
  t.is(after.prefixTokens - before.prefixTokens, prompts[1].length + 20 - 1 + turn2Prompt.length);
  for (const [out, prompt, seed] of [
    [b, turn2Prompt, 4],
    [c, turn2Prompt, 5],
    [d, [1, 250, 251], 6],
  ] as const) {
    const alone = generate(m.model, [...prompt], { maxNewTokens: 12, temperature: 0.8, topP: 0.9, topK: 20, seed });
    t.deepEqual(out.sequences[0].tokens, alone.tokens);
  }
  await engine.close();
});
