import test from 'ava';
import path from 'node:path';
import os from 'node:os';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { stepMemory } from '../../../operator/training/memory.ts';
import { parseModelConfig } from '../../../operator/training/model-config.ts';
import { Registry } from 'prom-client';
import { parse } from '../../../operator/api/validate.ts';
import { Preference, Training } from '../../../operator/api/common.ts';
import { buildItems, train, type TrainJob } from '../../../operator/training/trainer.ts';
import { buildDpoExamples, buildKtoExamples, buildSftExamples, trlJsonl } from '../../../operator/training/data.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import type { ChatMessage } from '../../../operator/api/records.ts';
import { syntheticTrajectories } from '../../../operator/training/synthetic.ts';
import { readSafetensors } from '../../../operator/training/safetensors.ts';
import { latestCheckpoint } from '../../../operator/training/checkpoint.ts';
import { FIXTURES, maxAbsDiff } from './helpers.ts';
import { presentBackends } from '../../helpers/backends.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-train-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
const model = path.join(FIXTURES, 'qwen3');
let n = 0;
const out = () => path.join(tmp, `run-${n++}`);

function job(over: { training?: Record<string, unknown>; preference?: Record<string, unknown> } & Partial<Omit<TrainJob, 'training' | 'preference'>>): TrainJob {
  const { training, preference, ...rest } = over;
  return {
    modelDir: model,
    outputDir: out(),
    trajectories: syntheticTrajectories({ tasks: 2, samplesPerTask: 2, tools: false }),
    training: parse(Training, { learningRate: 1e-2, batchSize: 2, epochs: 3, backend: 'Wasm', warmupRatio: 0, lora: { rank: 4 }, ...training }, 'training'),
    preference: parse(Preference, { ...preference }, 'preference'),
    registry: new Registry(),
    referenceMetricsEvery: 1,
    saveModel: false,
    ...rest,
  };
}

test('preference data: KTO labels finished trajectories by reward; DPO pairs resolved with unresolved of the same task', (t) => {
  const trajs = syntheticTrajectories({ tasks: 2, samplesPerTask: 4 });
  trajs[1].finished = false; // cut off: never data
  trajs[1].exitReason = 'max_steps';
  trajs[2].exitReason = 'sandbox_error'; // infrastructure: never data
  const kto = buildKtoExamples(trajs);
  t.is(kto.length, 6);
  t.deepEqual(kto.map((e) => e.example.label), kto.map((e) => trajs.find((x) => x.id === e.example.trajectoryId)!.resolved));
  t.is(kto[0].example.prompt.length, 2);
  t.is(kto[0].example.completion[0].role, 'assistant');
  const dpo = buildDpoExamples(trajs);
  // task-0: resolved {0} (2 is sandbox_error), unresolved {3} (1 cut off) -> 1 pair; task-1: 2 resolved x 2 unresolved -> 2 disjoint pairs
  t.deepEqual(dpo.map((e) => [e.example.chosenId, e.example.rejectedId]), [
    ['task-0/0/synthetic', 'task-0/3/synthetic'],
    ['task-1/0/synthetic', 'task-1/1/synthetic'],
    ['task-1/2/synthetic', 'task-1/3/synthetic'],
  ]);
  const rows = trlJsonl(dpo).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(Object.keys(rows[0]).sort(), ['chosen', 'prompt', 'rejected', 'tools']);
  const ktoRows = trlJsonl(kto).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(Object.keys(ktoRows[0]).sort(), ['completion', 'label', 'prompt', 'tools']);
});

test('no-sample records (sandbox_error, model_error) are never data in any objective, whatever finished says', (t) => {
  const trajs = syntheticTrajectories({ tasks: 1, samplesPerTask: 4, tools: false });
  trajs[0].exitReason = 'model_error'; // resolved sample 0, flagged finished by a buggy writer
  trajs[0].finished = true;
  trajs[3].exitReason = 'sandbox_error';
  t.deepEqual(buildKtoExamples(trajs).map((e) => e.example.trajectoryId), ['task-0/1/synthetic', 'task-0/2/synthetic']);
  t.deepEqual(buildDpoExamples(trajs).map((e) => [e.example.chosenId, e.example.rejectedId]), [['task-0/2/synthetic', 'task-0/1/synthetic']]);
  t.deepEqual(buildSftExamples(trajs).map((e) => e.trajectory.id), ['task-0/1/synthetic', 'task-0/2/synthetic']);
  const tok = loadChatTokenizer(model);
  for (const objective of ['sft', 'preference'] as const) {
    for (const algorithm of ['KTO', 'DPO'] as const) {
      const b = buildItems(job({ objective, trajectories: trajs, preference: { algorithm } }), tok);
      t.is(b.counts.noSample, 2, `${objective}/${algorithm}`);
      t.is(b.items.length, objective === 'preference' && algorithm === 'DPO' ? 1 : 2, `${objective}/${algorithm}`);
    }
  }
});

