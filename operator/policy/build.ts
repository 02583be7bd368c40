/**
 * `entropo policy build`: the built-in tiny coder policy, reproducibly from a seed.
 *
 *   train-split tasks (seeded choice) -> demonstrations through the real tools and grader
 *   (demos.ts) -> a byte-level BPE trained on them and the suite's sources (bpe.ts) -> a
 *   seeded random Llama-style model -> SFT with the project's trainer (operator/training) ->
 *   the checkpoint (config.json, model.safetensors in f16, tokenizer.json,
 *   tokenizer_config.json) + data.json (what the demonstrations are) + BUILD.json (command,
 *   seed, data sizes, measured times, loss).
 *
 * The work directory keeps the demonstrations (demos.jsonl) and the trainer's checkpoints, so an
 * interrupted build resumes where it stopped.
 */
import { Template } from '@huggingface/jinja';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Preference, Training } from '../api/common.ts';
import type { TrajectoryRecord } from '../api/records.ts';
import { parse } from '../api/validate.ts';
import { logger } from '../logging/logger.ts';
import { loadBuiltinSuite } from '../tasks/suite.ts';
import { shuffled } from '../tasks/dataset.ts';
import { loadChatTokenizer } from '../training/chat.ts';
import { expectedTensors, parseModelConfig } from '../training/model-config.ts';
import { encodeConversation } from '../training/render.ts';
import { Rng } from '../training/rng.ts';
import { readSafetensors, writeSafetensors, type TensorMap } from '../training/safetensors.ts';
import { train } from '../training/trainer.ts';
import { trainByteLevelBpe } from './bpe.ts';
import { DEFAULT_MIX, planTask, suiteDefinitions, taskDemos, type Demo, type DemoMix, type TaskPlan } from './demos.ts';
import { writeSafetensorsF16 } from './f16.ts';
import { CHAT_TEMPLATE, SPECIAL_TOKENS, TOOL_CALL_TOKENS, tokenizerConfig } from './template.ts';

export interface ModelShape {
  hiddenSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediateSize: number;
  vocabSize: number;
  /** Training sequence length and the model's max_position_embeddings. */
  contextLength: number;
}

export const DEFAULT_SHAPE: ModelShape = { hiddenSize: 128, layers: 2, heads: 4, kvHeads: 4, intermediateSize: 352, vocabSize: 1024, contextLength: 1024 };

export interface PolicyBuildOptions {
  /** Output: the checkpoint directory. */
  outDir: string;
  /** Work directory (demonstrations, trainer checkpoints); default <os tmp>/entropo-policy-build-<seed>. */
  workDir?: string;
  seed: number;
  /** Number of train-split tasks (seeded choice), or explicit ids. */
  tasks: number | string[];
  mix?: DemoMix;
  shape?: ModelShape;
  learningRate?: number;
  batchSize?: number;
  /** Optimizer steps (the schedule spans them). */
  steps: number;
  /**
   * Continue from this checkpoint (a directory `entropo policy build` wrote) instead of a random
   * model: its tokenizer and weights are kept; its BUILD.json is recorded as the previous stage.
   */
  init?: string;
  /** The command line, recorded in BUILD.json. */
  command?: string;
  progress?: boolean;
}

export interface BuildReport {
  schema: 'entropo.dev/policy-build/v1';
  command: string;
  seed: number;
  tasks: string[];
  mix: DemoMix;
  demonstrations: { total: number; byKind: Record<string, number>; dropped: number; maxTokens: number; meanTokens: number; assistantTokens: number };
  tokenizer: { vocabSize: number; merges: number; corpusTexts: number };
  model: ModelShape & { parameters: number; bytes: number };
  training: { steps: number; batchSize: number; learningRate: number; epochs: number; firstLoss: number; finalLoss: number; tokensPerSecond: number; backend: string };
  seconds: { demonstrations: number; tokenizer: number; training: number; total: number };
  /** The build this one continued from (--init), as its BUILD.json says. */
  previous?: BuildReport;
  builtAt: string;
  node: string;
  cpus: number;
}

const log = logger.child({ component: 'policy-build' });

/** The train-split tasks of a build: a seeded choice of n, or the given ids (suite order kept). */
export async function buildTasks(sel: number | string[], seed: number) {
  const train = await loadBuiltinSuite({ split: 'train' });
  if (Array.isArray(sel)) {
    const missing = sel.filter((id) => !train.some((t) => t.instance_id === id));
    if (missing.length) throw new Error(`--task: not train-split tasks of the built-in suite: ${missing.join(', ')}`);
    return train.filter((t) => sel.includes(t.instance_id));
  }
  if (!(sel >= 1 && sel <= train.length)) throw new Error(`--tasks must be between 1 and ${train.length} (got ${sel})`);
  const chosen = new Set(shuffled(train, seed).slice(0, sel).map((t) => t.instance_id));
  return train.filter((t) => chosen.has(t.instance_id));
}

