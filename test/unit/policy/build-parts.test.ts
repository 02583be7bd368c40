import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainByteLevelBpe } from '../../../operator/policy/bpe.ts';
import { goldEdit, mistypedOldStr, mutants, wrongEdits } from '../../../operator/policy/edits.ts';
import { floatToHalf, writeSafetensorsF16 } from '../../../operator/policy/f16.ts';
import { SPECIAL_TOKENS, TOOL_CALL_TOKENS, tokenizerConfig } from '../../../operator/policy/template.ts';
import { resolveBuiltinModel } from '../../../operator/policy/builtin.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { encodeConversation } from '../../../operator/training/render.ts';
import { halfToFloat, readSafetensors } from '../../../operator/training/safetensors.ts';
import { parseTextToolCalls } from '../../../operator/rollout/agent/text-format.ts';
import type { ChatMessage } from '../../../operator/api/records.ts';

const CODE = 'def f(a, b):\n    if a[r][col] != 0 and b > 1:\n        return x ? y : z  # what ?\n    return é + "ü" , 1\n';

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are a programming agent.' },
  { role: 'user', content: 'Fix f.' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c0', type: 'function', function: { name: 'file_editor', arguments: '{"command":"view","path":"f.py","view_range":[1,3]}' } }] },
  { role: 'tool', tool_call_id: 'c0', name: 'file_editor', content: CODE },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'finish', arguments: '{}' } }] },
];

function tokenizerDir(split: 'lines' | 'words'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bpe-'));
  const bpe = trainByteLevelBpe([CODE, CODE, 'You are a programming agent. Fix f.', '{"command":"view"}'], {
    vocabSize: 320,
    specialTokens: SPECIAL_TOKENS,
    addedTokens: TOOL_CALL_TOKENS,
    split,
  });
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(bpe.json));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(1024)));
  return dir;
}

for (const split of ['lines', 'words'] as const) {
  test(`byte-level BPE (${split}): the library loads it, it compresses its corpus and round-trips any text`, (t) => {
    const tok = loadChatTokenizer(tokenizerDir(split));
    const ids = tok.encode(CODE);
    t.true(ids.length < CODE.length / 2, `${ids.length} tokens for ${CODE.length} characters`);
    t.is(tok.decode(ids), CODE);
    const unseen = 'zebra ∑ 🙂 a[r][col] != 0 , b ?';
    t.is(tok.decode(tok.encode(unseen)), unseen);
    t.true(Math.max(...tok.encode(unseen)) < 320);
    const end = tok.tokenId('<|im_end|>')!;
    t.true(end > 255 && end < 320);
    t.deepEqual(tok.eosTokenIds, [end]);
  });
}

test('the compact template is prefix-consistent: assistant masks cover exactly the tool calls', (t) => {
  const tok = loadChatTokenizer(tokenizerDir('lines'));
  const text = tok.render(conversation);
  t.false(text.includes('"parameters"'), 'tool schemas are not rendered');
  t.true(text.startsWith('<|im_start|>system\nYou are a programming agent.<|im_end|>\n<|im_start|>user\nFix f.<|im_end|>\n<|im_start|>assistant\n<tool_call>{"name":"file_editor"'));
  const enc = encodeConversation(tok, conversation, { maxLength: 4096, truncation: 'Drop' })!;
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
    '<tool_call>{"name":"file_editor","arguments":{"command":"view","path":"f.py","view_range":[1,3]}}</tool_call><|im_end|>',
    '<tool_call>{"name":"finish","arguments":{}}</tool_call><|im_end|>',
  ]);
  // a server reads the generated text back into the same tool call
  const [call] = parseTextToolCalls(runs[0].replace('<|im_end|>', ''));
  t.like(call, { ok: true, name: 'file_editor' });
  t.true(tok.render(conversation.slice(0, 2), { addGenerationPrompt: true }).endsWith('Fix f.<|im_end|>\n<|im_start|>assistant\n'));
});

const BASE = ['function f(a, b) {', '  const n = a.length;', '  if (n > 0 && b) {', '    return a[n - 1];', '  }', '  return null;', '}', ''].join('\n');
const FIXED = BASE.replace('if (n > 0 && b)', 'if (n > 0 || b)');

test('goldEdit: the smallest unique region, indentation left out, with a view range around it', (t) => {
  const g = goldEdit(BASE, FIXED, 2);
  t.is(g.oldStr, 'if (n > 0 && b) {');
  t.is(g.newStr, 'if (n > 0 || b) {');
  t.deepEqual([g.startLine, g.endLine, ...g.viewRange], [3, 3, 1, 5]);
  t.is(BASE.replace(g.oldStr, g.newStr), FIXED);
  // a pure insertion takes a line of context
  const ins = goldEdit(BASE, BASE.replace('  return null;\n', '  log();\n  return null;\n'));
  t.is(BASE.replace(ins.oldStr, ins.newStr), BASE.replace('  return null;\n', '  log();\n  return null;\n'));
});

test('wrong edits: neighbouring lines and a wrong operator, never the gold edit, each applying cleanly', (t) => {
  const g = goldEdit(BASE, FIXED);
  const w = wrongEdits(BASE, FIXED, g);
  t.deepEqual(w.slice(0, 3).map((x) => x.kind), ['above', 'below', 'operator']);
  t.deepEqual(w[0], { kind: 'above', oldStr: 'const n = a.length;', newStr: 'const n = a.length - 1;' });
  t.is(w[1].oldStr, 'return a[n - 1];');
  t.is(w[1].newStr, 'return a[n + 1];');
  t.is(w[2].oldStr, g.oldStr);
  t.is(w[2].newStr, 'if (n >= 0 && b) {');
  for (const x of w) {
    t.false(x.oldStr === g.oldStr && x.newStr === g.newStr);
    t.is(BASE.split(x.oldStr).length, 2, `${x.kind} old_str is unique`);
  }
  t.deepEqual(mutants('if (a === b && c < 1) return true;'), [
    'if (a !== b && c < 1) return true;',
    'if (a === b && c <= 1) return true;',
    'if (a === b || c < 1) return true;',
    'if (a === b && c < 1) return false;',
    'if (a === b && c < 0) return true;',
  ]);
  t.deepEqual(mutants('n = len(xs) * 2'), ['n = len(xs) * 3', 'n = len(xs) - 1 * 2', 'n = len(xs) / 2']);
  const bad = mistypedOldStr(BASE, g.oldStr)!;
  t.false(BASE.includes(bad));
});

test('f16 weights: round to nearest even, read back by the safetensors loader', (t) => {
  for (const x of [0, 1, -2.5, 0.1, 65504, 1e-6, -3.14159, 6e-8]) t.true(Math.abs(halfToFloat(floatToHalf(x)) - x) <= Math.abs(x) * 1e-3 + 6e-8, String(x));
  t.is(floatToHalf(1e9), 0x7c00);
  const data = Float32Array.from([0.5, -0.25, 3, 1e-3]);
  const back = readSafetensors(writeSafetensorsF16(new Map([['w', { shape: [2, 2], data }]]))).tensors.get('w')!;
  t.deepEqual(back.shape, [2, 2]);
  t.true(back.data.every((v, i) => Math.abs(v - data[i]) < 1e-6));
});

test('builtin:<name> resolves to a checkpoint directory, or names what is available', (t) => {
  const err = t.throws(() => resolveBuiltinModel('builtin:no-such-model'));
  t.regex(err!.message, /builtin:no-such-model: no such built-in model \(available: /);
  t.throws(() => resolveBuiltinModel('../etc'), { message: /not a built-in model name/ });
});
