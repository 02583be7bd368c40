/**
 * The agent loop over any OpenAI-compatible chat completions endpoint (the official openai
 * client): a turn of the model, then its tool calls run in the sandbox, until the agent calls
 * finish (or stops calling tools) or a limit ends the rollout (steps, tokens, wall time).
 *
 * Native format: the API's tool calls. Text format: calls written in the message text
 * (text-format.ts). Sampling parameters go with every turn; top_k as an extra body parameter,
 * as vLLM and SGLang accept it.
 */
import OpenAI from 'openai';
import type { ChatMessage, ExitReason, SamplingParams, StepTiming, ToolCall } from '../../api/records.ts';
import type { RolloutLimits } from '../../api/common.ts';
import type { Logger } from '../../logging/logger.ts';
import { SandboxError } from '../sandbox/sandbox.ts';
import type { Toolbox } from '../tools/toolbox.ts';
import { parseTextToolCalls, toolResponses, toolsPrompt } from './text-format.ts';
import { isStarting, SERVER_START_WAIT_SECONDS, waitUntilServing } from '../endpoint-wait.ts';

export interface AgentOptions {
  client: OpenAI;
  model: string;
  sampling: SamplingParams;
  limits: Pick<RolloutLimits, 'maxSteps' | 'maxTokens' | 'toolTimeoutSeconds' | 'toolCallFormat'>;
  toolbox: Toolbox;
  systemPrompt: string;
  userPrompt: string;
  /** Wall-clock deadline of the rollout (ms since the epoch). */
  deadline: number;
  log?: Logger;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface AgentResult {
  messages: ChatMessage[];
  exitReason: ExitReason;
  finished: boolean;
  steps: number;
  /** Summed over turns (what the endpoint billed). */
  usage: Usage;
  /** Prompt + completion tokens of the last turn: the length of the conversation. */
  contextTokens: number;
  timings: StepTiming[];
  error?: string;
}

/** The message after a turn that hit the per-turn token limit without a tool call. */
export const CUT_OFF_NUDGE = 'Your last message was cut off at the token limit of a turn. Continue the task with shorter steps, and use the tools; call finish when you are done.';

/** Turns need room for at least this many completion tokens. */
const MIN_TURN_TOKENS = 16;

/** The request body of one turn. Pure. */
export function turnRequest(
  o: Pick<AgentOptions, 'model' | 'sampling' | 'limits' | 'toolbox'>,
  messages: ChatMessage[],
  maxTokens: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: o.model,
    messages,
    temperature: o.sampling.temperature,
    top_p: o.sampling.top_p,
    max_tokens: maxTokens,
  };
  if (o.sampling.top_k > 0) body.top_k = o.sampling.top_k;
  if (o.sampling.seed !== undefined) body.seed = o.sampling.seed;
  if (o.limits.toolCallFormat === 'Native') {
    body.tools = o.toolbox.tools;
    body.tool_choice = 'auto';
  }
  return body;
}

/**
 * Why a native-format reply has `<tool_call>` in its text and no tool calls (undefined when it
 * has none), with the log level to report it at. A well-formed block left in the text means the
 * endpoint parses no tool calls (a vLLM started without a tool parser): a warning saying how to
 * turn it on. A malformed block (bad JSON, no name) is the model's own mistake, which any endpoint,
 * our policy server included, leaves in the text: info, and the endpoint is not blamed.
 */
export function unparsedToolCallHint(content: string): { level: 'warn' | 'info'; message: string } | undefined {
  if (!content.includes('<tool_call>')) return undefined;
  const calls = parseTextToolCalls(content);
  if (calls.some((c) => c.ok)) {
    return {
      level: 'warn',
      message: 'the model wrote <tool_call> in its text but the native tool-call format is configured: the endpoint parses no tool calls (vLLM: --enable-auto-tool-choice --tool-call-parser hermes), or set toolCallFormat: Text',
    };
  }
  const bad = calls.find((c) => !c.ok);
  return { level: 'info', message: `the model wrote a malformed tool call, which ends its turn without a call${bad && !bad.ok ? `: ${bad.error}` : ''}` };
}

const isContextLengthError = (e: unknown): boolean =>
  e instanceof OpenAI.APIError && e.status === 400 && /context length|maximum context|context window|too many tokens|prompt is too long/i.test(e.message);

/** Rough token count where the endpoint reports no usage (4 characters a token). */
const estimateTokens = (s: string): number => Math.ceil(s.length / 4);

