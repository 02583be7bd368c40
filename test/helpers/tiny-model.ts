/**
 * A tiny Qwen2-style checkpoint with random weights, written as a Hugging Face directory
 * (config.json, model.safetensors, the fixture tokenizer) with a compact chat template that lists
 * tools by name, so agent conversations fit a short context. For serving tests and benchmarks.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectedTensors, parseModelConfig } from '../../operator/training/model-config.ts';
import { writeSafetensors, type TensorMap } from '../../operator/training/safetensors.ts';
import { Rng } from '../../operator/training/rng.ts';

const FIXTURE_TOKENIZER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/training/tokenizer');

/** ChatML with the tool names (not their schemas) in the system turn and Hermes <tool_call> blocks. */
export const COMPACT_TEMPLATE =
  "{% if tools %}<|im_start|>system\n{% if messages[0].role == 'system' %}{{ messages[0].content }}\n{% endif %}Tools:{% for tool in tools %} {{ tool.function.name }}{% endfor %}<|im_end|>\n" +
  "{% elif messages[0].role == 'system' %}<|im_start|>system\n{{ messages[0].content }}<|im_end|>\n{% endif %}" +
  "{% for message in messages %}{% if message.role == 'user' %}<|im_start|>user\n{{ message.content }}<|im_end|>\n" +
  "{% elif message.role == 'assistant' %}<|im_start|>assistant\n{% if message.content %}{{ message.content }}{% endif %}" +
  '{% if message.tool_calls %}{% for tc in message.tool_calls %}<tool_call>\n{"name": "{{ tc.function.name }}", "arguments": {{ tc.function.arguments }}}\n</tool_call>{% endfor %}{% endif %}<|im_end|>\n' +
  "{% elif message.role == 'tool' %}<|im_start|>tool\n{{ message.content }}<|im_end|>\n{% endif %}{% endfor %}" +
  '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';

export interface TinyModelOptions {
  seed?: number;
  hiddenSize?: number;
  layers?: number;
  contextLength?: number;
  /** Rows of the embedding and LM head (>= the tokenizer's 320; extra rows are never produced by it). */
  vocabSize?: number;
  /** Standard deviation of the random weights (larger: peakier next-token distributions). */
  std?: number;
}

/** Writes the model into dir and returns dir. */
export function writeTinyModel(dir: string, o: TinyModelOptions = {}): string {
  mkdirSync(dir, { recursive: true });
  const D = o.hiddenSize ?? 32;
  const raw = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_act: 'silu',
    hidden_size: D,
    intermediate_size: 2 * D,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: o.contextLength ?? 1024,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    vocab_size: o.vocabSize ?? 320,
    eos_token_id: 2,
    pad_token_id: 0,
    _name_or_path: dir,
  };
  const config = parseModelConfig(raw);
  const rng = new Rng(o.seed ?? 1);
  const std = o.std ?? 0.2;
  const tensors: TensorMap = new Map();
  for (const [name, shape] of expectedTensors(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = name.endsWith('norm.weight');
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 : name.endsWith('.bias') ? 0 : rng.normal() * std;
    tensors.set(name, { shape, data });
  }
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2));
  copyFileSync(path.join(FIXTURE_TOKENIZER, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const tc = JSON.parse(readFileSync(path.join(FIXTURE_TOKENIZER, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  tc.chat_template = COMPACT_TEMPLATE;
  tc.model_max_length = raw.max_position_embeddings;
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(tc, null, 2));
  return dir;
}
