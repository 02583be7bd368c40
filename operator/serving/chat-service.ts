/**
 * Chat completions on the engine: a validated request becomes a generation job (the prompt
 * rendered through the model's chat template with the tools, sampling parameters with OpenAI's
 * defaults: temperature 1, top_p 1, no top_k), and the engine's sequences become OpenAI choices
 * (text, native tool_calls, finish_reason, logprobs) with usage. Runs where the model is (the
 * worker thread); every rejection is an ApiError naming the field.
 */
import { randomInt } from 'node:crypto';
import type { ChatTokenizer } from '../training/chat.ts';
import { assistantMessage, renderPrompt, toolsEnabled } from './chat-format.ts';
import type { Engine, GenerationJob, SequenceResult } from './engine.ts';
import { ApiError, type ChatCompletionRequest, type CompletionChoice, type CompletionResult, type TokenLogprob } from './protocol.ts';

/** The generation job of a request (throws ApiError for what the server does not support). */
export function jobOf(tok: ChatTokenizer, req: ChatCompletionRequest, contextLength: number, stopTokenIds: number[]): GenerationJob {
  if (req.stream) throw new ApiError(400, 'stream: streaming responses are not supported by this server; send stream: false', 'stream', 'unsupported_parameter');
  for (const p of ['presence_penalty', 'frequency_penalty'] as const) {
    if (req[p]) throw new ApiError(400, `${p}: penalties are not supported by this server (only 0)`, p, 'unsupported_parameter');
  }
  if (req.top_logprobs && !req.logprobs) throw new ApiError(400, 'top_logprobs: requires logprobs: true', 'top_logprobs', 'invalid_value');
  const prompt = tok.encode(renderPrompt(tok, req));
  const stop = req.stop === undefined || req.stop === null ? [] : typeof req.stop === 'string' ? [req.stop] : req.stop;
  return {
    prompt,
    n: req.n ?? 1,
    maxTokens: req.max_completion_tokens ?? req.max_tokens ?? contextLength,
    temperature: req.temperature ?? 1,
    topP: req.top_p ?? 1,
    topK: Math.max(0, req.top_k ?? 0),
    seed: req.seed ?? randomInt(2 ** 31),
    stopTokenIds: req.ignore_eos ? [] : stopTokenIds,
    stop: stop.filter((s) => s !== ''),
    logprobs: req.logprobs ?? false,
    topLogprobs: req.top_logprobs ?? 0,
  };
}

function tokenLogprobs(tok: ChatTokenizer, s: SequenceResult): TokenLogprob[] {
  const entry = (id: number, logprob: number) => {
    const token = tok.decode([id], false);
    return { token, logprob, bytes: [...Buffer.from(token, 'utf8')] };
  };
  return (s.logprobs ?? []).map((lp, i) => ({ ...entry(s.tokens[i], lp.logprob), top_logprobs: lp.top.map(([id, l]) => entry(id, l)) }));
}

/** Runs a request to completion on the engine. */
export async function completeChat(
  engine: Engine,
  tok: ChatTokenizer,
  req: ChatCompletionRequest,
  o: { contextLength: number; stopTokenIds: number[]; id?: number },
): Promise<CompletionResult> {
  const job = jobOf(tok, req, o.contextLength, o.stopTokenIds);
  const out = await engine.submit(job, o.id);
  const parseTools = toolsEnabled(req);
  const choices: CompletionChoice[] = out.sequences.map((s, index) => {
    const message = assistantMessage(s.text ?? '', parseTools);
    return {
      index,
      message: { role: 'assistant', ...message },
      logprobs: job.logprobs ? { content: tokenLogprobs(tok, s) } : null,
      finish_reason: message.tool_calls ? 'tool_calls' : s.finishReason,
    };
  });
  const completion = out.sequences.reduce((a, s) => a + s.tokens.length, 0);
  return {
    choices,
    usage: { prompt_tokens: job.prompt.length, completion_tokens: completion, total_tokens: job.prompt.length + completion },
    queueSeconds: out.queueSeconds,
    firstTokenSeconds: out.firstTokenSeconds,
  };
}

/** The ids that end a turn: the tokenizer's EOS / <|im_end|> and config.json's eos_token_id. */
export function stopTokenIdsOf(tok: ChatTokenizer, rawConfig: Record<string, unknown>): number[] {
  const ids = new Set(tok.eosTokenIds);
  const e = rawConfig.eos_token_id;
  for (const x of Array.isArray(e) ? e : [e]) if (typeof x === 'number') ids.add(x);
  return [...ids];
}
