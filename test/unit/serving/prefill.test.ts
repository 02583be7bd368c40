import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs';
import { generate } from '../../../operator/training/generate.ts';
import { Engine, type GenerationJob, type GenerationOutcome } from '../../../operator/serving/engine.ts';
import { disposeCache } from '../../../operator/serving/batch-cache.ts';
import { planPrefills, prefill, prefillBatch, type PrefillItem } from '../../../operator/serving/prefill.ts';
import type { LoadedModel } from '../../../operator/serving/loaded-model.ts';
import { Rng } from '../../../operator/training/rng.ts';
import { useServedTinyModel } from '../../helpers/served-tiny-model.ts';

let m: LoadedModel;
useServedTinyModel(test, { prefix: 'entropo-prefill-', seed: 5 }, (loaded) => (m = loaded));

/** A prompt of n tokens starting with BOS-like id 1, ids from a seeded stream (valid ids < 320). */
const promptOf = (n: number, seed: number): number[] => {
  const rng = new Rng(seed);
  return [1, ...Array.from({ length: n - 1 }, () => 3 + Math.floor(rng.next() * 300))];
};

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) return Infinity;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

test('planPrefills: every prompt once; passes keep padding, tokens and mixed-prefix attention within the limits', (t) => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 300; trial++) {
    const items: PrefillItem[] = Array.from({ length: 1 + Math.floor(rng.next() * 9) }, () => ({
      cached: rng.next() < 0.5 ? 0 : Math.floor(rng.next() * 300),
      fresh: 1 + Math.floor(rng.next() * 400),
    }));
    const limits = { heads: 4, maxScoreFloats: 2_000_000, maxTokens: 1500, maxPadShare: 0.3 };
    const passes = planPrefills(items, limits);
    t.deepEqual(passes.flat().sort((a, b) => a - b), items.map((_, i) => i));
    for (const pass of passes) {
      if (pass.length === 1) continue;
      const T = Math.max(...pass.map((i) => items[i].fresh));
      const cells = pass.length * T;
      const fresh = pass.reduce((s, i) => s + items[i].fresh, 0);
      t.true(cells <= limits.maxTokens, `tokens ${cells}`);
      t.true(cells - fresh <= limits.maxPadShare * cells, `padding ${cells - fresh} of ${cells}`);
      const cached = pass.map((i) => items[i].cached);
      const P = Math.max(...cached);
      if (cached.some((c) => c !== P)) t.true(pass.length * limits.heads * T * (P + T) <= limits.maxScoreFloats);
    }
  }
  // Equal prompts of the bench's shape share one pass; a far shorter one goes alone.
  t.deepEqual(planPrefills([{ cached: 30, fresh: 150 }, { cached: 30, fresh: 152 }, { cached: 31, fresh: 149 }], { heads: 4 }), [[1, 0, 2]]);
  t.deepEqual(planPrefills([{ cached: 30, fresh: 150 }, { cached: 0, fresh: 10 }, { cached: 31, fresh: 152 }], { heads: 4 }), [[2, 0], [1]]);
  // Rows with different cached lengths are bounded by their attention scores: 2 x 4 x 300 x 900 > 1M floats.
  t.deepEqual(planPrefills([{ cached: 600, fresh: 300 }, { cached: 0, fresh: 300 }], { heads: 4, maxScoreFloats: 1_000_000 }), [[0], [1]]);
  t.deepEqual(planPrefills([{ cached: 600, fresh: 300 }, { cached: 600, fresh: 300 }], { heads: 4, maxScoreFloats: 1_000_000 }), [[0, 1]]);
});

test.serial('prefillBatch: each row\'s cache and next-token logits equal a solo prefill\'s, with prompts and cached prefixes of different lengths', (t) => {
  const before = tf.memory().numTensors;
  const prompts = [promptOf(23, 1), promptOf(9, 2), promptOf(17, 3), promptOf(20, 4)];
  // Rows 0 and 2 continue cached prefixes of different lengths; rows 1 and 3 start from nothing.
  const prefixOf = [12, 0, 5, 0].map((c, r) => (c ? prefill(m.model, prompts[r].slice(0, c)).cache : undefined));
  const batched = prefillBatch(m.model, prompts, prefixOf);
  // The same with one shared prefix length (no key bias) and with none.
  const plain = prefillBatch(m.model, prompts);
  for (const [r, p] of prompts.entries()) {
    const solo = prefill(m.model, p);
    for (const [name, out] of [
      ['mixed prefixes', batched],
      ['no prefixes', plain],
    ] as const) {
      t.is(out.caches[r].length, p.length);
      t.true(maxAbsDiff(out.logits[r], solo.logits) < 1e-4, `${name} row ${r} logits: ${maxAbsDiff(out.logits[r], solo.logits)}`);
      // argmax (greedy) identical
      t.is(out.logits[r].indexOf(Math.max(...out.logits[r])), solo.logits.indexOf(Math.max(...solo.logits)));
      for (let l = 0; l < m.model.config.numLayers; l++) {
        t.deepEqual(out.caches[r].k[l].shape, solo.cache.k[l].shape);
        t.true(maxAbsDiff(out.caches[r].k[l].dataSync(), solo.cache.k[l].dataSync()) < 1e-4, `${name} row ${r} layer ${l} keys`);
        t.true(maxAbsDiff(out.caches[r].v[l].dataSync(), solo.cache.v[l].dataSync()) < 1e-4, `${name} row ${r} layer ${l} values`);
      }
    }
    disposeCache(solo.cache);
  }
  for (const c of [...batched.caches, ...plain.caches, ...prefixOf]) if (c) disposeCache(c);
  t.is(tf.memory().numTensors, before, 'no tensor leaked');
  t.throws(() => prefillBatch(m.model, [[1, 2, 3], [1, 2]], [undefined, prefill(m.model, [1, 2]).cache]), { message: /prompt 1 has 2 tokens, 2 cached: nothing to run/ });
});

