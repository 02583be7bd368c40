import test from 'ava';
import path from 'node:path';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { encodeConversation, segmentConversation, truncate } from '../../../operator/training/render.ts';
import type { ChatMessage } from '../../../operator/api/records.ts';
import { FIXTURES, expected } from './helpers.ts';

const tok = loadChatTokenizer(path.join(FIXTURES, 'qwen3'));
const exp = expected();

test('the mask selects exactly the tokens of every assistant turn', (t) => {
  const enc = encodeConversation(tok, exp.conversation, { tools: exp.tools, maxLength: 4096, truncation: 'Drop' })!;
  // segment-wise tokenisation equals the tokenisation of the whole render (and transformers' ids)
  t.deepEqual(enc.ids, exp.conversation_ids);
  // the assistant tokens decode to the two assistant turns (content, tool call and end token), nothing else
  const runs: string[] = [];
  let cur: number[] = [];
  enc.ids.forEach((id, i) => {
    if (enc.mask[i]) cur.push(id);
    else if (cur.length) {
      runs.push(tok.decode(cur));
      cur = [];
    }
  });
  if (cur.length) runs.push(tok.decode(cur));
  t.deepEqual(runs, [
    'Let me run the tests.<tool_call>\n{"name": "execute_bash", "arguments": {"cmd": "pytest -q"}}\n</tool_call><|im_end|>',
    'The parse function is wrong. finish<|im_end|>',
  ]);
  t.is(enc.assistantTokens, enc.mask.filter(Boolean).length);
  // no system, user or tool text is trained
  const trained = runs.join('');
  for (const m of exp.conversation.filter((m) => m.role !== 'assistant')) t.false(trained.includes(m.content!));
});

test('segments reassemble the whole render', (t) => {
  const segs = segmentConversation(tok, exp.conversation, exp.tools);
  t.is(segs.map((s) => s.text).join(''), exp.rendered);
  t.deepEqual(segs.map((s) => s.assistant), [false, true, false, true, false]);
});

test('truncation: drop removes over-long trajectories, keep-end keeps the prompt head and the final turns', (t) => {
  const full = encodeConversation(tok, exp.conversation, { maxLength: 4096, truncation: 'Drop' })!;
  t.is(encodeConversation(tok, exp.conversation, { maxLength: full.ids.length - 1, truncation: 'Drop' }), undefined);
  const max = full.ids.length - 20;
  const kept = encodeConversation(tok, exp.conversation, { maxLength: max, truncation: 'KeepEnd' })!;
  t.is(kept.ids.length, max);
  t.true(kept.truncated);
  t.is(kept.fullLength, full.ids.length);
  const head = full.mask.indexOf(1);
  t.true(head > 0 && head <= max / 2, `prompt head ${head} fits half the budget here`);
  // the prompt head and the end (with the final assistant turn) are intact
  t.deepEqual(kept.ids.slice(0, head), full.ids.slice(0, head));
  t.deepEqual(kept.ids.slice(head), full.ids.slice(full.ids.length - (max - head)));
  t.is(kept.mask[kept.mask.length - 1], full.mask[full.mask.length - 1]);
  // with tools the head (210 tokens) exceeds half the budget: only the end is kept
  const withTools = encodeConversation(tok, exp.conversation, { tools: exp.tools, maxLength: 300, truncation: 'KeepEnd' })!;
  t.deepEqual(withTools.ids, exp.conversation_ids.slice(exp.conversation_ids.length - 300));
  const r = truncate([1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 1, 1, 1], 4, 'KeepEnd')!;
  t.deepEqual(r.ids, [5, 6, 7, 8]);
  t.deepEqual(r.mask, [0, 1, 1, 1]);
});

test('a template that is not prefix-consistent is reported, not silently mis-masked', (t) => {
  const bad = { ...tok, render: (m: ChatMessage[], o?: { addGenerationPrompt?: boolean }) => `${m.length}:${o?.addGenerationPrompt ? 'gen' : ''}` };
  t.throws(() => segmentConversation(bad, exp.conversation), { message: /not prefix-consistent at message 2/ });
});
