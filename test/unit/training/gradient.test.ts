import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { selectBackend } from '../../../operator/training/backend.ts';
import { presentBackends } from '../../helpers/backends.ts';
import { attachLora, loadModel } from '../../../operator/training/model-io.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { encodeConversation, type EncodedSequence } from '../../../operator/training/render.ts';
import { padBatch, perSequenceSum, referenceLogProbs, tokenCrossEntropy, tokenEntropy, tokenStats } from '../../../operator/training/logprobs.ts';
import { dpoLoss, exactReferencePoint, ktoLoss, sftLoss } from '../../../operator/training/losses.ts';
import type { CausalLM } from '../../../operator/training/model.ts';
import type { ChatMessage } from '../../../operator/api/records.ts';
import { Rng } from '../../../operator/training/rng.ts';
import { FIXTURES } from './helpers.ts';

const dir = path.join(FIXTURES, 'qwen3');
const tok = loadChatTokenizer(dir);
const temps = { zeta: 0.11, gamma: 0.1 };

const conv = (answer: string, observation: string, final = true): ChatMessage[] => [
  { role: 'system', content: 'You are a coding agent.' },
  { role: 'user', content: 'Fix utils.py.' },
  { role: 'assistant', content: answer },
  { role: 'tool', tool_call_id: 'c1', content: observation },
  ...(final ? [{ role: 'assistant' as const, content: `${answer} finish` }] : []),
];
const enc = (m: ChatMessage[]) => encodeConversation(tok, m, { maxLength: 4096, truncation: 'Drop' })!;

/** Randomises the LoRA B matrices (zero at initialisation) so every adapter has a gradient. */
function randomiseB(model: CausalLM, seed: number): void {
  const rng = new Rng(seed);
  for (const b of model.lora!.B.values()) {
    const d = new Float32Array(b.size).map(() => 0.3 * rng.normal());
    b.assign(tf.tensor(d, b.shape));
  }
}

/** EntroPO losses of a batch (DPO pair + KTO examples) as one scalar, with ref sums fixed. */
function objective(model: CausalLM, seqs: EncodedSequence[], refSums: number[], z0: number): tf.Scalar {
  const batch = padBatch(seqs, tok.padTokenId);
  const st = tokenStats(model.forward(batch.ids).logits, batch);
  const ref = tf.tensor1d(refSums);
  const dpo = dpoLoss({ chosen: tf.slice(st.logp, 0, 1), rejected: tf.slice(st.logp, 1, 1), refChosen: tf.slice(ref, 0, 1), refRejected: tf.slice(ref, 1, 1) }, temps).loss;
  const kto = ktoLoss(st.logp, ref, [true, false], z0, { ...temps, desirableWeight: 1, undesirableWeight: 1.3, mode: 'Exact' }).loss;
  return tf.add(tf.add(dpo, kto), tf.mul(sftLoss(st.logp, st.counts), 0.1)) as tf.Scalar;
}

function refSumsAndZ0(model: CausalLM, seqs: EncodedSequence[]): { refSums: number[]; z0: number } {
  return tf.tidy(() => {
    const batch = padBatch(seqs, tok.padTokenId);
    const refLogits = model.forward(batch.ids, { adapters: false }).logits;
    const refSums = Array.from(tokenStats(refLogits, batch).logp.dataSync());
    const st = tokenStats(model.forward(batch.ids).logits, batch);
    const h = Array.from(perSequenceSum(tokenEntropy(st.logProbs), st.weights, seqs.length).dataSync());
    const ce = Array.from(perSequenceSum(tokenCrossEntropy(st.logProbs, referenceLogProbs(refLogits)), st.weights, seqs.length).dataSync());
    return { refSums, z0: exactReferencePoint(h, ce, temps) };
  });
}

