import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { FIXTURES } from './helpers.ts';

const CODE = [
  'if (a[r][col] != 0) return x ? y : z;',
  'print(f(a , b) , c ?? d)',
  "x = {'k': v , 'n' : 1}  # what ? don 't",
  "it 's a [ b ] , c !",
].join('\n');

test('decode round-trips code when tokenizer_config.json does not mention clean_up_tokenization_spaces (transformers default: off)', (t) => {
  const dir = path.join(FIXTURES, 'qwen3');
  const cfg = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  t.false('clean_up_tokenization_spaces' in cfg);
  const tok = loadChatTokenizer(dir);
  t.is(tok.decode(tok.encode(CODE)), CODE);
  t.is(tok.decode(tok.encode('a[r][col] != 0')), 'a[r][col] != 0');
  t.is(tok.decode([]), '');
});

test('decode cleans tokenization spaces only when the config turns it on', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tok-cleanup-'));
  cpSync(path.join(FIXTURES, 'qwen3'), dir, { recursive: true });
  const file = path.join(dir, 'tokenizer_config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...cfg, clean_up_tokenization_spaces: true }));
  const tok = loadChatTokenizer(dir);
  t.is(tok.decode(tok.encode('a[r][col] != 0 , b ?')), 'a[r][col]!= 0, b?');
  writeFileSync(file, JSON.stringify({ ...cfg, clean_up_tokenization_spaces: false }));
  const off = loadChatTokenizer(dir);
  t.is(off.decode(off.encode('a[r][col] != 0 , b ?')), 'a[r][col] != 0 , b ?');
});
