/**
 * A tiny model taught (SFT, on the real trainer) one agent conversation: call execute_bash with
 * `echo hi`, then call finish. Greedy decoding of it reproduces the calls, so a test can run the
 * real agent loop against the real policy server on a real model.
 */
import path from 'node:path';
import { Registry } from 'prom-client';
import { parse } from '../../operator/api/validate.ts';
import { Preference, Training } from '../../operator/api/common.ts';
import type { ChatMessage, TrajectoryRecord } from '../../operator/api/records.ts';
import { TOOLS } from '../../operator/rollout/tools/schemas.ts';
import { syntheticTrajectories } from '../../operator/training/synthetic.ts';
import { train } from '../../operator/training/trainer.ts';
import { writeTinyModel } from './tiny-model.ts';

export const AGENT_SYSTEM = 'You are a coding agent.';
export const AGENT_USER = 'Say hi, then finish.';

/** The conversation the model learns; `observation` is what execute_bash returns for `echo hi`. */
export function agentConversation(observation: string): ChatMessage[] {
  return [
    { role: 'system', content: AGENT_SYSTEM },
    { role: 'user', content: AGENT_USER },
    { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'execute_bash', arguments: '{"command":"echo hi"}' } }] },
    { role: 'tool', tool_call_id: 'a', name: 'execute_bash', content: observation },
    { role: 'assistant', content: null, tool_calls: [{ id: 'b', type: 'function', function: { name: 'finish', arguments: '{}' } }] },
  ];
}

/**
 * Trains the model under dir (base/, then out/model/: merged weights, and out/model/adapter/ for
 * LoRA) and returns the directories. Full fine-tuning memorises the conversation in ~30 steps.
 */
export async function trainAgentModel(dir: string, observation: string, o: { method?: 'Full' | 'LoRA'; epochs?: number; learningRate?: number } = {}): Promise<{ base: string; model: string }> {
  const base = writeTinyModel(path.join(dir, 'base'), { seed: 1, hiddenSize: 32 });
  const traj = syntheticTrajectories({ tasks: 1, samplesPerTask: 1 })[0];
  traj.tools = TOOLS as unknown as TrajectoryRecord['tools'];
  traj.messages = agentConversation(observation);
  const r = await train({
    modelDir: base,
    outputDir: path.join(dir, 'out'),
    trajectories: [traj, traj, traj, traj],
    training: parse(Training, { method: o.method ?? 'Full', learningRate: o.learningRate ?? 3e-2, batchSize: 1, epochs: o.epochs ?? 8, backend: 'Wasm', warmupRatio: 0, lora: { rank: 4 } }, 'training'),
    preference: parse(Preference, {}, 'preference'),
    objective: 'sft',
    registry: new Registry(),
    referenceMetricsEvery: 0,
  });
  return { base, model: r.modelDir! };
}
