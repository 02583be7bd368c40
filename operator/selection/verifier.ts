/**
 * The execution-free verifier (docs/method.md section 8), built on the training core: the policy's
 * tfjs decoder, its tokenizer and chat template, and the trainer's SFT objective (masked
 * cross-entropy on the answer turn). Trained on FINISHED trajectories of training tasks with the
 * target YES / NO from the reward; scored as p(YES) / (p(YES) + p(NO)) from the answers'
 * log-probs, and returned keyed by trajectory id.
 *
 * Not re-exported from selection/index.ts: importing it loads tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import type { TrajectoryRecord } from '../api/records.ts';
import { Preference, Training } from '../api/common.ts';
import { parse } from '../api/validate.ts';
import { logger } from '../logging/logger.ts';
import { selectBackend, type BackendPreference } from '../training/backend.ts';
import { loadChatTokenizer, type ChatTokenizer } from '../training/chat.ts';
import { loadModel } from '../training/model-io.ts';
import type { CausalLM } from '../training/model.ts';
import { logSoftmax } from '../training/ops.ts';
import { train, type TrainResult } from '../training/trainer.ts';
import { calibration, type Calibration } from './calibration.ts';
import { hash53 } from './hash.ts';
import {
  VERIFIER_ANSWERS,
  scoreAll,
  verifierLabel,
  verifierMessages,
  yesProbability,
  type RenderOptions,
  type ScoreAllOptions,
  type VerifierInput,
} from './verifier-prompt.ts';

export const VERIFIER_CONFIG = 'verifier.json';

/** verifier.json, next to the model files: how the verifier was trained and reads trajectories. */
export interface VerifierConfig {
  schema: 'entropo.dev/verifier/v1';
  answers: { yes: string; no: string };
  render: RenderOptions;
  /** Prompt tokens kept (the END of the prompt, like training's keep-end truncation). */
  maxSequenceLength: number;
  trainedOn?: { examples: number; yes: number; no: number; tasks: number; validationTasks: number; skippedUnfinished: number };
  calibration?: { train?: Calibration; validation?: Calibration };
}

export interface VerifierTrainJob {
  /** The base model (Hugging Face style directory). */
  modelDir: string;
  outputDir: string;
  /** Trajectories of TRAINING tasks; only finished ones are used. */
  trajectories: readonly TrajectoryRecord[];
  /** Overrides of the `training` section (defaults from the schema). */
  training?: Partial<Training>;
  /** Share of tasks held out (by a seeded hash of the task id) to report calibration. Default 0.2. */
  validationFraction?: number;
  /** Repeat the rarer answer's examples so both answers are equally frequent. Default false. */
  balance?: boolean;
  render?: RenderOptions;
  maxSteps?: number;
  progress?: boolean;
  registry?: Registry;
}

export interface VerifierTrainResult {
  /** The trained verifier: a model directory with verifier.json. */
  verifierDir: string;
  config: VerifierConfig;
  train: TrainResult;
}

/** Splits tasks into train / validation by a seeded hash of the task id (stable across runs). */
export function isValidationTask(taskId: string, fraction: number, seed: number): boolean {
  return fraction > 0 && hash53(taskId, seed) / 2 ** 53 < fraction;
}

/** Trains a verifier; writes <outputDir>/model (loadable by Verifier.load) with verifier.json. */
export async function trainVerifier(job: VerifierTrainJob): Promise<VerifierTrainResult> {
  const training = parse<Training>(Training, job.training ?? {}, 'verifier training');
  const preference = parse<Preference>(Preference, {}, 'preference');
  const fraction = job.validationFraction ?? 0.2;
  const finished = job.trajectories.filter((t) => t.finished && t.exitReason !== 'sandbox_error');
  const skippedUnfinished = job.trajectories.length - finished.length;
  const val = finished.filter((t) => isValidationTask(t.taskId, fraction, training.seed));
  const trn = finished.filter((t) => !isValidationTask(t.taskId, fraction, training.seed));
  if (trn.length === 0) throw new Error(`verifier: no finished trajectories to train on (${job.trajectories.length} given, ${finished.length} finished, ${val.length} held out)`);
  const yes = trn.filter(verifierLabel);
  const no = trn.filter((t) => !verifierLabel(t));
  if (yes.length === 0 || no.length === 0) throw new Error(`verifier: training data needs both answers (${yes.length} YES, ${no.length} NO)`);

  // Each example is the trajectory rendered as one verifier conversation ending in its answer.
  const example = (t: TrajectoryRecord, copy = 0): TrajectoryRecord => ({
    ...t,
    id: copy ? `${t.id}#verifier-${copy}` : `${t.id}#verifier`,
    messages: verifierMessages(t, verifierLabel(t), job.render),
    tools: undefined,
  });
  const examples = trn.map((t) => example(t));
  if (job.balance) {
    const [few, many] = yes.length < no.length ? [yes, no] : [no, yes];
    for (let i = 0; i < many.length - few.length; i++) examples.push(example(few[i % few.length], 1 + Math.floor(i / few.length)));
  }
  const result = await train({
    modelDir: job.modelDir,
    outputDir: job.outputDir,
    trajectories: examples,
    training,
    preference,
    objective: 'sft',
    maxSteps: job.maxSteps,
    progress: job.progress,
    registry: job.registry,
    runName: path.basename(path.resolve(job.outputDir)),
  });
  if (!result.modelDir) throw new Error('verifier: training stopped before the model was saved');
  const config: VerifierConfig = {
    schema: 'entropo.dev/verifier/v1',
    answers: { ...VERIFIER_ANSWERS },
    render: job.render ?? {},
    maxSequenceLength: training.maxSequenceLength,
    trainedOn: {
      examples: examples.length,
      yes: yes.length,
      no: no.length,
      tasks: new Set(trn.map((t) => t.taskId)).size,
      validationTasks: new Set(val.map((t) => t.taskId)).size,
      skippedUnfinished,
    },
  };
  writeFileSync(path.join(result.modelDir, VERIFIER_CONFIG), JSON.stringify(config, null, 2));

  // Calibration on the training split and on the held-out tasks.
  const verifier = await Verifier.load(result.modelDir, { backend: training.backend });
  try {
    const report = async (ts: TrajectoryRecord[]) => {
      if (ts.length === 0) return undefined;
      const scores = await verifier.scoreAll(ts);
      return calibration(ts.map((t) => scores.get(t.id)!), ts.map(verifierLabel));
    };
    config.calibration = { train: await report(trn), validation: await report(val) };
  } finally {
    verifier.dispose();
  }
  writeFileSync(path.join(result.modelDir, VERIFIER_CONFIG), JSON.stringify(config, null, 2));
  logger.info('verifier trained', {
    component: 'verifier',
    dir: result.modelDir,
    ...config.trainedOn,
    trainAuc: config.calibration.train?.auc,
    validationAuc: config.calibration.validation?.auc,
    validationEce: config.calibration.validation?.ece,
  });
  return { verifierDir: result.modelDir, config, train: result };
}