test('DPO: each trajectory is rendered with its own messages; pairs that share the prompt come first', (t) => {
  const trajs = syntheticTrajectories({ tasks: 1, samplesPerTask: 4, tools: false });
  // sample 1 (unresolved) got another work directory in its prompt; sample 3 (unresolved) shares sample 0's
  trajs[1].messages[1] = { role: 'user', content: 'Fix the bug in /tmp/xyz/utils.py.' };
  const dpo = buildDpoExamples(trajs);
  t.deepEqual(dpo.map((e) => [e.example.chosenId, e.example.rejectedId, e.samePrompt]), [
    ['task-0/0/synthetic', 'task-0/3/synthetic', true],
    ['task-0/2/synthetic', 'task-0/1/synthetic', false],
  ]);
  t.is(dpo[1].rejected.messages, trajs[1].messages, 'the rejected side keeps its own prompt');
  t.is(dpo[1].chosen.messages, trajs[2].messages);
  // TRL rows have one prompt per pair: the mismatched pair is left out of preference.jsonl
  t.is(trlJsonl(dpo).trim().split('\n').length, 1);
  const tok = loadChatTokenizer(model);
  const b = buildItems(job({ trajectories: trajs, preference: { algorithm: 'DPO' } }), tok);
  t.is(b.counts.promptMismatch, 1);
  const rejectedText = tok.decode(b.items[1].seqs[1].ids);
  t.true(rejectedText.includes('/tmp/xyz/utils.py'), 'rejected rendered after its own prompt');
  t.false(tok.decode(b.items[1].seqs[0].ids).includes('/tmp/xyz'));
});

test.serial('a trajectory the chat template cannot mask is dropped and counted; keep-end truncations are counted; the job runs', async (t) => {
  const trajs = syntheticTrajectories({ tasks: 2, samplesPerTask: 2, tools: false });
  trajs[1].messages[2] = { ...trajs[1].messages[2], content: 'UNMASKABLE' };
  const tok = loadChatTokenizer(model);
  // a template that renders this one record in a way no method can locate
  const odd = { ...tok, render: (m: ChatMessage[], o?: { tools?: unknown[]; addGenerationPrompt?: boolean }) => (m.some((x) => x.content === 'UNMASKABLE') ? `${m.length}` : tok.render(m, o)) };
  const b = buildItems(job({ trajectories: trajs }), odd);
  t.is(b.counts.unmaskable, 1);
  t.is(b.dropped, 1);
  t.is(b.items.length, 3);
  // keep-end: every sequence longer than the budget is cut and counted
  const long = buildItems(job({ trajectories: trajs, training: { maxSequenceLength: 64, truncation: 'KeepEnd' } }), tok);
  t.is(long.counts.truncated, 4);
  t.true(long.items.every((i) => i.seqs[0].ids.length === 64));
  const j = job({ trajectories: trajs, training: { maxSequenceLength: 64, epochs: 1 } });
  const r = await train(j);
  t.like(r.data, { truncated: 4, unmaskable: 0, noSample: 0 });
  t.like(JSON.parse(readFileSync(path.join(j.outputDir, 'summary.json'), 'utf8')).data, { truncated: 4 });
});