export async function runAgent(o: AgentOptions): Promise<AgentResult> {
  const text = o.limits.toolCallFormat === 'Text';
  const messages: ChatMessage[] = [
    { role: 'system', content: text ? `${o.systemPrompt}\n\n${toolsPrompt(o.toolbox.tools)}` : o.systemPrompt },
    { role: 'user', content: o.userPrompt },
  ];
  const usage: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
  const timings: StepTiming[] = [];
  let contextTokens = 0;
  let steps = 0;
  let waitedForServer = false;
  const end = (exitReason: ExitReason, error?: string): AgentResult => ({
    messages,
    exitReason,
    finished: exitReason === 'finished',
    steps,
    usage,
    contextTokens,
    timings,
    ...(error ? { error } : {}),
  });

  for (;;) {
    if (steps >= o.limits.maxSteps) return end('max_steps');
    const remainingMs = o.deadline - Date.now();
    if (remainingMs <= 0) return end('timeout');
    const room = o.limits.maxTokens - contextTokens;
    if (room < MIN_TURN_TOKENS) return end('max_tokens');
    const maxTokens = Math.min(o.sampling.max_tokens ?? room, room);

    // ---- the model's turn
    const t0 = process.hrtime.bigint();
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      const body = turnRequest(o, messages, maxTokens) as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
      completion = await o.client.chat.completions.create(body, { signal: AbortSignal.timeout(remainingMs) });
    } catch (e) {
      if (Date.now() >= o.deadline) return end('timeout');
      if (isContextLengthError(e)) return end('context_length', (e as Error).message);
      // A server on its way up (refused connection, 503 while its model loads): wait for it once
      // per rollout, within the rollout's time, and send the turn again.
      if (isStarting(e) && !waitedForServer) {
        waitedForServer = true;
        const w = await waitUntilServing(o.client, { until: Math.min(o.deadline, Date.now() + SERVER_START_WAIT_SECONDS * 1000), log: o.log });
        if (w.answered) continue;
      }
      o.log?.warn('model request failed', { error: (e as Error).message });
      return end('model_error', `model request failed: ${(e as Error).message}`);
    }
    const modelSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    steps++;
    const choice = completion.choices?.[0];
    if (!choice?.message) return end('model_error', 'the endpoint returned no choices');
    const reply = choice.message;
    const content = reply.content ?? null;
    if (completion.usage) {
      usage.promptTokens += completion.usage.prompt_tokens ?? 0;
      usage.completionTokens += completion.usage.completion_tokens ?? 0;
      usage.totalTokens += completion.usage.total_tokens ?? (completion.usage.prompt_tokens ?? 0) + (completion.usage.completion_tokens ?? 0);
      contextTokens = completion.usage.total_tokens ?? (completion.usage.prompt_tokens ?? 0) + (completion.usage.completion_tokens ?? 0);
    } else {
      const p = estimateTokens(JSON.stringify(messages));
      const c = estimateTokens(JSON.stringify(reply));
      usage.promptTokens += p;
      usage.completionTokens += c;
      usage.totalTokens += p + c;
      contextTokens = p + c;
    }

    // ---- its tool calls
    const calls: { id: string; name: string; arguments: string; parseError?: string }[] = [];
    const assistant: ChatMessage = { role: 'assistant', content };
    if (text) {
      parseTextToolCalls(content ?? '').forEach((c, i) =>
        calls.push(c.ok ? { id: `text-${steps}-${i}`, name: c.name, arguments: c.arguments } : { id: `text-${steps}-${i}`, name: '', arguments: c.raw, parseError: c.error }),
      );
    } else {
      const toolCalls: ToolCall[] = [];
      (reply.tool_calls ?? []).forEach((tc, i) => {
        if (tc.type !== 'function') return;
        const id = tc.id || `call_${steps}_${i}`;
        toolCalls.push({ id, type: 'function', function: { name: tc.function.name, arguments: tc.function.arguments ?? '' } });
        calls.push({ id, name: tc.function.name, arguments: tc.function.arguments ?? '' });
      });
      if (toolCalls.length) assistant.tool_calls = toolCalls;
    }
    messages.push(assistant);

    if (calls.length === 0) {
      timings.push({ step: steps, modelSeconds, toolSeconds: 0 });
      // A turn cut off by the per-turn token limit did not choose to stop: say so and go on.
      if (choice.finish_reason === 'length') {
        messages.push({ role: 'user', content: CUT_OFF_NUDGE });
        continue;
      }
      // No tool call: the agent stopped on its own.
      const hint = text ? undefined : unparsedToolCallHint(content ?? '');
      if (hint?.level === 'warn') o.log?.warn(hint.message);
      else if (hint) o.log?.info(hint.message);
      return end('finished');
    }

    let toolSeconds = 0;
    let finished = false;
    const responses: string[] = [];
    for (const call of calls) {
      if (finished) break;
      const left = (o.deadline - Date.now()) / 1000;
      if (left <= 0) {
        timings.push({ step: steps, modelSeconds, toolSeconds, tool: calls.map((c) => c.name).join(',') });
        return end('timeout');
      }
      let result;
      if (call.parseError) {
        result = { content: `Error: ${call.parseError}. Write each call as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.`, error: true, finished: false, seconds: 0 };
      } else {
        try {
          result = await o.toolbox.call(call.name, call.arguments, Math.max(1, Math.min(o.limits.toolTimeoutSeconds, Math.ceil(left))));
        } catch (e) {
          timings.push({ step: steps, modelSeconds, toolSeconds, tool: call.name });
          if (e instanceof SandboxError) return end('sandbox_error', e.message);
          throw e;
        }
      }
      toolSeconds += result.seconds;
      finished = result.finished;
      if (text) responses.push(result.content);
      else messages.push({ role: 'tool', tool_call_id: call.id, name: call.name, content: result.content });
    }
    if (text) messages.push({ role: 'user', content: toolResponses(responses) });
    timings.push({ step: steps, modelSeconds, toolSeconds, tool: calls.map((c) => c.name || 'invalid').join(',') });
    if (finished) return end('finished');
  }
}