/** A trained verifier loaded for scoring. */
export class Verifier {
  private constructor(
    readonly dir: string,
    readonly config: VerifierConfig,
    private readonly model: CausalLM,
    private readonly tok: ChatTokenizer,
    private readonly yesIds: number[],
    private readonly noIds: number[],
  ) {}

  /**
   * Loads a verifier directory (a model directory; verifier.json optional: without it the model
   * is used as a zero-shot judge with the default rendering).
   */
  static async load(dir: string, opts: { backend?: BackendPreference } = {}): Promise<Verifier> {
    await selectBackend(opts.backend ?? 'Auto');
    const file = path.join(dir, VERIFIER_CONFIG);
    const config: VerifierConfig = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as VerifierConfig)
      : { schema: 'entropo.dev/verifier/v1', answers: { ...VERIFIER_ANSWERS }, render: {}, maxSequenceLength: 18432 };
    const tok = loadChatTokenizer(dir);
    const yesIds = tok.encode(config.answers.yes);
    const noIds = tok.encode(config.answers.no);
    if (!yesIds.length || !noIds.length) throw new Error(`${dir}: the answers encode to no tokens`);
    const model = loadModel(dir);
    return new Verifier(dir, config, model, tok, yesIds, noIds);
  }

  /** Prompt token ids: the rendered prompt with the generation prompt, its END kept when too long. */
  promptIds(input: VerifierInput): number[] {
    const text = this.tok.render(verifierMessages(input, undefined, this.config.render), { addGenerationPrompt: true });
    const ids = this.tok.encode(text);
    const budget = this.config.maxSequenceLength - Math.max(this.yesIds.length, this.noIds.length) - 1;
    return ids.length > budget ? ids.slice(ids.length - budget) : ids;
  }

  /** log p(answer | prompt) of both answers (sums over the answers' tokens). */
  answerLogProbs(input: VerifierInput): { yes: number; no: number } {
    const ids = this.promptIds(input);
    const multi = this.yesIds.length > 1 || this.noIds.length > 1;
    return tf.tidy(() => {
      const V = this.model.config.vocabSize;
      const { logits, cache } = this.model.forward([ids], { returnCache: multi });
      const first = logSoftmax(tf.reshape(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, V]), [1, V])).dataSync();
      const answer = (answerIds: number[]) => {
        let lp = first[answerIds[0]];
        if (answerIds.length > 1) {
          // continue from the prompt's KV cache: positions of answer[0..n-2] predict answer[1..n-1]
          const rest = this.model.forward([answerIds.slice(0, -1)], { cache });
          const lps = logSoftmax(tf.reshape(rest.logits, [answerIds.length - 1, V])).dataSync();
          for (let j = 1; j < answerIds.length; j++) lp += lps[(j - 1) * V + answerIds[j]];
        }
        return lp;
      };
      return { yes: answer(this.yesIds), no: answer(this.noIds) };
    });
  }

  /** p(YES) / (p(YES) + p(NO)) for one trajectory. */
  scoreOne(input: VerifierInput): number {
    const { yes, no } = this.answerLogProbs(input);
    return yesProbability(yes, no);
  }

  /** Scores of many trajectories, keyed by trajectory id. */
  scoreAll<T extends VerifierInput & { id: string }>(records: readonly T[], opts: ScoreAllOptions = {}): Promise<Map<string, number>> {
    // tfjs runs one forward at a time here; yielding between trajectories keeps the process responsive
    return scoreAll(records, async (r) => {
      await new Promise((resolve) => setImmediate(resolve));
      return this.scoreOne(r);
    }, { concurrency: 1, ...opts });
  }

  dispose(): void {
    this.model.dispose();
  }
}
