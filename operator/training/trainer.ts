/**
 * The trainer's entry point: preference data (or SFT data) from trajectory records -> training
 * items (items.ts) -> reference log-probs computed once (reference.ts) -> resume (resume.ts) ->
 * the step loop (step-loop.ts) around the job's objective (objectives/: SFT, DPO, KTO) -> final
 * model, summary and metrics. The entry point takes its whole assignment as arguments (it runs
 * inside a trainer Pod or in-process in local mode); defaults come only from the schemas
 * (operator/api/common.ts Training, Preference).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { register as globalRegistry, type Registry } from 'prom-client';
import type { TrajectoryRecord } from '../api/records.ts';
import { Preference, Training, type TrainMetrics } from '../api/common.ts';
import { parse } from '../api/validate.ts';
import { logger } from '../logging/logger.ts';
import { selectBackend, type BackendName } from './backend.ts';
import { loadChatTokenizer } from './chat.ts';
import { attachLora, loadModel, saveModel } from './model-io.ts';
import type { CausalLM } from './model.ts';
import { AdamW } from './optimizer.ts';
import { trainingMetrics } from './metrics.ts';
import { buildItems, type DataCounts } from './items.ts';
import { computeReferenceLogps, referenceModel } from './reference.ts';
import type { HiddenModel } from './logprobs.ts';
import { finishedRun, fingerprint, resumeFrom, trimMetrics } from './resume.ts';
import { mean, runSteps, type StepMetrics } from './step-loop.ts';
import { objectiveFor } from './objectives/index.ts';
import { assertFits } from './memory.ts';

export { buildItems, type DataCounts, type Item } from './items.ts';
export type { StepMetrics } from './step-loop.ts';

export type Objective = 'preference' | 'sft';

export interface TrainJob {
  /** Hugging Face style model directory (the SFT checkpoint: policy start and, by default, the reference). */
  modelDir: string;
  /** Reference policy directory; default: the starting policy (LoRA: the base without adapters). */
  referenceDir?: string;
  outputDir: string;
  trajectories: TrajectoryRecord[];
  /** Defaulted `training` and `preference` sections (operator/api/common.ts). */
  training: Training;
  preference: Preference;
  /** sft: masked cross-entropy on every given trajectory. Default preference. */
  objective?: Objective;
  /** Cap on optimizer steps (the schedule is computed over the capped total). */
  maxSteps?: number;
  /** Save a checkpoint every N steps (and always at the end). 0: only at the end. */
  checkpointEvery?: number;
  /** Resume from the newest checkpoint in outputDir. Default true. */
  resume?: boolean;
  /** Stop (with a checkpoint) after this many steps, as an interruption would; the schedule is unchanged. */
  haltAfterStep?: number;
  /** Compute the reference distribution every N steps for the KL metric (KTO exact z0 steps always have it). 0: never. Default 10. */
  referenceMetricsEvery?: number;
  /** Progress bar on stderr; default: when stderr is a TTY. */
  progress?: boolean;
  /** Save the final model directory (merged weights + adapters). Default true. */
  saveModel?: boolean;
  registry?: Registry;
  runName?: string;
  /** Recompute each layer in the backward pass instead of keeping its activations (memory ~1/layers of the activations, ~1.3x the compute). Default false. */
  gradientCheckpointing?: boolean;
  /** Memory the backend may use, bytes (default: 4 GiB on wasm, the machine's RAM otherwise; memory.ts). */
  memoryLimitBytes?: number;
}

export interface TrainResult {
  backend: BackendName;
  examples: number;
  /** Trajectories (DPO: pairs) that were eligible but could not be encoded (see data). */
  dropped: number;
  /** Why records did not become training items, and KeepEnd truncations. */
  data: DataCounts;
  totalSteps: number;
  stepsDone: number;
  halted: boolean;
  resumedFrom?: number;
  history: StepMetrics[];
  summary: TrainMetrics;
  modelDir?: string;
}

/** The summary.json fields a finished run's result repeats. */
const SUMMARY_KEYS = ['loss', 'rewardMargin', 'z0', 'entropy', 'klToReference', 'gradNorm', 'tokensPerSecond', 'examples'] as const;

const finishedMessage = (outputDir: string, step: number, totalSteps: number) =>
  `${outputDir} already holds a finished run of these data and settings (step ${step} of ${totalSteps}): nothing is trained again; give another output directory (or remove this one) to train anew`;