test.serial('headwiseAttention: the same logits and cache as the batched attention, to float rounding, with a cache and a key bias', (t) => {
  const ids = [promptOf(40, 61), promptOf(40, 62)];
  const prefix = prefill(m.model, promptOf(10, 63)).cache;
  const both = { k: prefix.k.map((x) => tf.concat([x, x], 0)), v: prefix.v.map((x) => tf.concat([x, x], 0)), length: 10 };
  const keyBias = tf.tensor2d([...new Array(50).fill(0), ...new Array(3).fill(-1e9), ...new Array(47).fill(0)], [2, 50]);
  for (const opts of [{}, { cache: both, keyBias, positions: [10, 7] }]) {
    const a = m.model.forward(ids, { ...opts, returnCache: true });
    const b = m.model.forward(ids, { ...opts, returnCache: true, headwiseAttention: true });
    t.true(maxAbsDiff(a.logits.dataSync(), b.logits.dataSync()) < 1e-4);
    t.true(maxAbsDiff(a.cache!.v[1].dataSync(), b.cache!.v[1].dataSync()) < 1e-4);
    tf.dispose([a.logits, b.logits, ...a.cache!.k, ...a.cache!.v, ...b.cache!.k, ...b.cache!.v]);
  }
  tf.dispose([keyBias, ...both.k, ...both.v]);
  disposeCache(prefix);
});

const job = (prompt: number[], over: Partial<GenerationJob> = {}): GenerationJob => ({
  prompt,
  n: 1,
  maxTokens: 10,
  temperature: 0.8,
  topP: 0.9,
  topK: 20,
  seed: 1,
  stopTokenIds: [],
  stop: [],
  logprobs: true,
  topLogprobs: 3,
  ...over,
});

const sameOutcome = (t: ExecutionContext, got: GenerationOutcome, want: GenerationOutcome, what: string) => {
  t.is(got.sequences.length, want.sequences.length);
  got.sequences.forEach((s, i) => {
    t.deepEqual(s.tokens, want.sequences[i].tokens, `${what} choice ${i} tokens`);
    t.is(s.finishReason, want.sequences[i].finishReason);
    s.logprobs!.forEach((lp, k) => {
      const w = want.sequences[i].logprobs![k];
      t.true(Math.abs(lp.logprob - w.logprob) < 1e-4, `${what} choice ${i} logprob ${k}: ${lp.logprob} vs ${w.logprob}`);
      t.deepEqual(lp.top.map(([id]) => id), w.top.map(([id]) => id), `${what} choice ${i} top ids ${k}`);
    });
  });
};

test.serial('requests arriving together are prefilled in one pass and sample exactly what each samples alone (greedy, seeded, n choices, logprobs)', async (t) => {
  // Prompt lengths 20, 17, 18, 16 (within the default padding share): one pass.
  const jobs = [
    job(promptOf(20, 21), { temperature: 0 }),
    job(promptOf(17, 22), { seed: 7 }),
    job(promptOf(18, 23), { seed: 8, n: 2, maxTokens: 6 }),
    job(promptOf(16, 24), { seed: 9, temperature: 1.3, topK: 0, topP: 1, maxTokens: 14 }),
  ];
  const alone: GenerationOutcome[] = [];
  for (const j of jobs) {
    const e = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
    alone.push(await e.submit(j));
    t.is(e.counters().prefillPasses, 1);
    await e.close();
  }
  const engine = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
  const together = await Promise.all(jobs.map((j) => engine.submit(j)));
  t.is(engine.counters().prefillPasses, 1, 'one prefill pass for the four prompts');
  t.is(engine.counters().promptTokens, 20 + 17 + 18 + 16);
  together.forEach((out, i) => sameOutcome(t, out, alone[i], `job ${i}`));
  // And the first choice of each equals generate() alone.
  jobs.forEach((j, i) => {
    const g = generate(m.model, j.prompt, { maxNewTokens: j.maxTokens, temperature: j.temperature, topP: j.topP, topK: j.topK, seed: j.seed, logprobs: true });
    t.deepEqual(together[i].sequences[0].tokens, g.tokens, `job ${i} vs generate()`);
  });
  await engine.close();
});

