/**
 * Loading and saving Hugging Face style model directories: config.json + model.safetensors (or
 * a sharded model.safetensors.index.json), tokenizer files alongside. LoRA adapters are saved in
 * PEFT's format (adapter_config.json + adapter_model.safetensors).
 */
import * as tf from '@tensorflow/tfjs';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readSafetensorsFile, writeSafetensorsFile, type TensorMap } from './safetensors.ts';
import { expectedTensors, parseModelConfig } from './model-config.ts';
import { CausalLM, LinearModules, type LoraAdapters, type LoraSettings } from './model.ts';
import { Rng } from './rng.ts';

export interface LoadOptions {
  /** Make every parameter a trainable tf.Variable (full fine-tuning). Default false. */
  trainable?: boolean;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** Every tensor of the checkpoint in dir (single file or shards), as f32. */
export function readCheckpointTensors(dir: string): TensorMap {
  const single = path.join(dir, 'model.safetensors');
  const index = path.join(dir, 'model.safetensors.index.json');
  if (existsSync(single)) return readSafetensorsFile(single).tensors;
  if (existsSync(index)) {
    const map = (readJson(index).weight_map ?? {}) as Record<string, string>;
    const out: TensorMap = new Map();
    for (const shard of new Set(Object.values(map))) {
      const f = path.join(dir, shard);
      for (const [k, v] of readSafetensorsFile(f).tensors) out.set(k, v);
    }
    return out;
  }
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

/** Loads a model directory as is (HF tensor names, f32/f16/bf16 weights). */
export function loadModel(dir: string, opts: LoadOptions = {}): CausalLM {
  const cfgFile = path.join(dir, 'config.json');
  if (!existsSync(cfgFile)) throw new Error(`${dir}: no config.json`);
  const config = parseModelConfig(readJson(cfgFile));
  const tensors = readCheckpointTensors(dir);
  const params = new Map<string, tf.Tensor>();
  for (const [name, shape] of expectedTensors(config)) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${dir}: checkpoint lacks tensor ${name} (shape ${JSON.stringify(shape)})`);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new Error(`${dir}: tensor ${name} has shape ${JSON.stringify(t.shape)}, config.json implies ${JSON.stringify(shape)}`);
    }
    const tensor = tf.tensor(t.data, shape, 'float32');
    params.set(name, opts.trainable ? tf.variable(tensor, true) : tensor);
    if (opts.trainable) tensor.dispose();
  }
  const model = new CausalLM(config, params);
  const adapter = path.join(dir, 'adapter_model.safetensors');
  if (existsSync(adapter) && existsSync(path.join(dir, 'adapter_config.json'))) loadAdapters(model, dir);
  return model;
}

/** The modules of the model that a LoRA target list selects. Unknown targets are an error naming the field. */
export function loraModules(model: CausalLM, targets: string[]): string[] {
  for (const t of targets) {
    if (!(LinearModules as readonly string[]).includes(t)) {
      throw new Error(`training.lora.targetModules: unknown module ${JSON.stringify(t)} (expected some of ${LinearModules.join(', ')})`);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < model.config.numLayers; i++) {
    for (const m of LinearModules) {
      if (!targets.includes(m)) continue;
      const group = m.endsWith('_proj') && ['gate_proj', 'up_proj', 'down_proj'].includes(m) ? 'mlp' : 'self_attn';
      out.push(`model.layers.${i}.${group}.${m}`);
    }
  }
  return out;
}

/**
 * Attaches fresh adapters: A ~ kaiming-uniform-like N(0, 1/in) from the seed, B = 0, so the
 * adapted model starts equal to the base (PEFT's initialisation up to the distribution of A).
 */
export function attachLora(model: CausalLM, settings: LoraSettings, seed: number): LoraAdapters {
  const rng = new Rng(seed + 17);
  const A = new Map<string, tf.Variable>();
  const B = new Map<string, tf.Variable>();
  for (const m of loraModules(model, settings.targetModules)) {
    const [out, inp] = model.params.get(`${m}.weight`)!.shape;
    const a = new Float32Array(settings.rank * inp);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() / Math.sqrt(inp);
    A.set(m, tf.variable(tf.tensor2d(a, [settings.rank, inp]), true));
    B.set(m, tf.variable(tf.zeros([out, settings.rank]), true));
  }
  model.lora = { settings, scale: settings.alpha / settings.rank, A, B };
  return model.lora;
}

async function toMap(tensors: Iterable<[string, tf.Tensor]>): Promise<TensorMap> {
  const out: TensorMap = new Map();
  for (const [k, t] of tensors) out.set(k, { shape: t.shape, data: (await t.data()) as Float32Array });
  return out;
}

/** Writes the LoRA adapters in PEFT format. */
export async function saveAdapters(model: CausalLM, dir: string): Promise<void> {
  const lora = model.lora;
  if (!lora) throw new Error('saveAdapters: the model has no adapters');
  mkdirSync(dir, { recursive: true });
  const entries: [string, tf.Tensor][] = [];
  for (const [m, a] of lora.A) entries.push([`base_model.model.${m}.lora_A.weight`, a]);
  for (const [m, b] of lora.B) entries.push([`base_model.model.${m}.lora_B.weight`, b]);
  writeSafetensorsFile(path.join(dir, 'adapter_model.safetensors'), await toMap(entries), { format: 'pt' });
  const cfg = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: lora.settings.rank,
    lora_alpha: lora.settings.alpha,
    lora_dropout: lora.settings.dropout,
    target_modules: lora.settings.targetModules,
    bias: 'none',
    fan_in_fan_out: false,
    base_model_name_or_path: String(model.config.raw._name_or_path ?? ''),
  };
  writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(cfg, null, 2));
}

/** Loads PEFT adapters from dir onto the model. */
export function loadAdapters(model: CausalLM, dir: string): LoraAdapters {
  const cfg = readJson(path.join(dir, 'adapter_config.json'));
  const file = path.join(dir, 'adapter_model.safetensors');
  const tensors = readSafetensorsFile(file).tensors;
  const settings: LoraSettings = {
    rank: Number(cfg.r),
    alpha: Number(cfg.lora_alpha),
    dropout: Number(cfg.lora_dropout ?? 0),
    targetModules: cfg.target_modules as string[],
  };
  const A = new Map<string, tf.Variable>();
  const B = new Map<string, tf.Variable>();
  for (const m of loraModules(model, settings.targetModules)) {
    const a = tensors.get(`base_model.model.${m}.lora_A.weight`);
    const b = tensors.get(`base_model.model.${m}.lora_B.weight`);
    if (!a || !b) throw new Error(`${file}: no adapter for ${m}`);
    A.set(m, tf.variable(tf.tensor(a.data, a.shape), true));
    B.set(m, tf.variable(tf.tensor(b.data, b.shape), true));
  }
  model.lora = { settings, scale: settings.alpha / settings.rank, A, B };
  return model.lora;
}

/** Base weights with the adapters merged in: W + scale * B A. */
export function mergedParams(model: CausalLM): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [k, v] of model.params) {
    const m = k.replace(/\.weight$/, '');
    const a = model.lora?.A.get(m);
    out.set(k, a ? tf.add(v, tf.mul(tf.matMul(model.lora!.B.get(m)!, a), model.lora!.scale)) : v);
  }
  return out;
}

/**
 * Saves a loadable model directory: config.json, model.safetensors (f32, adapters merged) and
 * the tokenizer files of `tokenizerFrom` when given. With `adapters` true, the PEFT adapters too.
 */
export async function saveModel(model: CausalLM, dir: string, opts: { tokenizerFrom?: string; adapters?: boolean } = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const merged = mergedParams(model);
  writeSafetensorsFile(path.join(dir, 'model.safetensors'), await toMap(merged), { format: 'pt' });
  for (const [k, t] of merged) if (t !== model.params.get(k)) t.dispose();
  const raw = { ...model.config.raw, dtype: 'float32', torch_dtype: 'float32' };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2));
  if (opts.tokenizerFrom) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
      const src = path.join(opts.tokenizerFrom, f);
      if (existsSync(src) && path.resolve(src) !== path.resolve(dir, f)) copyFileSync(src, path.join(dir, f));
    }
  }
  if (opts.adapters && model.lora) await saveAdapters(model, path.join(dir, 'adapter'));
}

export { toMap as tensorsToMap };