/** A seeded random Llama-style checkpoint (HF init: normal(0, 0.02), norms 1) with the tokenizer files. */
export function writeInitialModel(dir: string, shape: ModelShape, seed: number, tokenizerDir: string): Record<string, unknown> {
  mkdirSync(dir, { recursive: true });
  const raw = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: shape.vocabSize,
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    head_dim: shape.hiddenSize / shape.heads,
    hidden_act: 'silu',
    max_position_embeddings: shape.contextLength,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    attention_bias: false,
    tie_word_embeddings: true,
    initializer_range: 0.02,
    bos_token_id: null,
    eos_token_id: null,
    pad_token_id: null,
    _name_or_path: 'builtin:tiny-coder',
  };
  const cfg = parseModelConfig(raw);
  const rng = new Rng(seed);
  const tensors: TensorMap = new Map();
  for (const [name, tshape] of expectedTensors(cfg)) {
    const n = tshape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = name.endsWith('norm.weight') ? 1 : 0.02 * rng.normal();
    tensors.set(name, { shape: tshape, data });
  }
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw, null, 2));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(tokenizerDir, f), path.join(dir, f));
  return raw;
}

/** Renders a conversation with the compact template (no tokenizer needed: the BPE corpus). */
function renderText(messages: TrajectoryRecord['messages']): string {
  return new Template(CHAT_TEMPLATE).render({ messages: messages.map((m) => ({ ...m, content: m.content ?? '' })), add_generation_prompt: false });
}

