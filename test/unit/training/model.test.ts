import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import os from 'node:os';
import { closeSync, mkdtempSync, openSync, rmSync, readFileSync, existsSync, statSync, truncateSync, writeSync } from 'node:fs';
import { Registry } from 'prom-client';
import { selectBackend } from '../../../operator/training/backend.ts';
import { attachLora, loadAdapters, loadModel, saveAdapters, saveModel, loraModules } from '../../../operator/training/model-io.ts';
import { parseModelConfig } from '../../../operator/training/model-config.ts';
import { halfToFloat, readSafetensors, readSafetensorsFile, writeSafetensors, writeSafetensorsFile } from '../../../operator/training/safetensors.ts';
import { generate, sampleToken } from '../../../operator/training/generate.ts';
import { Rng } from '../../../operator/training/rng.ts';
import { FIXTURES, expected, maxAbsDiff } from './helpers.ts';

const exp = expected();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-model-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
test.before(async () => {
  await selectBackend('Wasm', new Registry());
});

test('safetensors: f32 round trip, f16 / bf16 decoding, malformed files named', (t) => {
  const m = new Map([
    ['b', { shape: [2, 2], data: new Float32Array([1, -2.5, 3e-8, 1e6]) }],
    ['a', { shape: [1], data: new Float32Array([0.1]) }],
  ]);
  const bytes = writeSafetensors(m, { format: 'pt' });
  const back = readSafetensors(bytes);
  t.deepEqual(back.metadata, { format: 'pt' });
  t.deepEqual(Array.from(back.tensors.get('b')!.data), Array.from(m.get('b')!.data));
  t.deepEqual(back.tensors.get('a')!.shape, [1]);
  t.is(halfToFloat(0x3c00), 1);
  t.is(halfToFloat(0xc000), -2);
  t.is(halfToFloat(0x0001), 2 ** -24);
  t.is(halfToFloat(0x7c00), Infinity);
  // bf16: the top 16 bits of a float32
  const header = new TextEncoder().encode(JSON.stringify({ x: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] }, y: { dtype: 'F16', shape: [1], data_offsets: [4, 6] } }));
  const buf = new Uint8Array(8 + header.length + 6);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(0, BigInt(header.length), true);
  buf.set(header, 8);
  dv.setUint16(8 + header.length, 0x3fc0, true); // 1.5
  dv.setUint16(8 + header.length + 2, 0xc040, true); // -3
  dv.setUint16(8 + header.length + 4, 0x3800, true); // 0.5
  const r = readSafetensors(buf);
  t.deepEqual(Array.from(r.tensors.get('x')!.data), [1.5, -3]);
  t.deepEqual(Array.from(r.tensors.get('y')!.data), [0.5]);
  t.throws(() => readSafetensors(new Uint8Array(4), 'f.safetensors'), { message: /f\.safetensors: too short/ });
  const bad = new TextEncoder().encode(JSON.stringify({ x: { dtype: 'I8', shape: [1], data_offsets: [0, 1] } }));
  const b2 = new Uint8Array(8 + bad.length + 1);
  new DataView(b2.buffer).setBigUint64(0, BigInt(bad.length), true);
  b2.set(bad, 8);
  t.throws(() => readSafetensors(b2), { message: /tensor x has dtype I8/ });
});