for (const algorithm of ['DPO', 'KTO'] as const) {
  test.serial(`a short ${algorithm.toUpperCase()} run lowers the loss and widens the chosen-vs-rejected margin`, async (t) => {
    const registry = new Registry();
    const j = job({ preference: { algorithm }, registry, runName: `short-${algorithm}`, saveModel: true, training: { epochs: algorithm === 'DPO' ? 6 : 3 } });
    const r = await train(j);
    const h = r.history;
    t.is(h.length, r.totalSteps);
    t.true(h[h.length - 1].loss < h[0].loss * 0.5, `loss ${h[0].loss} -> ${h[h.length - 1].loss}`);
    t.true(h[h.length - 1].margin! > h[0].margin! + 1, `margin ${h[0].margin} -> ${h[h.length - 1].margin}`);
    if (algorithm === 'KTO') t.true(h.every((x) => typeof x.z0 === 'number'));
    // metrics: JSONL per step, Prometheus gauges, backend info
    const lines = readFileSync(path.join(j.outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    t.is(lines.length, h.length);
    t.like(lines[0], { step: 1 });
    for (const k of ['loss', 'margin', 'entropy', 'kl', 'gradNorm', 'tokensPerSecond', 'learningRate']) t.is(typeof lines[0][k], 'number', k);
    const prom = await registry.metrics();
    t.regex(prom, /entropo_training_backend_info\{backend="wasm"\} 1/);
    t.regex(prom, new RegExp(`entropo_training_loss\\{run="short-${algorithm}"\\} [0-9.e-]+`));
    t.regex(prom, /entropo_training_tokens_per_second\{run="short-/);
    t.regex(prom, /entropo_training_step\{run="short-\w+"\} \d+/);
    // outputs: TRL preference data, summary, a loadable model with PEFT adapters
    t.true(readFileSync(path.join(j.outputDir, 'preference.jsonl'), 'utf8').length > 0);
    t.like(JSON.parse(readFileSync(path.join(j.outputDir, 'summary.json'), 'utf8')), { backend: 'wasm', halted: false });
    t.truthy(readSafetensors(readFileSync(path.join(r.modelDir!, 'adapter', 'adapter_model.safetensors'))).tensors.size);
  });
}

test.serial('KTO exact z0 is the batch mean under gradient accumulation: accumulating equals one big batch', async (t) => {
  // batch 3 in micro-batches of 2 and 1: a per-micro-batch z0 (mean of means) would differ
  const settings = { trajectories: syntheticTrajectories({ tasks: 3, samplesPerTask: 2, tools: false }), preference: { algorithm: 'KTO' }, referenceMetricsEvery: 0 };
  const one = await train(job({ ...settings, training: { batchSize: 3, epochs: 1 } }));
  const acc = await train(job({ ...settings, training: { batchSize: 3, gradientAccumulationSteps: 2, epochs: 1 } }));
  t.is(acc.history.length, 2);
  for (const [i, h] of acc.history.entries()) {
    t.true(Math.abs(h.z0! - one.history[i].z0!) < 1e-4 * Math.max(1, Math.abs(h.z0!)), `step ${i + 1} z0 ${h.z0} vs ${one.history[i].z0}`);
    t.true(Math.abs(h.loss - one.history[i].loss) < 1e-5, `step ${i + 1} loss ${h.loss} vs ${one.history[i].loss}`);
    t.true(Math.abs(h.gradNorm - one.history[i].gradNorm) < 1e-4 * Math.max(1, h.gradNorm), `step ${i + 1} grad norm`);
  }
});

for (const backend of presentBackends()) test.serial(`${backend}: resume from a checkpoint equals the uninterrupted run (optimizer state, data order, z0 cache, dropout)`, async (t) => {
  const settings = {
    training: { backend, epochs: 2, batchSize: 4, gradientAccumulationSteps: 2, lora: { rank: 4, dropout: 0.1 }, warmupRatio: 0.25 },
    preference: { algorithm: 'KTO', kto: { referencePointEvery: 2 } },
    trajectories: syntheticTrajectories({ tasks: 3, samplesPerTask: 2, tools: false }),
  };
  const whole = job({ ...settings });
  const a = await train(whole);
  const resumedJob = job({ ...settings, haltAfterStep: 2 });
  const first = await train(resumedJob);
  t.true(first.halted);
  t.is(first.stepsDone, 2);
  const b = await train({ ...resumedJob, haltAfterStep: undefined, registry: new Registry() });
  t.is(b.resumedFrom, 2);
  t.is(b.stepsDone, a.stepsDone);
  const wa = readSafetensors(readFileSync(path.join(latestCheckpoint(whole.outputDir)!, 'trainable.safetensors'))).tensors;
  const wb = readSafetensors(readFileSync(path.join(latestCheckpoint(resumedJob.outputDir)!, 'trainable.safetensors'))).tensors;
  t.is(wa.size, wb.size);
  let d = 0;
  for (const [k, v] of wa) d = Math.max(d, maxAbsDiff(v.data, wb.get(k)!.data));
  t.is(d, 0, 'identical trainable weights');
  const strip = (h: { stepSeconds: number; tokensPerSecond: number }[]) => h.map(({ stepSeconds: _s, tokensPerSecond: _t, ...rest }) => rest);
  t.deepEqual(strip(b.history), strip(a.history.slice(2)));
  const lines = readFileSync(path.join(resumedJob.outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  t.deepEqual(lines.map((l) => JSON.parse(l).step), [1, 2, 3, 4]);
  // another configuration cannot silently continue this run
  await t.throwsAsync(train({ ...resumedJob, training: { ...resumedJob.training, learningRate: 0.5 }, registry: new Registry() }), { message: /checkpoint was made with other settings/ });
});

test.serial('EntroPO-DPO (zeta/gamma >= 1.1) ends with a higher token entropy than M-DPO on the same data, steps and seed', async (t) => {
  // The reference prefers trajectory A (SFT on A three times out of four); the preference data
  // carries no preference ((A > B) and (B > A) on every task). M-DPO's optimum is then the
  // reference itself (its gradient cancels), EntroPO's is the tempered reference
  // pi_ref^(gamma/zeta) (METHOD.md section 2): flatter, i.e. higher entropy. M-DPO still drifts
  // a little (Adam rescales its round-off-sized gradient), so each comparison is paired on a
  // seed and repeated over seeds.
  const sftOut = out();
  await train(
    job({
      objective: 'sft',
      outputDir: sftOut,
      saveModel: true,
      trajectories: syntheticTrajectories({ tasks: 2, samplesPerTask: 4, tools: false, good: (_t, s) => s !== 3 }),
      training: { method: 'Full', batchSize: 8, epochs: 12, scheduler: 'Constant' },
      referenceMetricsEvery: 0,
    }),
  );
  const pref = syntheticTrajectories({ tasks: 2, samplesPerTask: 4, tools: false, resolved: (_t, s) => s % 2 === 0, good: (_t, s) => s === 0 || s === 3 });
  const finalEntropy = async (zeta: number, seed: number) => {
    const r = await train(
      job({
        modelDir: path.join(sftOut, 'model'),
        trajectories: pref,
        training: { learningRate: 3e-3, batchSize: 4, epochs: 15, scheduler: 'Constant', seed },
        preference: { algorithm: 'DPO', zeta, gamma: 0.1 },
        referenceMetricsEvery: 0,
      }),
    );
    return { start: r.history[0].entropy, end: r.history[r.history.length - 1].entropy, grad0: r.history[0].gradNorm };
  };
  const diffs: number[] = [];
  for (const seed of [0, 1, 2]) {
    const m = await finalEntropy(0.1, seed);
    const e = await finalEntropy(0.15, seed);
    t.is(e.start, m.start, 'same start');
    t.true(m.grad0 < 1e-4, `M-DPO gradient cancels (${m.grad0})`);
    t.true(e.grad0 > 0.1, `EntroPO-DPO gradient ${e.grad0}`);
    t.log(`seed ${seed}: start ${m.start.toFixed(4)}, M-DPO ${m.end.toFixed(4)}, EntroPO-DPO (zeta/gamma 1.5) ${e.end.toFixed(4)}`);
    diffs.push(e.end - m.end);
    if (seed === 0) {
      const e11 = await finalEntropy(0.11, seed);
      t.log(`seed 0: EntroPO-DPO (zeta/gamma 1.1) ${e11.end.toFixed(4)}`);
      t.true(e11.end > m.end + 0.01, `zeta/gamma 1.1: ${e11.end} vs M-DPO ${m.end}`);
      t.true(e.end > e11.end, 'entropy grows with zeta/gamma');
    }
  }
  t.true(Math.min(...diffs) > 0.01, `every seed: EntroPO - M-DPO = ${diffs.map((d) => d.toFixed(4)).join(', ')}`);
  t.true(diffs.reduce((a, b) => a + b) / diffs.length > 0.03);
});

test.serial('KTO reference-point variants and full fine-tuning run end to end', async (t) => {
  for (const referencePoint of ['AuthorsKL', 'TRLKL'] as const) {
    const r = await train(job({ preference: { algorithm: 'KTO', kto: { referencePoint } }, training: { epochs: 1 } }));
    t.true(r.history.every((h) => h.z0! >= 0), `${referencePoint} z0 is clamped at 0`);
  }
  const full = await train(job({ preference: { algorithm: 'DPO' }, training: { method: 'Full', epochs: 2, learningRate: 1e-3 } }));
  t.true(full.history[full.history.length - 1].loss < full.history[0].loss);
  t.true(full.history[0].kl! < 1e-6, 'policy starts at the reference');
  t.true(full.history[full.history.length - 1].kl! > 0);
});

test.serial('gradientCheckpointing trains the same steps as keeping every activation', async (t) => {
  const settings = { trajectories: syntheticTrajectories({ tasks: 2, samplesPerTask: 2, tools: false }), preference: { algorithm: 'KTO' }, training: { epochs: 1, lora: { rank: 4, dropout: 0.1 } } };
  const a = await train(job(settings));
  const b = await train(job({ ...settings, gradientCheckpointing: true }));
  t.is(b.history.length, a.history.length);
  for (const [i, h] of b.history.entries()) {
    t.true(Math.abs(h.loss - a.history[i].loss) < 1e-5, `step ${i + 1} loss ${h.loss} vs ${a.history[i].loss}`);
    t.true(Math.abs(h.gradNorm - a.history[i].gradNorm) < 1e-4 * Math.max(1, h.gradNorm), `step ${i + 1} grad norm ${h.gradNorm} vs ${a.history[i].gradNorm}`);
  }
});

test.serial('a sequence that cannot fit fails before training, naming maxSequenceLength and the memory it would need', async (t) => {
  const trajectories = syntheticTrajectories({ tasks: 1, samplesPerTask: 2, turns: 12, tools: false });
  const j = job({ trajectories, objective: 'sft', training: { maxSequenceLength: 1024, batchSize: 2 }, memoryLimitBytes: 8 * 1024 * 1024 });
  const e = await t.throwsAsync(train(j), { message: /^training\.maxSequenceLength 1024: a micro-batch of 2 sequence\(s\) of \d+ tokens needs about [0-9.]+ GiB \(activations [0-9.]+ GiB.*more than the wasm backend can address \(0\.01 GiB\)/ });
  t.log(e?.message);
  t.false(existsSync(path.join(j.outputDir, 'metrics.jsonl')), 'no step ran');
  // estimates grow linearly with the tokens (chunked log-softmax and attention: no T x T or T x V term)
  const cfg = parseModelConfig({ model_type: 'qwen3', vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, tie_word_embeddings: true });
  const m = (tokens: number) => stepMemory(cfg, 1, tokens, { full: false, separateReference: false });
  t.is(m(18432).activations, 2 * m(9216).activations);
  t.is(m(18432).buffers, m(1024).buffers);
});

test.serial('bad jobs fail with the field named', async (t) => {
  await t.throwsAsync(train(job({ training: { batchSize: 2, gradientAccumulationSteps: 4 } })), { message: /training\.gradientAccumulationSteps \(4\) must be <= training\.batchSize/ });
  await t.throwsAsync(train(job({ training: { batchSize: 1 }, preference: { algorithm: 'KTO', kto: { referencePoint: 'TRLKL' } } })), {
    message: /training\.batchSize must be >= 2 for preference\.kto\.referencePoint TRLKL/,
  });
  const unfinished = syntheticTrajectories({ tasks: 1, samplesPerTask: 2, tools: false }).map((x) => ({ ...x, finished: false }));
  await t.throwsAsync(train(job({ trajectories: unfinished })), { message: /trajectories: no training examples \(2 trajectories, 0 finished/ });
  // DPO on tasks whose samples all resolved (or all failed): every drop counter is 0; the message names the missing pairs.
  const synth = syntheticTrajectories({ tasks: 3, samplesPerTask: 2, tools: false });
  const oneSided = synth.map((x) => ({ ...x, finished: true, resolved: x.taskId !== synth[0].taskId }));
  await t.throwsAsync(train(job({ trajectories: oneSided, preference: { algorithm: 'DPO' } })), {
    message: /no training examples \(6 trajectories, 6 finished; 0 no sample, .*; 3 of 3 tasks with no resolved\/unresolved pair of finished trajectories: DPO needs both per task/,
  });
  await t.throwsAsync(train(job({ training: { lora: { targetModules: ['qkv'] } } })), { message: /training\.lora\.targetModules: unknown module "qkv"/ });
});
