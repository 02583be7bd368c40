import path from 'node:path';
import { Registry } from 'prom-client';
import { parse } from '../operator/api/validate.ts';
import { Preference, Training } from '../operator/api/common.ts';
import { train } from '../operator/training/trainer.ts';
import { loadModel } from '../operator/training/model-io.ts';
import { loadChatTokenizer } from '../operator/training/chat.ts';
import { generate } from '../operator/training/generate.ts';
import { writeTinyModel } from '../test/helpers/tiny-model.ts';
import { TOOLS } from '../operator/rollout/tools/schemas.ts';
import type { TrajectoryRecord } from '../operator/api/records.ts';
import { syntheticTrajectories } from '../operator/training/synthetic.ts';

const dir = '/tmp/sft-proto';
const base = writeTinyModel(path.join(dir, 'base'), { seed: 1, hiddenSize: Number(process.argv[2] ?? 64) });
const traj = syntheticTrajectories({ tasks: 1, samplesPerTask: 1 })[0];
traj.tools = TOOLS as never;
traj.messages = [
  { role: 'system', content: 'You are a coding agent.' },
  { role: 'user', content: 'Say hi, then finish.' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'execute_bash', arguments: '{"command":"echo hi"}' } }] },
  { role: 'tool', tool_call_id: 'a', name: 'execute_bash', content: 'hi\n[exit code: 0]' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'b', type: 'function', function: { name: 'finish', arguments: '{}' } }] },
];
const t0 = Date.now();
const r = await train({
  modelDir: base, outputDir: path.join(dir, 'out-' + Date.now()), trajectories: [traj, traj, traj, traj] as TrajectoryRecord[],
  training: parse(Training, { method: 'Full', learningRate: Number(process.argv[3] ?? 1e-2), batchSize: 1, epochs: Number(process.argv[4] ?? 20), backend: 'wasm', warmupRatio: 0 }, 'training'),
  preference: parse(Preference, {}, 'preference'), objective: 'sft', registry: new Registry(), referenceMetricsEvery: 0,
});
console.log('steps', r.stepsDone, 'secs', (Date.now() - t0) / 1000, 'loss', r.history[0].loss, r.history.at(-1)!.loss, r.modelDir);
const m = loadModel(r.modelDir!);
const tok = loadChatTokenizer(r.modelDir!);
for (const k of [2, 4]) {
  const p = tok.encode(tok.render(traj.messages.slice(0, k), { tools: TOOLS, addGenerationPrompt: true }));
  const g = generate(m, p, { maxNewTokens: 60, temperature: 0, stopTokenIds: tok.eosTokenIds });
  console.log(p.length, JSON.stringify(tok.decode(g.tokens)));
}
