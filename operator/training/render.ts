/**
 * Multi-turn rendering and the assistant mask (docs/method.md section 1): the WHOLE conversation is
 * rendered through the chat template; the mask selects exactly the tokens of every assistant
 * turn (system prompt, user turns and tool observations are masked).
 *
 * Each assistant turn is located in the whole render per turn, by the first of three methods
 * that works (so templates that are not prefix-stable, such as Qwen3's, which drops the
 * reasoning of turns before the last user message and adds an empty think block to the last
 * assistant message only, still train):
 *  1. prefix: the render of the messages before the turn (with the generation prompt) and the
 *     render through the turn are both prefixes of the whole render (ChatML, Llama, Qwen2.5);
 *  2. search: the turn's text, as rendered right after its own prefix, occurs in the whole
 *     render after the previous turn;
 *  3. markers: the template's generation prompt (e.g. "<|im_start|>assistant\n", the text
 *     add_generation_prompt appends) opens the turn and the end-of-turn token the turn ends
 *     with (e.g. "<|im_end|>") closes it, after the previous turn.
 * When none works the conversation cannot be masked: a MaskError, which the trainer counts as a
 * dropped trajectory (one bad record never fails a job).
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

/** How each assistant turn was located (for logs and tests). */
export type MaskMethod = 'prefix' | 'search' | 'markers';

/** The conversation's assistant turns cannot be located in its render (the record is dropped, not the job). */
export class MaskError extends Error {
  constructor(readonly messageIndex: number, detail: string) {
    super(`chat template: cannot locate the assistant turn at message ${messageIndex} in the whole render (${detail})`);
    this.name = 'MaskError';
  }
}

/** Trailing whitespace after a turn (e.g. "\n" after <|im_end|>) is template glue, not generated. */
function trimEndWs(s: string, floor = 0): number {
  let end = s.length;
  while (end > floor && /\s/.test(s[end - 1])) end--;
  return end;
}

/**
 * Splits the whole render into masked / assistant segments (pure given the tokenizer's
 * template). `methods` receives how each assistant turn was found. Throws MaskError.
 */
export function segmentConversation(tok: ChatTokenizer, messages: ChatMessage[], tools?: unknown[], methods?: MaskMethod[]): Segment[] {
  const full = tok.render(messages, { tools });
  const endTokens = tok.eosTokenIds.map((id) => tok.decode([id])).filter((t) => t.length > 0);
  const segments: Segment[] = [];
  let pos = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = tok.render(messages.slice(0, i), { tools, addGenerationPrompt: true });
    const through = tok.render(messages.slice(0, i + 1), { tools });
    const turn = through.startsWith(before) ? through.slice(before.length, trimEndWs(through, before.length)) : undefined;
    let start = -1;
    let end = -1;
    let method: MaskMethod | undefined;
    // 1. prefix
    if (turn !== undefined && before.length >= pos && full.startsWith(before) && full.startsWith(through.slice(0, before.length + turn.length))) {
      [start, end, method] = [before.length, before.length + turn.length, 'prefix'];
    }
    // 2. search
    if (method === undefined && turn) {
      const at = full.indexOf(turn, pos);
      if (at >= 0) [start, end, method] = [at, at + turn.length, 'search'];
    }
    // 3. markers
    if (method === undefined) {
      const plain = tok.render(messages.slice(0, i), { tools });
      const header = before.startsWith(plain) ? before.slice(plain.length) : '';
      if (!header) throw new MaskError(i, 'the template adds no generation prompt to mark the turn');
      const h = full.indexOf(header, pos);
      if (h < 0) throw new MaskError(i, `no generation prompt ${JSON.stringify(header)} after offset ${pos}`);
      // The end-of-turn token the turn's own render ends with, else the first one after the header.
      const closers = turn !== undefined && endTokens.some((e) => turn.endsWith(e)) ? endTokens.filter((e) => turn.endsWith(e)) : endTokens;
      const ends = closers.map((c) => ({ at: full.indexOf(c, h + header.length), c })).filter((x) => x.at >= 0).sort((a, b) => a.at - b.at);
      if (!ends.length) throw new MaskError(i, `no end-of-turn token (${endTokens.join(', ') || 'none known'}) after the generation prompt`);
      [start, end, method] = [h + header.length, ends[0].at + ends[0].c.length, 'markers'];
    }
    if (start > pos) segments.push({ text: full.slice(pos, start), assistant: false });
    if (end > start) segments.push({ text: full.slice(start, end), assistant: true });
    pos = Math.max(pos, end);
    methods?.push(method);
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
 * Returns undefined when the conversation is too long and the policy is drop; throws MaskError
 * when its assistant turns cannot be located (see segmentConversation).
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
