/**
 * The shipped built-in policy (operator/policy/builtin/tiny-coder, made by `entropo policy
 * build`): it loads, its tokenizer round-trips code, it is small, and rolled out through
 * `entropo serve`'s server with the real agent loop, sandbox and grader at temperature 0.7 /
 * top-p 0.8 over a fixed seed, its resolve rate on its train tasks lies strictly between 0 and 1.
 */
import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { resolveBuiltinModel } from '../../../operator/policy/builtin.ts';
import { measurePolicy } from '../../../operator/policy/measure.ts';
import { loadBuiltinSuite } from '../../../operator/tasks/suite.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { loadModel } from '../../../operator/training/model-io.ts';
import { selectBackend } from '../../../operator/training/backend.ts';

const dir = resolveBuiltinModel('builtin:tiny-coder');
const build = JSON.parse(readFileSync(path.join(dir, 'BUILD.json'), 'utf8')) as { tasks: string[]; seed: number; model: { parameters: number } };

test('the checkpoint loads: a 2-layer, 128-wide Llama with a 1024-token vocabulary, about 1 MB', async (t) => {
  await selectBackend('Wasm');
  const model = loadModel(dir);
  t.is(model.config.modelType, 'llama');
  t.is(model.config.numLayers, 2);
  t.is(model.config.hiddenSize, 128);
  t.is(model.config.vocabSize, 1024);
  t.is(build.model.parameters, [...model.params.values()].reduce((a, p) => a + p.size, 0));
  const bytes = statSync(path.join(dir, 'model.safetensors')).size;
  t.true(bytes > 0.5e6 && bytes < 2e6, `${bytes} bytes`);
  model.dispose();
});

test('its tokenizer round-trips code, the suite\'s sources and text it never saw', async (t) => {
  const tok = loadChatTokenizer(dir);
  const samples = [
    'if (a[r][col] != 0) { x = f(a , b) ? c : d; }',
    "print(f'{x!r} , {y}') ; z = a ?? b  # don 't",
    'zebra ∑ 🙂 \t tabs\r\n',
  ];
  for (const tasks of [await loadBuiltinSuite({ split: 'all' })]) for (const task of tasks.slice(0, 10)) samples.push(...Object.values(task.files).slice(0, 2), task.problem_statement);
  for (const s of samples) t.is(tok.decode(tok.encode(s)), s);
  t.true(tok.encode(samples[0]).every((id) => id < 1024));
  t.deepEqual(tok.eosTokenIds, [tok.tokenId('<|im_end|>')]);
});

test('resolve rate through the real agent loop, sandbox and grader is strictly between 0 and 1 (seed 1, temperature 0.7, top-p 0.8)', async (t) => {
  t.timeout(15 * 60_000);
  const tasks = (await loadBuiltinSuite({ split: 'train' })).filter((x) => build.tasks.includes(x.instance_id)).slice(0, 4);
  t.is(tasks.length, Math.min(4, build.tasks.length));
  const r = await measurePolicy({ modelDir: dir, tasks, samplesPerTask: 4, seed: 1, parallelism: 4 });
  const rows = r.tasks.map((x) => `${x.taskId} ${x.resolved}/${x.samples}`).join(', ');
  t.log(`resolve ${r.resolveRate.toFixed(3)}, completion ${r.completionRate.toFixed(3)}, valid tool calls ${r.validToolCallRate.toFixed(3)}: ${rows}`);
  t.true(r.resolveRate > 0 && r.resolveRate < 1, rows);
  t.true(r.passAtN > r.resolveRate, `pass@4 ${r.passAtN} > pass@1 ${r.resolveRate}: ${rows}`);
  t.true(r.validToolCallRate > 0.5, `valid tool-call rate ${r.validToolCallRate}`);
  t.true(r.completionRate > 0.25, `completion rate ${r.completionRate}`);
  t.is(r.tasks.reduce((a, x) => a + x.lost, 0), 0, 'no rollout lost to infrastructure');
  for (const traj of r.trajectories) t.is(traj.messages[0].role, 'system');
});

test('builtin:tiny-verifier loads, shares the policy\'s tokenizer, records its held-out AUC and scores in [0, 1]', async (t) => {
  const { Verifier } = await import('../../../operator/selection/verifier.ts');
  const vdir = resolveBuiltinModel('builtin:tiny-verifier');
  t.is(readFileSync(path.join(vdir, 'tokenizer.json'), 'utf8'), readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const vbuild = JSON.parse(readFileSync(path.join(vdir, 'BUILD.json'), 'utf8')) as { heldOut?: { auc: number; count: number } };
  t.true(vbuild.heldOut !== undefined && vbuild.heldOut.count > 0 && vbuild.heldOut.auc >= 0 && vbuild.heldOut.auc <= 1);
  const v = await Verifier.load(vdir, { backend: 'Wasm' });
  const messages = [
    { role: 'system' as const, content: 'You are a programming agent.' },
    { role: 'user' as const, content: 'Fix the bug.' },
    { role: 'assistant' as const, content: null, tool_calls: [{ id: 'c', type: 'function' as const, function: { name: 'finish', arguments: '{}' } }] },
  ];
  const score = v.scoreOne({ messages, patch: '' });
  v.dispose();
  t.true(score >= 0 && score <= 1, String(score));
});