test('safetensors through a file handle: a > 2 GiB sparse file is read by byte ranges (header, then each tensor)', (t) => {
  // header: a small F32 tensor at the start, a 2.5 GiB bf16 tensor (a hole in a sparse file), then F16 and BF16 tensors past 2 GiB
  const big = 1280 * 1024 * 1024; // bf16 values: 2.5 GiB
  const header = {
    __metadata__: { format: 'pt' },
    head: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    hole: { dtype: 'BF16', shape: [big], data_offsets: [8, 8 + 2 * big] },
    tail16: { dtype: 'F16', shape: [2], data_offsets: [8 + 2 * big, 8 + 2 * big + 4] },
    tailbf: { dtype: 'BF16', shape: [1], data_offsets: [8 + 2 * big + 4, 8 + 2 * big + 6] },
  };
  const json = Buffer.from(JSON.stringify(header));
  const file = path.join(tmp, 'sparse.safetensors');
  const fd = openSync(file, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, len, 0, 8, 0);
  writeSync(fd, json, 0, json.length, 8);
  const base = 8 + json.length;
  const head = Buffer.alloc(8);
  head.writeFloatLE(1.25, 0);
  head.writeFloatLE(-7, 4);
  writeSync(fd, head, 0, 8, base);
  const tail = Buffer.alloc(6);
  tail.writeUInt16LE(0x3c00, 0); // f16 1
  tail.writeUInt16LE(0xc000, 2); // f16 -2
  tail.writeUInt16LE(0x3fc0, 4); // bf16 1.5
  writeSync(fd, tail, 0, 6, base + 8 + 2 * big);
  closeSync(fd);
  const size = statSync(file).size;
  t.true(size > 2 ** 31, `file is ${size} bytes`);
  const r = readSafetensorsFile(file, { only: (n) => n !== 'hole' });
  t.deepEqual(r.metadata, { format: 'pt' });
  t.deepEqual(Array.from(r.tensors.get('head')!.data), [1.25, -7]);
  t.deepEqual(Array.from(r.tensors.get('tail16')!.data), [1, -2]);
  t.deepEqual(Array.from(r.tensors.get('tailbf')!.data), [1.5]);
  t.false(r.tensors.has('hole'));
  // a tensor whose range runs past the end of the file is named
  truncateSync(file, size - 2);
  t.throws(() => readSafetensorsFile(file, { only: (n) => n === 'tailbf' }), { message: /sparse\.safetensors: tensor tailbf offsets/ });
  rmSync(file);
  // the file writer and reader round-trip
  const m = new Map([['w', { shape: [2, 3], data: new Float32Array([1, 2, 3, -4, 5e-7, 6e6]) }]]);
  writeSafetensorsFile(path.join(tmp, 'w.safetensors'), m, { step: '3' });
  const back = readSafetensorsFile(path.join(tmp, 'w.safetensors'));
  t.deepEqual(back.metadata, { step: '3' });
  t.deepEqual(Array.from(back.tensors.get('w')!.data), Array.from(m.get('w')!.data));
  t.deepEqual(readFileSync(path.join(tmp, 'w.safetensors')), Buffer.from(writeSafetensors(m, { step: '3' })));
});

test('config.json errors name the key', (t) => {
  const ok = JSON.parse(readFileSync(path.join(FIXTURES, 'qwen3', 'config.json'), 'utf8')) as Record<string, unknown>;
  const c = parseModelConfig(ok);
  t.is(c.headDim, 16);
  t.true(c.qkNorm);
  t.is(c.ropeTheta, 10000);
  t.throws(() => parseModelConfig({ ...ok, model_type: 'gpt2' }), { message: /model_type must be one of/ });
  t.throws(() => parseModelConfig({ ...ok, num_key_value_heads: 3 }), { message: /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/ });
  t.throws(() => parseModelConfig({ ...ok, hidden_size: -1 }), { message: /hidden_size must be a positive integer/ });
  t.throws(() => parseModelConfig({ ...ok, rope_parameters: { rope_type: 'yarn', rope_theta: 1 } }), { message: /rope_scaling "yarn" is not supported/ });
  t.throws(() => loadModel(path.join(FIXTURES, 'nope')), { message: /no config\.json/ });
});

