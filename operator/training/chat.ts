/**
 * Tokenizer (tokenizer.json, @huggingface/tokenizers) and chat template (tokenizer_config.json's
 * chat_template, @huggingface/jinja) of a model directory.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ChatMessage } from '../api/records.ts';

export interface ChatTokenizer {
  encode(text: string): number[];
  /**
   * Text of the ids. Tokenization-space clean-up (" ," -> ",", " !=" -> "!=", ...) runs only when
   * tokenizer_config.json sets `clean_up_tokenization_spaces: true`, as in transformers >= 4.45;
   * the tokenizer library's own default (on) would corrupt generated code.
   */
  decode(ids: number[], skipSpecial?: boolean): string;
  /** Renders messages with the model's chat template. */
  render(messages: ChatMessage[], opts?: { tools?: unknown[]; addGenerationPrompt?: boolean }): string;
  tokenId(token: string): number | undefined;
  eosTokenIds: number[];
  padTokenId: number;
}

function tokenContent(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return undefined;
}

/** Message fields the templates expect: tool_calls' arguments stay the JSON strings OpenAI sends. */
function templateMessage(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m, content: m.content ?? '' };
  return out;
}

export function loadChatTokenizer(dir: string): ChatTokenizer {
  const tjson = path.join(dir, 'tokenizer.json');
  const cjson = path.join(dir, 'tokenizer_config.json');
  if (!existsSync(tjson)) throw new Error(`${dir}: no tokenizer.json`);
  const tokJson = JSON.parse(readFileSync(tjson, 'utf8')) as object;
  const cfg = (existsSync(cjson) ? JSON.parse(readFileSync(cjson, 'utf8')) : {}) as Record<string, unknown>;
  let source = cfg.chat_template as string | { name: string; template: string }[] | undefined;
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  if (!source && existsSync(jinjaFile)) source = readFileSync(jinjaFile, 'utf8');
  if (Array.isArray(source)) source = (source.find((s) => s.name === 'default') ?? source[0])?.template;
  if (typeof source !== 'string') throw new Error(`${cjson}: chat_template is missing`);
  const template = new Template(source);
  const tokenizer = new Tokenizer(tokJson, cfg);
  // transformers' default is off; @huggingface/tokenizers' is on when the config is silent.
  const cleanUp = cfg.clean_up_tokenization_spaces === true;
  const eosText = tokenContent(cfg.eos_token);
  const padText = tokenContent(cfg.pad_token);
  const bosText = tokenContent(cfg.bos_token);
  const eos = eosText !== undefined ? tokenizer.token_to_id(eosText) : undefined;
  const pad = padText !== undefined ? tokenizer.token_to_id(padText) : undefined;
  const eosTokenIds = eos !== undefined ? [eos] : [];
  const imEnd = tokenizer.token_to_id('<|im_end|>');
  if (imEnd !== undefined && !eosTokenIds.includes(imEnd)) eosTokenIds.push(imEnd);
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, skipSpecial = false) =>
      ids.length === 0 ? '' : tokenizer.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: cleanUp }),
    render: (messages, opts = {}) =>
      template.render({
        messages: messages.map(templateMessage),
        tools: opts.tools && opts.tools.length ? opts.tools : undefined,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: bosText ?? '',
        eos_token: eosText ?? '',
      }),
    tokenId: (t) => tokenizer.token_to_id(t),
    eosTokenIds,
    padTokenId: pad ?? eos ?? 0,
  };
}
