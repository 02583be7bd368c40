import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { attachLora, loadModel } from '../../../operator/training/model-io.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { encodeConversation } from '../../../operator/training/render.ts';
import { padBatch, perSequenceSum, referenceLogProbs, sequenceStats, tokenCrossEntropy, tokenEntropy, tokenStats } from '../../../operator/training/logprobs.ts';
import type { CausalLM } from '../../../operator/training/model.ts';
import type { ChatMessage } from '../../../operator/api/records.ts';
import { Rng } from '../../../operator/training/rng.ts';
import { FIXTURES } from './helpers.ts';
import { backendCases } from '../../helpers/backends.ts';

const dir = path.join(FIXTURES, 'qwen3');
const tok = loadChatTokenizer(dir);

const conv = (answer: string, observation: string): ChatMessage[] => [
  { role: 'system', content: 'You are a coding agent.' },
  { role: 'user', content: 'Fix utils.py.' },
  { role: 'assistant', content: answer },
  { role: 'tool', tool_call_id: 'c1', content: observation },
  { role: 'assistant', content: `${answer} finish` },
];
const enc = (m: ChatMessage[]) => encodeConversation(tok, m, { maxLength: 4096, truncation: 'Drop' })!;

function randomise(model: CausalLM, seed: number): void {
  const rng = new Rng(seed);
  for (const b of model.lora!.B.values()) b.assign(tf.tensor(new Float32Array(b.size).map(() => 0.3 * rng.normal()), b.shape));
}

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / Math.max(1, s);
};

/** The cases below, run on every tfjs backend present (registered at the end of the file). */
const { it, register } = backendCases();