/**
 * Trains the policy of `job`. An outputDir that already holds the finished run of the same
 * settings and data (checkpoint, summary.json, model/) is answered from its summary, with a
 * warning, before any model is loaded. Errors: a bad setting names its field (training.*, preference.*);
 * no training example left (with the reason counts); a checkpoint of other settings or data.
 */
export async function train(job: TrainJob): Promise<TrainResult> {
  // Defaults only from the schema: a section given without them (or partly) is completed here.
  const tr = parse<Training>(Training, job.training, 'training');
  const pref = parse<Preference>(Preference, job.preference, 'preference');
  const objectiveName = job.objective ?? 'preference';
  if (tr.gradientAccumulationSteps > tr.batchSize) {
    throw new Error(`training.gradientAccumulationSteps (${tr.gradientAccumulationSteps}) must be <= training.batchSize (${tr.batchSize})`);
  }
  const registry = job.registry ?? globalRegistry;
  const run = job.runName ?? path.basename(path.resolve(job.outputDir));
  const log = logger.child({ component: 'trainer', run });
  const tok = loadChatTokenizer(job.modelDir);
  const padId = tok.padTokenId;
  // The reference is set once the models are loaded (the objective is built first so its setting errors come early).
  const lazyRef: { current?: HiddenModel } = {};
  const reference: HiddenModel = {
    hidden: (ids) => lazyRef.current!.hidden(ids),
    get head() {
      return lazyRef.current!.head;
    },
  };
  const objective = objectiveFor(objectiveName, pref, { training: tr, temps: { zeta: pref.zeta, gamma: pref.gamma }, tok, padId, reference });
  const { backend } = await selectBackend(tr.backend, registry);
  const metrics = trainingMetrics(registry);

  const { items, dropped, counts, trl } = buildItems({ ...job, training: tr, preference: pref }, tok);
  const countsText = `${counts.noSample} no sample, ${counts.unfinished} unfinished, ${counts.unmaskable} not maskable by the chat template, ${counts.tooLong} over training.maxSequenceLength (${tr.maxSequenceLength}) with truncation ${tr.truncation}`;
  if (items.length === 0) {
    const tasks = new Set(job.trajectories.map((t) => t.taskId)).size;
    const unpaired = objectiveName === 'preference' && pref.algorithm === 'DPO' ? `; ${counts.unpairedTasks} of ${tasks} tasks with no resolved/unresolved pair of finished trajectories: DPO needs both per task (KTO trains on unpaired ones)` : '';
    throw new Error(`trajectories: no training examples (${job.trajectories.length} trajectories, ${job.trajectories.filter((t) => t.finished).length} finished; ${countsText}${unpaired})`);
  }
  log.info('training data', { items: items.length, trajectories: job.trajectories.length, dropped, ...counts });
  if (counts.unmaskable) log.warn('trajectories dropped: the chat template could not locate an assistant turn', { count: counts.unmaskable });
  if (counts.truncated) log.warn('sequences truncated (KeepEnd): their first turns are cut', { count: counts.truncated, maxSequenceLength: tr.maxSequenceLength });
  if (counts.promptMismatch) log.warn('DPO pairs whose prompts differ (each trained on its own messages; left out of preference.jsonl)', { count: counts.promptMismatch });
  mkdirSync(job.outputDir, { recursive: true });
  if (trl !== undefined) writeFileSync(path.join(job.outputDir, 'preference.jsonl'), trl);

  const perEpoch = Math.ceil(items.length / tr.batchSize);
  const totalSteps = Math.min(tr.epochs * perEpoch, job.maxSteps ?? Infinity);
  const fp = fingerprint({ t: job.training, p: job.preference, o: objectiveName, m: job.maxSteps ?? null }, items);
  // A run of these settings and data already finished here: say so before any model work (the
  // reference log-probs alone take minutes on a real model), and answer with its stored summary.
  const done = finishedRun(job.outputDir, fp, totalSteps, { enabled: job.resume !== false, needModel: job.saveModel !== false });
  if (done) {
    log.warn(finishedMessage(job.outputDir, done.step, totalSteps), { outputDir: job.outputDir, step: done.step, totalSteps });
    const summary: TrainMetrics = { examples: items.length };
    for (const k of SUMMARY_KEYS) if (typeof done.summary[k] === 'number') summary[k] = done.summary[k];
    return { backend, examples: items.length, dropped, data: counts, totalSteps, stepsDone: done.summary.stepsDone, halted: false, resumedFrom: done.step, history: [], summary, modelDir: done.modelDir };
  }

  // Models: the policy, and the frozen reference (LoRA: the base without adapters).
  const model: CausalLM = loadModel(job.modelDir, { trainable: tr.method === 'Full' });
  if (tr.method === 'LoRA') attachLora(model, tr.lora!, tr.seed);
  const separateRef = (job.referenceDir && path.resolve(job.referenceDir) !== path.resolve(job.modelDir)) || tr.method === 'Full';
  const refModel = separateRef ? loadModel(job.referenceDir ?? job.modelDir) : undefined;
  lazyRef.current = referenceModel(model, refModel);

  // Will the largest micro-batch fit? Fail now, not mid-run.
  const microItems = Math.ceil(tr.batchSize / tr.gradientAccumulationSteps);
  const longest = Math.max(...items.flatMap((it) => it.seqs.map((x) => x.ids.length)));
  const mem = assertFits(
    model.config,
    { sequences: Math.min(microItems, items.length) * items[0].seqs.length, tokens: longest },
    { full: tr.method === 'Full', separateReference: Boolean(refModel), backend, maxSequenceLength: tr.maxSequenceLength, limit: job.memoryLimitBytes, gradientCheckpointing: job.gradientCheckpointing },
  );
  log.info('memory estimate per micro-batch', { bytes: mem.total, activations: mem.activations, weights: mem.weights, longestSequence: longest });

  if (objective.usesReference) {
    const t0 = Date.now();
    const n = computeReferenceLogps(items, reference, padId, Math.max(1, Math.ceil(tr.batchSize / tr.gradientAccumulationSteps)));
    log.info('reference log-probs computed', { sequences: n, seconds: (Date.now() - t0) / 1000 });
  }

  const vars = model.trainableVariables();
  const opt = new AdamW(vars, { weightDecay: tr.weightDecay });
  const metricsFile = path.join(job.outputDir, 'metrics.jsonl');
  const resumed = resumeFrom(job.outputDir, fp, vars, opt, job.resume !== false);
  if (resumed.state) {
    objective.restore(resumed.state);
    log.info('resumed from checkpoint', { checkpoint: resumed.checkpoint, step: resumed.start });
    if (resumed.start >= totalSteps) {
      // Finished but its summary or model was not written (stopped after the last checkpoint): both are written below.
      log.warn(finishedMessage(job.outputDir, resumed.start, totalSteps), { outputDir: job.outputDir, step: resumed.start, totalSteps });
    }
  }
  trimMetrics(metricsFile, resumed.start);

  const { history, halted } = await runSteps(
    {
      training: tr,
      objective,
      items,
      model,
      reference,
      padId,
      start: resumed.start,
      totalSteps,
      outputDir: job.outputDir,
      metricsFile,
      fingerprint: fp,
      run,
      metrics,
      log,
      referenceMetricsEvery: job.referenceMetricsEvery ?? 10,
      checkpointEvery: job.checkpointEvery,
      gradientCheckpointing: job.gradientCheckpointing ?? false,
      haltAfterStep: job.haltAfterStep,
      progress: job.progress ?? Boolean(process.stderr.isTTY),
      progressLines: job.progress === true && !process.stderr.isTTY,
    },
    opt,
  );

  const start = resumed.start;
  const lastM = history[history.length - 1];
  const summary: TrainMetrics = {
    loss: lastM?.loss,
    rewardMargin: lastM?.margin,
    z0: lastM?.z0,
    entropy: lastM?.entropy,
    klToReference: [...history].reverse().find((h) => h.kl !== undefined)?.kl,
    gradNorm: lastM?.gradNorm,
    tokensPerSecond: history.length ? mean(history.map((h) => h.tokensPerSecond)) : undefined,
    examples: items.length,
  };
  for (const k of Object.keys(summary) as (keyof TrainMetrics)[]) if (summary[k] === undefined || Number.isNaN(summary[k])) delete summary[k];
  let modelDir: string | undefined;
  if (!halted && job.saveModel !== false) {
    modelDir = path.join(job.outputDir, 'model');
    await saveModel(model, modelDir, { tokenizerFrom: job.modelDir, adapters: tr.method === 'LoRA' });
  }
  writeFileSync(path.join(job.outputDir, 'summary.json'), JSON.stringify({ backend, halted, totalSteps, stepsDone: start + history.length, dropped, data: counts, ...summary }, null, 2));
  opt.dispose();
  model.dispose();
  refModel?.dispose();
  log.info('training done', { backend, steps: start + history.length, totalSteps, halted, ...summary });
  return { backend, examples: items.length, dropped, data: counts, totalSteps, stepsDone: start + history.length, halted, resumedFrom: resumed.state ? start : undefined, history, summary, modelDir };
}
