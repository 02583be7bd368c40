/**
 * From a chat completions request to the model's prompt, and from the model's text back to an
 * assistant message. The prompt is the model's own chat template over the messages and the tools
 * (operator/training/chat.ts, the same render the trainer uses, so serving and training see the
 * same text). Tool calls are read from the text in the Hermes / Qwen `<tool_call>` JSON format,
 * by the agent loop's own parser (operator/rollout/agent/text-format.ts), and returned as native
 * `tool_calls`, as vLLM's hermes tool parser does. Pure functions.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage, ToolCall } from '../api/records.ts';
import type { ChatTokenizer } from '../training/chat.ts';
import { toolCallBlocks } from '../rollout/agent/text-format.ts';
import { ApiError, type ChatCompletionRequest, type RequestMessage } from './protocol.ts';

/**
 * The text of content part j of message i. Only `{type: "text", text}` parts are served: another
 * type (image_url, ...) is a 400 `unsupported_content` naming `messages[i].content[j].type`, a
 * text part without a string `text` a 400 naming its `.text`.
 */
export function contentPartText(p: unknown, i: number, j: number): string {
  const at = `messages[${i}].content[${j}]`;
  const type = (p as { type?: unknown } | null)?.type;
  if (type !== 'text') throw new ApiError(400, `${at}.type: only text content parts are supported (got ${JSON.stringify(type)})`, `${at}.type`, 'unsupported_content');
  const text = (p as { text?: unknown }).text;
  if (typeof text !== 'string') throw new ApiError(400, `${at}.text: must be a string`, `${at}.text`, 'invalid_value');
  return text;
}

/** A message's content as the template sees it: text parts joined, null kept for assistant turns with tool calls. */
function contentText(m: RequestMessage, i: number): string | null {
  const c = m.content;
  if (c === undefined || c === null) return null;
  if (typeof c === 'string') return c;
  return c.map((p, j) => contentPartText(p, i, j)).join('');
}

/** The request's messages in the form the chat templates take (developer -> system). */
export function templateMessages(req: Pick<ChatCompletionRequest, 'messages'>): ChatMessage[] {
  return req.messages.map((m, i) => {
    const content = contentText(m, i);
    if (content === null && m.role !== 'assistant') throw new ApiError(400, `messages[${i}].content is required for role ${m.role}`, `messages[${i}].content`, 'invalid_value');
    const out: ChatMessage = { ...(m as Record<string, unknown>), role: m.role === 'developer' ? 'system' : m.role, content } as ChatMessage;
    return out;
  });
}

/** Whether the request's tools are given to the model (and calls parsed from its text). */
export function toolsEnabled(req: Pick<ChatCompletionRequest, 'tools' | 'tool_choice'>): boolean {
  return !!req.tools && req.tools.length > 0 && req.tool_choice !== 'none';
}

/** The prompt text: the model's chat template over the messages and tools, with the generation prompt. */
export function renderPrompt(tok: ChatTokenizer, req: Pick<ChatCompletionRequest, 'messages' | 'tools' | 'tool_choice'>): string {
  const messages = templateMessages(req);
  try {
    return tok.render(messages, { tools: toolsEnabled(req) ? (req.tools as unknown[]) : undefined, addGenerationPrompt: true });
  } catch (e) {
    throw new ApiError(400, `messages: the model's chat template cannot render this conversation: ${(e as Error).message}`, 'messages', 'invalid_value');
  }
}

/** A fresh tool call id in OpenAI's form. */
export const toolCallId = (): string => `call_${randomBytes(12).toString('hex')}`;

/**
 * The assistant message for the model's text. With tools, every well-formed `<tool_call>` block
 * becomes a native tool call and is removed from the content; a malformed block stays in the
 * content as written (the agent sees what the model wrote). Content that is empty after that is null.
 */
export function assistantMessage(text: string, parseTools: boolean, newId: () => string = toolCallId): { content: string | null; tool_calls?: ToolCall[] } {
  if (!parseTools || !text.includes('<tool_call>')) return { content: text };
  const calls: ToolCall[] = [];
  // Blocks are found by their JSON (arguments may contain "</tool_call>"), not by the closing tag.
  let content = '';
  let pos = 0;
  for (const b of toolCallBlocks(text)) {
    content += text.slice(pos, b.start);
    if (b.call.ok) calls.push({ id: newId(), type: 'function', function: { name: b.call.name, arguments: b.call.arguments } });
    else content += text.slice(b.start, b.end);
    pos = b.end;
  }
  content += text.slice(pos);
  if (calls.length === 0) return { content: text };
  const rest = content.trim();
  return { content: rest === '' ? null : rest, tool_calls: calls };
}