export async function buildPolicy(o: PolicyBuildOptions): Promise<BuildReport> {
  const t0 = Date.now();
  const mix = o.mix ?? DEFAULT_MIX;
  const shape = o.shape ?? DEFAULT_SHAPE;
  const work = o.workDir ?? path.join(os.tmpdir(), `entropo-policy-build-${o.seed}`);
  mkdirSync(work, { recursive: true });
  mkdirSync(o.outDir, { recursive: true });

  // ---- demonstrations (cached in the work directory: same tasks, mix and seed give the same data)
  const tasks = await buildTasks(o.tasks, o.seed);
  const key = JSON.stringify({ tasks: tasks.map((t) => t.instance_id), mix, seed: o.seed });
  const demoFile = path.join(work, 'demos.jsonl');
  const planFile = path.join(work, 'data.json');
  let demos: Demo[];
  let plans: TaskPlan[];
  const cached = existsSync(planFile) ? (JSON.parse(readFileSync(planFile, 'utf8')) as { key: string; plans: TaskPlan[] }) : undefined;
  if (cached?.key === key && existsSync(demoFile)) {
    plans = cached.plans;
    demos = readFileSync(demoFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Demo);
    log.info('demonstrations reused', { file: demoFile, demonstrations: demos.length });
  } else {
    const defs = await suiteDefinitions();
    demos = [];
    plans = [];
    for (const [i, task] of tasks.entries()) {
      const plan = await planTask(task, defs);
      plans.push(plan);
      demos.push(...(await taskDemos(task, plan, mix, o.seed * 1000 + i)));
      log.info('demonstrations', { task: task.instance_id, done: i + 1, of: tasks.length, wrongEdits: plan.wrong.map((w) => w.kind), droppedResolving: plan.droppedResolving });
    }
    writeFileSync(demoFile, demos.map((d) => JSON.stringify(d)).join('\n') + '\n');
    writeFileSync(planFile, JSON.stringify({ key, plans }, null, 1));
  }
  const tDemos = Date.now();

  // ---- tokenizer: byte-level BPE on the rendered demonstrations (the suite's code appears in their observations)
  const corpus: string[] = demos.map((d) => renderText(d.record.messages));
  const tokDir = o.init ?? path.join(work, 'tokenizer');
  let merges: number;
  if (o.init) {
    merges = (JSON.parse(readFileSync(path.join(o.init, 'tokenizer.json'), 'utf8')) as { model: { merges: unknown[] } }).model.merges.length;
  } else {
    const bpe = trainByteLevelBpe(corpus, { vocabSize: shape.vocabSize, specialTokens: SPECIAL_TOKENS, addedTokens: TOOL_CALL_TOKENS });
    merges = bpe.merges;
    mkdirSync(tokDir, { recursive: true });
    writeFileSync(path.join(tokDir, 'tokenizer.json'), JSON.stringify(bpe.json));
    writeFileSync(path.join(tokDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(shape.contextLength), null, 2));
  }
  const tok = loadChatTokenizer(tokDir);
  const lengths = demos.map((d) => encodeConversation(tok, d.record.messages, { maxLength: 1 << 20, truncation: 'Drop' })!);
  const tTok = Date.now();
  log.info('tokenizer ready', { merges, maxTokens: Math.max(...lengths.map((l) => l.ids.length)) });

  // ---- model and SFT
  const initDir = o.init ?? path.join(work, 'init');
  const raw = o.init
    ? { ...(JSON.parse(readFileSync(path.join(o.init, 'config.json'), 'utf8')) as Record<string, unknown>), torch_dtype: undefined }
    : writeInitialModel(initDir, shape, o.seed, tokDir);
  const batchSize = o.batchSize ?? 4;
  const fits = lengths.filter((l) => l.ids.length <= shape.contextLength).length;
  const epochs = Math.max(1, Math.ceil((o.steps * batchSize) / Math.max(1, fits)));
  const training = parse<Training>(
    Training,
    {
      method: 'Full',
      learningRate: o.learningRate ?? 3e-3,
      warmupRatio: 0.05,
      scheduler: 'Cosine',
      epochs: Math.min(100, epochs),
      batchSize,
      maxGradNorm: 1,
      weightDecay: 0,
      maxSequenceLength: shape.contextLength,
      truncation: 'Drop',
      seed: o.seed,
      backend: 'Wasm',
    },
    'policy build training',
  );
  training.epochs = epochs; // the schema caps user input at 100; the build may need more passes over few tasks
  const trainDir = path.join(work, 'train');
  const result = await train({
    modelDir: initDir,
    outputDir: trainDir,
    trajectories: demos.map((d) => d.record),
    training,
    preference: parse<Preference>(Preference, {}, 'preference'),
    objective: 'sft',
    maxSteps: o.steps,
    checkpointEvery: 20,
    resume: true,
    referenceMetricsEvery: 0,
    progress: o.progress,
    runName: 'tiny-coder-build',
  });
  if (!result.modelDir) throw new Error('policy build: training stopped before the model was saved');
  const tTrain = Date.now();

  // ---- the checkpoint: f16 weights, config, tokenizer files, data and build record
  const tensors = readSafetensors(readFileSync(path.join(result.modelDir, 'model.safetensors'))).tensors;
  writeFileSync(path.join(o.outDir, 'model.safetensors'), writeSafetensorsF16(tensors, { format: 'pt' }));
  writeFileSync(path.join(o.outDir, 'config.json'), JSON.stringify({ ...raw, torch_dtype: 'float16' }, null, 2) + '\n');
  copyFileSync(path.join(tokDir, 'tokenizer.json'), path.join(o.outDir, 'tokenizer.json'));
  copyFileSync(path.join(tokDir, 'tokenizer_config.json'), path.join(o.outDir, 'tokenizer_config.json'));
  writeFileSync(path.join(o.outDir, 'data.json'), JSON.stringify(plans.map(({ taskId, file, gold, retryOldStr, wrong, droppedResolving }) => ({ taskId, file, gold, retryOldStr, wrong, droppedResolving })), null, 1) + '\n');
  const byKind: Record<string, number> = {};
  for (const d of demos) byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
  const params = [...tensors.values()].reduce((a, t) => a + t.data.length, 0);
  // the whole run's losses (a resumed build's history starts at the checkpoint)
  const h = readFileSync(path.join(trainDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { loss: number });
  const report: BuildReport = {
    schema: 'entropo.dev/policy-build/v1',
    command: o.command ?? '',
    seed: o.seed,
    tasks: tasks.map((t) => t.instance_id),
    mix,
    demonstrations: {
      total: demos.length,
      byKind,
      dropped: result.dropped,
      maxTokens: Math.max(...lengths.map((l) => l.ids.length)),
      meanTokens: Math.round(lengths.reduce((a, l) => a + l.ids.length, 0) / lengths.length),
      assistantTokens: Math.round(lengths.reduce((a, l) => a + l.assistantTokens, 0) / lengths.length),
    },
    tokenizer: { vocabSize: shape.vocabSize, merges, corpusTexts: corpus.length },
    model: { ...shape, parameters: params, bytes: readFileSync(path.join(o.outDir, 'model.safetensors')).length },
    training: {
      steps: result.stepsDone,
      batchSize,
      learningRate: training.learningRate,
      epochs,
      firstLoss: h[0]?.loss ?? NaN,
      finalLoss: h.length ? h.slice(-10).reduce((a, m) => a + m.loss, 0) / Math.min(10, h.length) : NaN,
      tokensPerSecond: Math.round(result.summary.tokensPerSecond ?? 0),
      backend: result.backend,
    },
    seconds: {
      demonstrations: (tDemos - t0) / 1000,
      tokenizer: (tTok - tDemos) / 1000,
      training: (tTrain - tTok) / 1000,
      total: (Date.now() - t0) / 1000,
    },
    ...(o.init && existsSync(path.join(o.init, 'BUILD.json')) ? { previous: JSON.parse(readFileSync(path.join(o.init, 'BUILD.json'), 'utf8')) as BuildReport } : {}),
    builtAt: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
  };
  writeFileSync(path.join(o.outDir, 'BUILD.json'), JSON.stringify(report, null, 2) + '\n');
  log.info('policy built', { dir: o.outDir, seconds: report.seconds.total, finalLoss: report.training.finalLoss });
  return report;
}
