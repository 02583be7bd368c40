/**
 * A served model in memory: the weights (with a PEFT LoRA adapter on its base when given), the
 * tokenizer and chat template, the context length and the ids that end a turn.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { autoPreference, parseBackendName, selectBackend, type BackendPreference } from '../training/backend.ts';
import { expectedTensors, parseModelConfig } from '../training/model-config.ts';
import { logger } from '../logging/logger.ts';
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
 * Below this many parameters `Auto` serves on wasm even where tfjs-node is installed. Decoding is
 * a long chain of small ops, and each tfjs-node op costs tens of microseconds of binding overhead:
 * on 2 cores a decode step on wasm (with the operator's kernels) took 0.4-0.6x the tfjs-node time
 * at 0.6M-33M parameters and was even or faster at 60M (docs/native-backend.md, "Serving").
 */
export const SERVE_ON_WASM_BELOW_PARAMETERS = 64_000_000;

/**
 * The backend a policy server asks for: `name` (--backend) when it names one; for `auto`, what
 * ENTROPO_TFJS_BACKEND names, else wasm for a model under SERVE_ON_WASM_BELOW_PARAMETERS
 * (`parameters`), else Auto (the fastest present). `reason` says why wasm was chosen.
 */
export function servingPreference(name: string, parameters: number, env: NodeJS.ProcessEnv = process.env): { pref: BackendPreference; reason?: string } {
  const explicit = backendPreference(name);
  if (explicit !== 'Auto') return { pref: explicit };
  const fromEnv = autoPreference(env);
  if (fromEnv !== 'Auto') return { pref: fromEnv };
  if (parameters < SERVE_ON_WASM_BELOW_PARAMETERS) return { pref: 'Wasm', reason: `${(parameters / 1e6).toFixed(1)}M parameters: small models decode faster on wasm (--backend to choose)` };
  return { pref: 'Auto' };
}

/** Parameters of the model in modelDir from its config.json alone (no weights read); 0 when it cannot be read (loading reports why). */
export function configuredParameters(modelDir: string): number {
  try {
    const config = parseModelConfig(JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>);
    let n = 0;
    for (const shape of expectedTensors(config).values()) n += shape.reduce((a, b) => a * b, 1);
    return n;
  } catch {
    return 0;
  }
}

/**
 * Loads modelDir (a Hugging Face style directory: config.json, safetensors, tokenizer files) and,
 * when given, the PEFT adapter in adapterDir (adapter_config.json + adapter_model.safetensors) on
 * top of it. The tokenizer comes from modelDir, else from adapterDir. Errors name the directory.
 */
export async function loadServedModel(o: { modelDir: string; adapterDir?: string; backend?: string; maxModelLen?: number }): Promise<LoadedModel> {
  const { pref, reason } = servingPreference(o.backend ?? 'auto', configuredParameters(o.modelDir));
  if (reason) logger.info('serving on wasm', { component: 'serving', reason });
  const choice = await selectBackend(pref, new Registry(), '--backend');
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
