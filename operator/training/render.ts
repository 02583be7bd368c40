/**
 * Multi-turn rendering and the assistant mask (METHOD.md section 1): the WHOLE conversation is
 * rendered through the chat template; the mask selects exactly the tokens of every assistant
 * turn (system prompt, user turns and tool observations are masked). Turn boundaries come from
 * renders of the conversation's prefixes, which must be prefixes of the whole render (true of
 * ChatML / Llama / Qwen templates; a template that is not prefix-consistent is reported).
 */
import type { ChatMessage } from '../api/records.ts';
import type { ChatTokenizer } from './chat.ts';

export interface Segment {
  text: string;
  assistant: boolean;
}

export interface EncodedSequence {
  ids: number[];
  /** 1 where the token belongs to an assistant turn. */
  mask: number[];
  /** Assistant tokens kept. */
  assistantTokens: number;
  /** Tokens before truncation. */
  fullLength: number;
  truncated: boolean;
}

/** Over-long trajectories: the values of spec.training.truncation. */
export type Truncation = 'KeepEnd' | 'Drop';

/** Splits the whole render into masked / assistant segments (pure given the tokenizer's template). */
export function segmentConversation(tok: ChatTokenizer, messages: ChatMessage[], tools?: unknown[]): Segment[] {
  const full = tok.render(messages, { tools });
  const segments: Segment[] = [];
  let pos = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = tok.render(messages.slice(0, i), { tools, addGenerationPrompt: true });
    const through = tok.render(messages.slice(0, i + 1), { tools });
    if (!full.startsWith(before) || !through.startsWith(before) || !full.startsWith(through) || before.length < pos) {
      throw new Error(`chat template is not prefix-consistent at message ${i} (assistant): cannot locate the turn in the whole render`);
    }
    // Trailing whitespace after the turn (e.g. "\n" after <|im_end|>) is template glue, not generated.
    let end = through.length;
    while (end > before.length && /\s/.test(through[end - 1])) end--;
    if (before.length > pos) segments.push({ text: full.slice(pos, before.length), assistant: false });
    if (end > before.length) segments.push({ text: full.slice(before.length, end), assistant: true });
    pos = end;
  });
  if (pos < full.length) segments.push({ text: full.slice(pos), assistant: false });
  return segments;
}

/** Token-level truncation policy. KeepEnd keeps the prompt head (when it fits in half the budget) and the END. */
export function truncate(ids: number[], mask: number[], maxLength: number, policy: Truncation): { ids: number[]; mask: number[] } | undefined {
  if (ids.length <= maxLength) return { ids, mask };
  if (policy === 'Drop') return undefined;
  let head = mask.indexOf(1);
  if (head < 0) head = 0;
  if (head > maxLength / 2) head = 0;
  const tail = maxLength - head;
  return {
    ids: [...ids.slice(0, head), ...ids.slice(ids.length - tail)],
    mask: [...mask.slice(0, head), ...mask.slice(mask.length - tail)],
  };
}

/**
 * Tokenises a conversation: segments are encoded one by one and concatenated (boundaries fall on
 * special tokens, so this equals tokenising the whole render; the tests check it).
 * Returns undefined when the conversation is too long and the policy is drop.
 */
export function encodeConversation(
  tok: ChatTokenizer,
  messages: ChatMessage[],
  opts: { tools?: unknown[]; maxLength: number; truncation: Truncation },
): EncodedSequence | undefined {
  const ids: number[] = [];
  const mask: number[] = [];
  for (const s of segmentConversation(tok, messages, opts.tools)) {
    const t = tok.encode(s.text);
    ids.push(...t);
    for (let i = 0; i < t.length; i++) mask.push(s.assistant ? 1 : 0);
  }
  const cut = truncate(ids, mask, opts.maxLength, opts.truncation);
  if (!cut) return undefined;
  return {
    ids: cut.ids,
    mask: cut.mask,
    assistantTokens: cut.mask.reduce((a, b) => a + b, 0),
    fullLength: ids.length,
    truncated: cut.ids.length < ids.length,
  };
}
