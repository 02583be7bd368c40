/**
 * The policy server under the real agent loop: a tiny model trained (real trainer) to call
 * execute_bash then finish, served by `startPolicyServer`, driven by runAgent with the official
 * openai client and a real sandbox. The tool calls come back as native tool_calls, run in the
 * sandbox, and the tool results go back through the chat template into the next turn.
 */
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import OpenAI from 'openai';
import { runAgent } from '../../../operator/rollout/agent/loop.ts';
import { Sandbox } from '../../../operator/rollout/sandbox/sandbox.ts';
import { Toolbox } from '../../../operator/rollout/tools/toolbox.ts';
import { startPolicyServer } from '../../../operator/serving/server.ts';
import { resolveModel } from '../../../operator/serving/source.ts';
import type { SelfContainedTask } from '../../../operator/api/records.ts';
import { AGENT_SYSTEM, AGENT_USER, agentConversation, trainAgentModel } from '../../helpers/memorized-agent.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-serve-agent-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const task: SelfContainedTask = {
  instance_id: 'hi',
  repo: 'hi',
  problem_statement: AGENT_USER,
  language: 'javascript',
  files: { 'README.md': 'hi\n' },
  patch: '',
  test_patch: '',
  test_command: 'true',
  test_framework: 'node',
  FAIL_TO_PASS: [],
  PASS_TO_PASS: [],
};

async function withToolbox<T>(fn: (toolbox: Toolbox) => Promise<T>): Promise<T> {
  const sandbox = await Sandbox.create(task);
  try {
    return await fn(new Toolbox(sandbox, { toolTimeoutSeconds: 20 }));
  } finally {
    await sandbox.dispose();
  }
}

test('tool calls round-trip through the agent loop: native tool_calls out, tool results rendered back in; a LoRA adapter on its base serves like its merged model', async (t) => {
  const observation = await withToolbox(async (tb) => (await tb.call('execute_bash', '{"command":"echo hi"}')).content);
  t.regex(observation, /^hi\n/);
  const { base, model } = await trainAgentModel(path.join(tmp, 'full'), observation);

  const server = await startPolicyServer({ modelDir: model, servedModelName: 'agent', host: '127.0.0.1', port: 0, backend: 'wasm' });
  t.teardown(() => server.close());
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0 });
  const result = await withToolbox((toolbox) =>
    runAgent({
      client,
      model: 'agent',
      sampling: { temperature: 0, top_p: 1, top_k: 0, max_tokens: 200 },
      limits: { maxSteps: 5, maxTokens: 1000, toolTimeoutSeconds: 20, toolCallFormat: 'Native' },
      toolbox,
      systemPrompt: AGENT_SYSTEM,
      userPrompt: AGENT_USER,
      deadline: Date.now() + 120_000,
    }),
  );
  t.is(result.exitReason, 'finished', result.error);
  t.is(result.steps, 2);
  const [, , first, tool, second] = result.messages;
  t.is(first.role, 'assistant');
  t.is(first.content, null);
  t.is(first.tool_calls!.length, 1);
  t.regex(first.tool_calls![0].id, /^call_[0-9a-f]{24}$/);
  t.deepEqual({ name: first.tool_calls![0].function.name, args: JSON.parse(first.tool_calls![0].function.arguments) }, { name: 'execute_bash', args: { command: 'echo hi' } });
  t.like(tool, { role: 'tool', tool_call_id: first.tool_calls![0].id, content: observation });
  t.is(second.tool_calls![0].function.name, 'finish');
  // The trajectory is the learned conversation (ids aside), then finish's result.
  const strip = (ms: typeof result.messages) => ms.map((m) => ({ role: m.role, content: m.content, calls: m.tool_calls?.map((c) => [c.function.name, c.function.arguments]) }));
  t.deepEqual(strip(result.messages.slice(0, 5)), strip(agentConversation(observation)));
  t.like(result.messages[5], { role: 'tool', content: 'Submitted.' });
  t.is(result.usage.completionTokens > 20, true);

  // LoRA: the adapter alone (its base named in adapter_config.json) gives the merged model's tokens.
  const lora = await trainAgentModel(path.join(tmp, 'lora'), observation, { method: 'LoRA', epochs: 2, learningRate: 5e-2 });
  const adapterSource = `file://${path.join(lora.model, 'adapter')}`;
  const resolved = await resolveModel(adapterSource);
  t.deepEqual(resolved, { modelDir: lora.base, adapterDir: path.join(lora.model, 'adapter') });
  const prompt = { messages: agentConversation(observation).slice(0, 2), tools: toolsOf(), temperature: 0, max_tokens: 40, ignore_eos: true, logprobs: true };
  const answers: string[] = [];
  for (const [name, opts] of [
    ['adapter', resolved],
    ['merged', { modelDir: lora.model }],
    ['base', { modelDir: base }],
  ] as const) {
    const s = await startPolicyServer({ ...opts, servedModelName: name, host: '127.0.0.1', port: 0, backend: 'wasm' });
    try {
      const c = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0 });
      const r = await c.chat.completions.create({ model: name, ...prompt } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
      t.is(s.info.adapter, name === 'adapter');
      answers.push(r.choices[0].logprobs!.content!.map((x) => x.token).join('|'));
    } finally {
      await s.close();
    }
  }
  t.is(answers[0], answers[1], 'adapter on base = merged weights');
  t.not(answers[0], answers[2], 'the adapter changes the output of the base');
});

function toolsOf() {
  return [
    { type: 'function', function: { name: 'execute_bash', parameters: { type: 'object', properties: {} } } },
    { type: 'function', function: { name: 'finish', parameters: { type: 'object', properties: {} } } },
  ];
}