for (const backend of presentBackends()) {
  test.serial(`${backend}: gradients of the EntroPO losses through the model match finite differences (LoRA and embeddings)`, async (t) => {
    await selectBackend(backend, new Registry());
    const model = loadModel(dir, { trainable: true });
    attachLora(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'] }, 3);
    randomiseB(model, 5);
    const seqs = [enc(conv('Let me run the tests.', 'FAILED')), enc(conv('def add(a, b):', 'ok'))];
    const { refSums, z0 } = refSumsAndZ0(model, seqs);
    const checks: [string, tf.Variable][] = [
      ['lora_A q_proj layer 0', model.lora!.A.get('model.layers.0.self_attn.q_proj')!],
      ['lora_B down_proj layer 1', model.lora!.B.get('model.layers.1.mlp.down_proj')!],
      ['embed_tokens (custom gather gradient)', model.params.get('model.embed_tokens.weight') as tf.Variable],
      ['q_norm (Qwen3)', model.params.get('model.layers.0.self_attn.q_norm.weight') as tf.Variable],
    ];
    const { grads } = tf.variableGrads(() => objective(model, seqs, refSums, z0), checks.map(([, v]) => v));
    let compared = 0;
    for (const [label, v] of checks) {
      const g = grads[v.name].dataSync();
      // the 3 largest-magnitude coordinates (a zero gradient everywhere would fail here)
      const idx = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 3);
      t.true(Math.abs(g[idx[0]]) > 1e-3, `${label}: gradient is not trivially zero`);
      for (const i of idx) {
        const base = v.dataSync().slice();
        const eps = 1e-2;
        const at = (delta: number) => {
          const d = base.slice();
          d[i] += delta;
          v.assign(tf.tensor(d, v.shape));
          return tf.tidy(() => objective(model, seqs, refSums, z0).dataSync()[0]);
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        v.assign(tf.tensor(base, v.shape));
        t.true(Math.abs(fd - g[i]) <= 0.03 * Math.abs(g[i]) + 2e-4, `${label}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
        compared++;
      }
    }
    t.is(compared, 12);
    model.dispose();
  });
}

test.serial('tool-observation tokens change neither the loss nor its gradient', async (t) => {
  await selectBackend('Wasm', new Registry());
  const model = loadModel(dir);
  attachLora(model, { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj', 'up_proj'] }, 1);
  randomiseB(model, 2);
  const vars = [...model.trainableVariables().values()];
  // (a) a trajectory cut off after a tool observation: the observation differs in text and length
  const run = (observation: string) => {
    const seqs = [enc(conv('Let me run the tests.', observation, false)), enc(conv('def add(a, b):', observation, false))];
    const { value, grads } = tf.variableGrads(() => objective(model, seqs, [-50, -60], -3), vars);
    return { loss: value.dataSync()[0], grads: vars.map((v) => Array.from(grads[v.name].dataSync())), len: seqs[0].ids.length };
  };
  const a = run('FAILED tests/test_utils.py::test_parse');
  const b = run('ok');
  t.not(a.len, b.len);
  t.true(Math.abs(a.loss - b.loss) < 1e-5, `${a.loss} vs ${b.loss}`);
  let maxDiff = 0;
  let maxAbs = 0;
  a.grads.forEach((g, i) => g.forEach((x, j) => ((maxDiff = Math.max(maxDiff, Math.abs(x - b.grads[i][j]))), (maxAbs = Math.max(maxAbs, Math.abs(x))))));
  t.true(maxAbs > 1e-3);
  t.true(maxDiff < 1e-5 * Math.max(1, maxAbs), `gradient differs by ${maxDiff}`);

  // (b) inside a trajectory: the loss's gradient w.r.t. the logits is exactly zero at every
  // position predicting a system, user or tool token, and non-zero at assistant tokens.
  const seqs = [enc(conv('Let me run the tests.', 'FAILED tests/test_utils.py::test_parse'))];
  const batch = padBatch(seqs, tok.padTokenId);
  const logits = model.forward(batch.ids).logits;
  const dl = tf.grad((l: tf.Tensor) => {
    const st = tokenStats(l as tf.Tensor3D, batch);
    return tf.add(ktoLoss(st.logp, tf.tensor1d([-40]), [true], -2, { ...temps, desirableWeight: 1, undesirableWeight: 1, mode: 'Exact' }).loss, sftLoss(st.logp, st.counts));
  })(logits);
  const V = logits.shape[2];
  const g = dl.dataSync();
  const mask = seqs[0].mask;
  let zeroRows = 0;
  for (let p = 0; p < mask.length - 1; p++) {
    let rowMax = 0;
    for (let v = 0; v < V; v++) rowMax = Math.max(rowMax, Math.abs(g[p * V + v]));
    if (mask[p + 1]) t.true(rowMax > 0, `assistant target at ${p + 1} has a gradient`);
    else {
      t.is(rowMax, 0, `non-assistant target at ${p + 1} has no gradient`);
      zeroRows++;
    }
  }
  t.true(zeroRows > 20);
  model.dispose();
});
