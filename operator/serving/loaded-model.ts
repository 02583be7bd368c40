/**
 * A served model in memory: the weights (with a PEFT LoRA adapter on its base when given), the
 * tokenizer and chat template, the context length and the ids that end a turn.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseBackendName, selectBackend, type BackendPreference } from '../training/backend.ts';
import { loadChatTokenizer, type ChatTokenizer } from '../training/chat.ts';
import { loadAdapters, loadModel } from '../training/model-io.ts';
import type { CausalLM } from '../training/model.ts';
import { stopTokenIdsOf } from './chat-service.ts';
import type { ModelInfo } from './protocol.ts';
import { Registry } from 'prom-client';

export interface LoadedModel {
  model: CausalLM;
  tok: ChatTokenizer;
  contextLength: number;
  stopTokenIds: number[];
  info: ModelInfo;
}

/** The backend preference for a name; an unknown name is an error listing the choices. */
export function backendPreference(name: string): BackendPreference {
  const p = parseBackendName(name);
  if (!p) throw new Error(`--backend: unknown tfjs backend ${JSON.stringify(name)} (expected auto, tfjs-node-gpu, tfjs-node, wasm or cpu)`);
  return p;
}

/**
 * Loads modelDir (a Hugging Face style directory: config.json, safetensors, tokenizer files) and,
 * when given, the PEFT adapter in adapterDir (adapter_config.json + adapter_model.safetensors) on
 * top of it. The tokenizer comes from modelDir, else from adapterDir. Errors name the directory.
 */
export async function loadServedModel(o: { modelDir: string; adapterDir?: string; backend?: string; maxModelLen?: number }): Promise<LoadedModel> {
  const choice = await selectBackend(backendPreference(o.backend ?? 'auto'), new Registry());
  const model = loadModel(o.modelDir);
  if (o.adapterDir) {
    if (!existsSync(path.join(o.adapterDir, 'adapter_config.json'))) throw new Error(`${o.adapterDir}: no adapter_config.json (expected a PEFT LoRA adapter)`);
    loadAdapters(model, o.adapterDir);
  }
  // Weights never change while serving: multiply by pre-transposed copies (much faster on wasm / cpu).
  model.transposeFrozenWeights();
  const tokDir = existsSync(path.join(o.modelDir, 'tokenizer.json')) || !o.adapterDir ? o.modelDir : o.adapterDir;
  const tok = loadChatTokenizer(tokDir);
  const contextLength = Math.min(model.config.maxPositionEmbeddings, o.maxModelLen ?? Infinity);
  let parameters = 0;
  for (const t of model.params.values()) parameters += t.size;
  return {
    model,
    tok,
    contextLength,
    stopTokenIds: stopTokenIdsOf(tok, model.config.raw),
    info: { backend: choice.backend, contextLength, vocabSize: model.config.vocabSize, parameters, adapter: !!model.lora },
  };
}