test('save -> load gives identical logits (full weights), and LoRA adapters round-trip in PEFT format', async (t) => {
  const model = loadModel(path.join(FIXTURES, 'llama'), { trainable: true });
  // change the weights so the test does not pass by reloading the fixture
  for (const v of model.trainableVariables().values()) v.assign(tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', 7), 0.01)));
  const before = await model.forward(exp.input_ids).logits.data();
  const dir = path.join(tmp, 'full');
  await saveModel(model, dir, { tokenizerFrom: path.join(FIXTURES, 'llama') });
  t.true(existsSync(path.join(dir, 'tokenizer.json')));
  const again = loadModel(dir);
  t.is(maxAbsDiff(await again.forward(exp.input_ids).logits.data(), before), 0);
  t.true(maxAbsDiff(before, exp.models.llama.logits.flat(2)) > 1e-3, 'weights really changed');

  const base = loadModel(path.join(FIXTURES, 'qwen3'));
  attachLora(base, { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'o_proj', 'gate_proj'] }, 1);
  for (const b of base.lora!.B.values()) b.assign(tf.randomNormal(b.shape, 0, 0.2, 'float32', 3));
  const adapted = await base.forward(exp.input_ids).logits.data();
  const plain = await base.forward(exp.input_ids, { adapters: false }).logits.data();
  t.true(maxAbsDiff(adapted, plain) > 1e-3);
  await saveAdapters(base, path.join(tmp, 'adapter'));
  const cfg = JSON.parse(readFileSync(path.join(tmp, 'adapter', 'adapter_config.json'), 'utf8'));
  t.like(cfg, { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj', 'o_proj', 'gate_proj'] });
  const fresh = loadModel(path.join(FIXTURES, 'qwen3'));
  loadAdapters(fresh, path.join(tmp, 'adapter'));
  t.is(maxAbsDiff(await fresh.forward(exp.input_ids).logits.data(), adapted), 0);
  await saveModel(base, path.join(tmp, 'merged'));
  const merged = loadModel(path.join(tmp, 'merged'));
  t.true(maxAbsDiff(await merged.forward(exp.input_ids).logits.data(), adapted) < 1e-5);
  t.throws(() => loraModules(base, ['q_proj', 'qkv']), { message: /training\.lora\.targetModules: unknown module "qkv"/ });
});

test('KV-cache generation equals recomputing the whole sequence at every step', (t) => {
  const model = loadModel(path.join(FIXTURES, 'qwen3'));
  const prompt = exp.input_ids[0].slice(0, 6);
  const cached = generate(model, prompt, { maxNewTokens: 8, temperature: 0, logprobs: true });
  const seq = [...prompt];
  const lps: number[] = [];
  for (let i = 0; i < 8; i++) {
    const row = tf.tidy(() => {
      const l = model.forward([seq]).logits;
      return tf.reshape(tf.slice(l, [0, seq.length - 1, 0], [1, 1, -1]), [-1]).dataSync() as Float32Array;
    });
    const next = sampleToken(row, { temperature: 0 }, new Rng(0));
    const m = Math.max(...row);
    lps.push(row[next] - m - Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0)));
    seq.push(next);
  }
  t.deepEqual(cached.tokens, seq.slice(prompt.length));
  t.true(maxAbsDiff(cached.logprobs, lps) < 1e-4);
  t.is(cached.finishReason, 'length');
  // seeded sampling is reproducible, and top-k 1 is greedy
  const s1 = generate(model, prompt, { maxNewTokens: 6, temperature: 0.7, topK: 20, topP: 0.8, seed: 4 });
  const s2 = generate(model, prompt, { maxNewTokens: 6, temperature: 0.7, topK: 20, topP: 0.8, seed: 4 });
  t.deepEqual(s1.tokens, s2.tokens);
  t.deepEqual(generate(model, prompt, { maxNewTokens: 8, temperature: 1, topK: 1, seed: 9 }).tokens, cached.tokens);
  // stop tokens end generation
  const stop = generate(model, prompt, { maxNewTokens: 8, temperature: 0, stopTokenIds: [cached.tokens[2]] });
  t.is(stop.finishReason, 'stop');
  t.true(stop.tokens.length <= 3);
});