test.serial('a batched prefill reuses each prompt\'s own cached prefix (different lengths) and still samples as alone; stop tokens and max_tokens hold', async (t) => {
  const engine = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength, prefixCacheTokens: 4096 });
  const base = [promptOf(30, 31), promptOf(14, 32)];
  const turn1 = await Promise.all(base.map((p, i) => engine.submit(job(p, { seed: 40 + i, maxTokens: 8 }))));
  // Next turns (prefix hits of 37 and 21 tokens) and a fresh prompt, together.
  const next = [
    [...base[0], ...turn1[0].sequences[0].tokens, 2, 1, 50, 51, 52, 53, 54, 55, 56, 57],
    [...base[1], ...turn1[1].sequences[0].tokens, 2, 1, 60, 61, 62, 63, 64, 65, 66],
    promptOf(12, 33),
  ];
  const other = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
  const greedy = await other.submit(job(next[0], { temperature: 0, maxTokens: 30 }));
  await other.close();
  const stopAt = greedy.sequences[0].tokens[4];
  const jobs = [job(next[0], { temperature: 0, maxTokens: 30, stopTokenIds: [stopAt], seed: 3 }), job(next[1], { seed: 4 }), job(next[2], { seed: 5, maxTokens: 3 })];
  const before = engine.counters();
  const together = await Promise.all(jobs.map((j) => engine.submit(j)));
  const after = engine.counters();
  // Turn 1's prompt + completion but its last token: 30 + 7 and 14 + 7 tokens reused, in one pass with the fresh prompt.
  t.is(after.prefixHits - before.prefixHits, 2);
  t.is(after.prefixTokens - before.prefixTokens, 37 + 21);
  t.is(after.prefillPasses - before.prefillPasses, 1);
  t.is(together[0].sequences[0].finishReason, 'stop');
  t.deepEqual(together[0].sequences[0].tokens, greedy.sequences[0].tokens.slice(0, greedy.sequences[0].tokens.indexOf(stopAt) + 1));
  t.is(together[2].sequences[0].tokens.length, 3);
  t.is(together[2].sequences[0].finishReason, 'length');
  for (const [i, j] of jobs.entries()) {
    const solo = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
    sameOutcome(t, together[i], await solo.submit(j), `job ${i}`);
    await solo.close();
  }
  await engine.close();
});

test.serial('a prompt that fails its prefill (a token id outside the vocabulary) fails only its own request, not those prefilled with it', async (t) => {
  const engine = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
  const good = [job(promptOf(15, 71), { seed: 1 }), job(promptOf(16, 72), { seed: 2 })];
  const bad = job([...promptOf(14, 73), 5000], { seed: 3 });
  const [a, b, c] = await Promise.allSettled([engine.submit(good[0]), engine.submit(bad), engine.submit(good[1])]);
  t.is(b.status, 'rejected');
  // The shared pass failed; the two good prompts were then prefilled alone.
  t.is(engine.counters().prefillPasses, 2);
  t.regex(String((b as PromiseRejectedResult).reason?.message), /5000/);
  t.is(a.status, 'fulfilled');
  t.is(c.status, 'fulfilled');
  for (const [out, j] of [
    [a, good[0]],
    [c, good[1]],
  ] as const) {
    const solo = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
    sameOutcome(t, (out as PromiseFulfilledResult<GenerationOutcome>).value, await solo.submit(j), 'good');
    await solo.close();
  }
  // The engine goes on serving.
  t.is((await engine.submit(job(promptOf(10, 74), { maxTokens: 2 }))).sequences[0].tokens.length, 2);
  await engine.close();
});

test.serial('a request cancelled while others are prefilled with it leaves them untouched', async (t) => {
  // Cancelled after the shared prefill, at the second decode step.
  const engine: Engine = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength, onStats: (s) => s.steps >= 2 && engine.cancel(100) });
  const jobs = [job(promptOf(15, 51), { seed: 1, maxTokens: 40 }), job(promptOf(14, 52), { seed: 2, maxTokens: 12 })];
  const cancelled = engine.submit(jobs[0], 100);
  const kept = engine.submit(jobs[1], 101);
  const err = await t.throwsAsync(cancelled);
  t.like(err, { status: 499 });
  t.is(engine.counters().prefillPasses, 1);
  const solo = new Engine(m.model, { maxBatch: 8, contextLength: m.contextLength });
  sameOutcome(t, await kept, await solo.submit(jobs[1]), 'kept');
  await solo.close();
  await engine.close();
});