it('chunked log-softmax, entropy and cross-entropy equal the unchunked computation (values and gradients) within float32 tolerance', (t) => {
  const model = loadModel(dir, { trainable: true });
  attachLora(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'] }, 3);
  randomise(model, 7);
  const seqs = [enc(conv('Let me run the tests.', 'FAILED tests/test_utils.py::test_parse')), enc(conv('def add(a, b):', 'ok'))];
  const batch = padBatch(seqs, tok.padTokenId);
  const B = seqs.length;
  const head = model.headWeight();
  const vars = [...model.trainableVariables().values(), model.params.get('lm_head.weight') as tf.Variable];
  const refHidden = model.forward(batch.ids, { adapters: false, hiddenOnly: true }).logits;
  // unchunked: logits [B, T, V] at once
  const direct = tf.variableGrads(() => {
    const logits = model.forward(batch.ids, { attentionChunk: 0 }).logits;
    const st = tokenStats(logits, batch);
    return tf.sum(tf.mul(st.logp, tf.tensor1d([1, -0.5]))) as tf.Scalar;
  }, vars);
  const st0 = tf.tidy(() => {
    const st = tokenStats(model.forward(batch.ids).logits, batch);
    const ref = referenceLogProbs(model.forward(batch.ids, { adapters: false }).logits);
    return {
      logp: Array.from(st.logp.dataSync()),
      h: Array.from(perSequenceSum(tokenEntropy(st.logProbs), st.weights, B).dataSync()),
      ce: Array.from(perSequenceSum(tokenCrossEntropy(st.logProbs, ref), st.weights, B).dataSync()),
    };
  });
  // chunked: 3 rows of the LM head and 2 positions of attention at a time, the head trained too
  let st1: ReturnType<typeof sequenceStats> | undefined;
  let logp1: number[] = [];
  const chunked = tf.variableGrads(() => {
    const hidden = model.forward(batch.ids, { hiddenOnly: true, attentionChunk: 2 }).logits;
    st1 = sequenceStats(hidden, head, batch, { rows: 3, headTrainable: true, reference: { hidden: refHidden, head } });
    logp1 = Array.from(st1.logp.dataSync());
    return tf.sum(tf.mul(st1.logp, tf.tensor1d([1, -0.5]))) as tf.Scalar;
  }, vars);
  t.true(relDiff(Array.from(chunked.value.dataSync()), Array.from(direct.value.dataSync())) < 1e-5);
  t.true(relDiff(logp1, st0.logp) < 1e-5, `logp ${logp1} vs ${st0.logp}`);
  t.true(relDiff(st1!.entropySums, st0.h) < 1e-5, `entropy ${st1!.entropySums} vs ${st0.h}`);
  t.true(relDiff(st1!.crossEntropySums!, st0.ce) < 1e-5, `cross-entropy ${st1!.crossEntropySums} vs ${st0.ce}`);
  t.deepEqual(st1!.counts, seqs.map((s) => s.mask.slice(1).reduce((a, b) => a + b, 0)));
  let compared = 0;
  for (const v of vars) {
    const a = chunked.grads[v.name].dataSync();
    const b = direct.grads[v.name].dataSync();
    t.true(Math.max(...Array.from(b, Math.abs)) > 1e-4, `${v.name}: gradient is not trivially zero`);
    const d = relDiff(a, b);
    t.true(d < 1e-4, `${v.name}: chunked vs direct gradient differ by ${d}`);
    compared++;
  }
  t.is(compared, 13);
  model.dispose();
});

it('chunked attention equals the direct form at every chunk size, with a KV-cache offset too', (t) => {
  const model = loadModel(dir);
  const seq = enc(conv('Let me run the tests.', 'FAILED'));
  const ids = [seq.ids.slice(0, 40)];
  const direct = model.forward(ids, { attentionChunk: 0 }).logits.dataSync();
  for (const chunk of [1, 3, 7, 40]) {
    const c = model.forward(ids, { attentionChunk: chunk }).logits.dataSync();
    t.true(relDiff(c, direct) < 1e-5, `chunk ${chunk}: ${relDiff(c, direct)}`);
  }
  // continuing from a cache of 25 positions (start offset in the causal mask)
  const head = model.forward([ids[0].slice(0, 25)], { returnCache: true, attentionChunk: 0 });
  const tail = model.forward([ids[0].slice(25)], { cache: head.cache, attentionChunk: 4 }).logits.dataSync();
  const V = model.config.vocabSize;
  t.true(relDiff(tail, direct.slice(25 * V)) < 1e-5);
  model.dispose();
});

it('gradient checkpointing (each layer recomputed in backward) gives the same loss and gradients, LoRA and full', (t) => {
  const seqs = [enc(conv('Let me run the tests.', 'FAILED')), enc(conv('def add(a, b):', 'ok'))];
  const batch = padBatch(seqs, tok.padTokenId);
  for (const full of [false, true]) {
    const model = loadModel(dir, { trainable: full });
    if (!full) {
      attachLora(model, { rank: 2, alpha: 4, dropout: 0.1, targetModules: ['q_proj', 'v_proj', 'down_proj', 'gate_proj'] }, 3);
      randomise(model, 9);
    }
    const vars = [...model.trainableVariables().values()];
    const run = (gradientCheckpointing: boolean) =>
      tf.variableGrads(() => {
        const hidden = model.forward(batch.ids, { hiddenOnly: true, gradientCheckpointing, attentionChunk: 5, dropoutSeed: 11 }).logits;
        const st = sequenceStats(hidden, model.headWeight(), batch, { headTrainable: full });
        return tf.sum(st.logp) as tf.Scalar;
      }, vars);
    const a = run(false);
    const b = run(true);
    t.true(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0]) < 1e-4, `${full ? 'full' : 'LoRA'} loss`);
    let worst = 0;
    for (const v of vars) {
      t.truthy(b.grads[v.name], `${v.name} has a gradient with checkpointing`);
      worst = Math.max(worst, relDiff(b.grads[v.name].dataSync(), a.grads[v.name].dataSync()));
    }
    t.true(worst < 1e-4, `${full ? 'full' : 'LoRA'}: worst relative gradient difference ${worst} over ${vars.length} variables`);
    model.dispose();
  }
});

register();
