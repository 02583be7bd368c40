/**
 * Checks on a chat completions request that its JSON schema (protocol.ts) cannot express, run on
 * the HTTP thread before the request reaches the model, each answering what api.openai.com
 * answers: a 400 in OpenAI's error shape naming the parameter, with a code. Pure functions.
 *
 * - Top-level parameters: the ones the server implements (protocol.ts's schema), the ones real
 *   clients send that are harmless to ignore (ACCEPTED_IGNORED: `user`, `metadata`, `store`, ...),
 *   and the rest: a known OpenAI parameter the server does not implement is
 *   `unsupported_parameter`; anything else is "Unrecognized request argument supplied: X"
 *   (code `unknown_parameter`), as OpenAI answers it.
 * - `response_format`: only `{type: "text"}` (JSON mode and structured outputs are not implemented).
 * - `tool_choice` naming a function: the function must be one of `tools`.
 * - Content parts: only `{type: "text"}` parts.
 */
import { contentPartText } from './chat-format.ts';
import { ApiError } from './protocol.ts';

/** Parameters the server implements (the properties of protocol.ts's ChatCompletionRequest). */
const IMPLEMENTED = new Set([
  'model', 'messages', 'tools', 'tool_choice', 'temperature', 'top_p', 'top_k', 'seed', 'max_tokens', 'max_completion_tokens',
  'stop', 'n', 'logprobs', 'top_logprobs', 'stream', 'ignore_eos', 'presence_penalty', 'frequency_penalty', 'response_format',
]);

/**
 * OpenAI parameters that are accepted and ignored: they change nothing in what a single
 * non-streaming completion of this server returns (bookkeeping, routing hints, options of modes
 * this server does not have). Listed in README.md ("Policy server").
 */
export const ACCEPTED_IGNORED: readonly string[] = [
  'user', // end-user id, for abuse monitoring
  'metadata', // tags for stored completions
  'store', // store the completion for distillation / evals
  'service_tier', // which OpenAI processing tier
  'parallel_tool_calls', // the model may call several tools in one turn either way
  'stream_options', // only read when stream is true, which is refused
  'prompt_cache_key', // a caching hint (this server caches prefixes by content)
  'safety_identifier', // end-user id, for abuse monitoring
  'reasoning_effort', // reasoning models only; the served models do not reason in hidden tokens
];

/** OpenAI parameters with an effect this server does not implement, and the value that means "off" (accepted). */
const UNSUPPORTED: Record<string, (v: unknown) => boolean> = {
  logit_bias: (v) => v === null || (typeof v === 'object' && Object.keys(v as object).length === 0),
  modalities: (v) => v === null || (Array.isArray(v) && v.every((m) => m === 'text')),
  audio: (v) => v === null,
  prediction: (v) => v === null,
  web_search_options: (v) => v === null,
  functions: (v) => v === null,
  function_call: (v) => v === null,
  verbosity: (v) => v === null,
};

const bad = (message: string, param: string, code = 'invalid_value') => new ApiError(400, message, param, code);

/** Throws ApiError (400) for the first thing the server cannot honour; returns when the request is fine. */
export function checkRequest(body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    if (IMPLEMENTED.has(key) || ACCEPTED_IGNORED.includes(key)) continue;
    const off = UNSUPPORTED[key];
    if (off) {
      if (value === undefined || off(value)) continue;
      throw bad(`${key}: not supported by this server`, key, 'unsupported_parameter');
    }
    throw bad(`Unrecognized request argument supplied: ${key}`, key, 'unknown_parameter');
  }
  checkResponseFormat(body.response_format);
  checkToolChoice(body.tool_choice, body.tools);
  checkContentParts(body.messages);
}

function checkResponseFormat(rf: unknown): void {
  if (rf === undefined || rf === null) return;
  const type = typeof rf === 'object' ? (rf as { type?: unknown }).type : undefined;
  if (type === 'text') return;
  throw bad(
    `response_format: only {"type": "text"} is supported by this server (got ${type === undefined ? JSON.stringify(rf) : `type ${JSON.stringify(type)}`}; JSON mode and structured outputs are not implemented)`,
    'response_format',
    'unsupported_parameter',
  );
}

function checkToolChoice(choice: unknown, tools: unknown): void {
  if (choice === null || typeof choice !== 'object') return;
  const name = (choice as { function?: { name?: unknown } }).function?.name;
  if (typeof name !== 'string') return;
  const offered = Array.isArray(tools) ? tools.map((t) => (t as { function?: { name?: unknown } })?.function?.name).filter((n): n is string => typeof n === 'string') : [];
  if (offered.includes(name)) return;
  throw bad(
    `tool_choice: names the function ${JSON.stringify(name)}, which is not in tools (${offered.length ? `offered: ${offered.map((n) => JSON.stringify(n)).join(', ')}` : 'no tools were given'})`,
    'tool_choice',
  );
}

function checkContentParts(messages: unknown): void {
  if (!Array.isArray(messages)) return;
  messages.forEach((m, i) => {
    const content = (m as { content?: unknown })?.content;
    if (Array.isArray(content)) content.forEach((p, j) => contentPartText(p, i, j));
  });
}
