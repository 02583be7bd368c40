import test from 'ava';
import path from 'node:path';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { Template } from '@huggingface/jinja';
import { encodeConversation, MaskError, segmentConversation, truncate, type MaskMethod } from '../../../operator/training/render.ts';
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

/** A template written for this test with Qwen3's two non-prefix-stable habits: reasoning of assistant
 * turns before the last user message is dropped, and the last assistant message always gets a think block. */
const QWEN3_STYLE = `{%- set ns = namespace(last_query=-1) %}
{%- for m in messages %}{%- if m.role == 'user' %}{%- set ns.last_query = loop.index0 %}{%- endif %}{%- endfor %}
{%- for m in messages %}
{%- if m.role == 'assistant' %}
{{- '<|im_start|>assistant\\n' }}
{%- if loop.index0 > ns.last_query and (loop.last or m.reasoning_content) %}{{- '<think>\\n' + (m.reasoning_content or '') + '\\n</think>\\n\\n' }}{%- endif %}
{{- m.content + '<|im_end|>\\n' }}
{%- else %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}`;

function withTemplate(source: string) {
  const tpl = new Template(source);
  return {
    ...tok,
    render: (messages: ChatMessage[], o: { addGenerationPrompt?: boolean } = {}) => tpl.render({ messages, add_generation_prompt: o.addGenerationPrompt ?? false }),
  };
}

const runsOf = (ids: number[], mask: number[]) => {
  const runs: string[] = [];
  let cur: number[] = [];
  ids.forEach((id, i) => {
    if (mask[i]) cur.push(id);
    else if (cur.length) {
      runs.push(tok.decode(cur));
      cur = [];
    }
  });
  if (cur.length) runs.push(tok.decode(cur));
  return runs;
};

test('a template that is not prefix-stable (Qwen3-style reasoning drop, our cut-off nudge as a user message) is masked per turn', (t) => {
  const qwen3 = withTemplate(QWEN3_STYLE);
  const conv = [
    { role: 'system', content: 'You are a coding agent.' },
    { role: 'user', content: 'Fix utils.py.' },
    { role: 'assistant', content: 'Run the tests.', reasoning_content: 'First look.' },
    { role: 'tool', tool_call_id: 'c1', content: '1 failed' },
    { role: 'assistant', content: 'Edit parse.', reasoning_content: 'The parser is off by one.' },
    { role: 'user', content: 'You are running out of steps: finish now.' },
    { role: 'assistant', content: 'finish', reasoning_content: 'Wrap up.' },
  ] as ChatMessage[];
  const full = qwen3.render(conv);
  t.false(full.includes('First look.'), 'the whole render drops earlier reasoning (the template is not prefix-stable)');
  t.true(qwen3.render(conv.slice(0, 3)).includes('First look.'));
  const methods: MaskMethod[] = [];
  const segs = segmentConversation(qwen3, conv, undefined, methods);
  t.deepEqual(methods, ['markers', 'markers', 'prefix']);
  t.is(segs.map((s) => s.text).join(''), full);
  const enc = encodeConversation(qwen3, conv, { maxLength: 4096, truncation: 'Drop' })!;
  t.deepEqual(runsOf(enc.ids, enc.mask), ['Run the tests.<|im_end|>', 'Edit parse.<|im_end|>', '<think>\nWrap up.\n</think>\n\nfinish<|im_end|>']);
  // the nudge and the tool observation are never trained
  const trained = runsOf(enc.ids, enc.mask).join('');
  t.false(trained.includes('running out of steps'));
  t.false(trained.includes('1 failed'));
  // prefix-stable templates still use the exact prefix method for every turn
  const m2: MaskMethod[] = [];
  segmentConversation(tok, exp.conversation, exp.tools, m2);
  t.true(m2.length > 0 && m2.every((m) => m === 'prefix'));
});

test('a template whose turns cannot be located is a MaskError naming the message, not a silent mis-mask', (t) => {
  const bad = { ...tok, render: (m: ChatMessage[], o?: { addGenerationPrompt?: boolean }) => `${m.length}:${o?.addGenerationPrompt ? 'gen' : ''}` };
  const e = t.throws(() => segmentConversation(bad, exp.conversation), { instanceOf: MaskError, message: /cannot locate the assistant turn at message 2/ });
  t.is(e?.messageIndex, 2);
});
