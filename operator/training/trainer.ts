/**
 * The trainer: preference data (or SFT data) from trajectory records -> tokenised multi-turn
 * sequences with assistant masks -> reference log-probs computed once -> LoRA or full
 * fine-tuning with AdamW, warm-up + schedule, clipping and accumulation -> checkpoints, metrics
 * (JSONL + Prometheus), progress bar, final model. The entry point takes its whole assignment as
 * arguments (it runs inside a trainer Pod or in-process in local mode).
 */
import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { register as globalRegistry, type Registry } from 'prom-client';
import type { ChatMessage, TrajectoryRecord } from '../api/records.ts';
import type { Preference, Training, TrainMetrics } from '../api/common.ts';
import { logger } from '../logging/logger.ts';
import { selectBackend, type BackendName } from './backend.ts';
import { loadChatTokenizer, type ChatTokenizer } from './chat.ts';
import { encodeConversation, MaskError, type EncodedSequence } from './render.ts';
import { buildDpoExamples, buildKtoExamples, buildSftExamples, isTrainable, splitPrompt, trlJsonl, type Conversation } from './data.ts';
import { attachLora, loadModel, saveModel } from './model-io.ts';
import type { CausalLM } from './model.ts';
import { padBatch, perSequenceSum, referenceLogProbs, tokenCrossEntropy, tokenEntropy, tokenStats, type PaddedBatch } from './logprobs.ts';
import { authorsKlReferencePoint, dpoLoss, exactReferencePoint, ktoLoss, sftLoss, trlKlReferencePoint } from './losses.ts';
import { AdamW, clipByGlobalNorm, lrFactor } from './optimizer.ts';
import { permutation } from './rng.ts';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { trainingMetrics } from './metrics.ts';

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
}

export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  learningRate: number;
  gradNorm: number;
  /** Implicit-reward margin: chosen - rejected (DPO), mean desirable - mean undesirable (KTO). */
  margin?: number;
  z0?: number;
  /** Mean policy token entropy over assistant tokens (nats). */
  entropy: number;
  /** Mean per-token KL(pi || pi_ref) over assistant tokens, when the reference distribution was computed. */
  kl?: number;
  examples: number;
  tokens: number;
  assistantTokens: number;
  stepSeconds: number;
  tokensPerSecond: number;
}

export interface TrainResult {
  backend: BackendName;
  examples: number;
  /** Trajectories (DPO: pairs) that were eligible but could not be encoded (see data). */
  dropped: number;
  /** Why records did not become training items, and keep-end truncations. */
  data: DataCounts;
  totalSteps: number;
  stepsDone: number;
  halted: boolean;
  resumedFrom?: number;
  history: StepMetrics[];
  summary: TrainMetrics;
  modelDir?: string;
}

interface Item {
  seqs: EncodedSequence[]; // 1 (KTO/SFT) or 2 (DPO: chosen, rejected)
  ref: number[];
  label?: boolean;
  prompt: ChatMessage[];
  completion: ChatMessage[];
  tools?: unknown[];
}

function fingerprint(job: TrainJob, items: Item[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ t: job.training, p: job.preference, o: job.objective ?? 'preference', m: job.maxSteps ?? null }));
  for (const it of items) for (const s of it.seqs) h.update(s.ids.join(','));
  return h.digest('hex').slice(0, 16);
}

/** Why trajectories (or pairs) did not become training items, and keep-end truncations. */
export interface DataCounts {
  /** Records that are no sample (sandbox_error, model_error) or have no assistant turn. */
  noSample: number;
  /** Cut off by a limit (KTO / DPO train finished trajectories only). */
  unfinished: number;
  /** Chat template could not locate an assistant turn (MaskError). */
  unmaskable: number;
  /** Over training.maxSequenceLength with truncation drop, or no assistant token left after truncation. */
  tooLong: number;
  /** Sequences cut by keep-end truncation (still trained). */
  truncated: number;
  /** DPO pairs whose chosen and rejected prompts differ (trained, each on its own messages). */
  promptMismatch: number;
}

/**
 * Builds the training items of the job (pure apart from tokenisation). One bad record never
 * fails the job: a record that cannot be masked or does not fit is dropped and counted.
 */
export function buildItems(job: TrainJob, tok: ChatTokenizer): { items: Item[]; dropped: number; counts: DataCounts; trl?: string } {
  const counts: DataCounts = { noSample: 0, unfinished: 0, unmaskable: 0, tooLong: 0, truncated: 0, promptMismatch: 0 };
  const enc = (c: Conversation): EncodedSequence | undefined => {
    let s: EncodedSequence | undefined;
    try {
      s = encodeConversation(tok, c.messages, { tools: c.tools, maxLength: job.training.maxSequenceLength, truncation: job.training.truncation });
    } catch (e) {
      if (!(e instanceof MaskError)) throw e;
      counts.unmaskable++;
      return undefined;
    }
    if (!s || s.assistantTokens === 0) {
      counts.tooLong++;
      return undefined;
    }
    return s;
  };
  const items: Item[] = [];
  const trainable = job.trajectories.filter(isTrainable);
  counts.noSample = job.trajectories.length - trainable.length;
  const finish = (trl?: string) => {
    for (const it of items) for (const s of it.seqs) if (s.truncated) counts.truncated++;
    return { items, dropped: counts.unmaskable + counts.tooLong, counts, trl };
  };
  if ((job.objective ?? 'preference') === 'sft') {
    for (const { trajectory: t, conversation } of buildSftExamples(job.trajectories)) {
      const s = enc(conversation);
      if (s) items.push({ seqs: [s], ref: [0], ...splitPrompt(t.messages), tools: t.tools });
    }
    return finish();
  }
  counts.unfinished = trainable.filter((t) => !t.finished).length;
  if (job.preference.algorithm === 'KTO') {
    const ex = buildKtoExamples(job.trajectories);
    for (const e of ex) {
      const s = enc(e.conversation);
      if (s) items.push({ seqs: [s], ref: [0], label: e.example.label, prompt: e.example.prompt, completion: e.example.completion, tools: e.tools });
    }
    return finish(trlJsonl(ex));
  }
  const ex = buildDpoExamples(job.trajectories);
  for (const e of ex) {
    const c = enc(e.chosen);
    const r = c && enc(e.rejected);
    if (c && r) {
      items.push({ seqs: [c, r], ref: [0, 0], prompt: e.example.prompt, completion: e.example.chosen, tools: e.tools });
      if (!e.samePrompt) counts.promptMismatch++;
    }
  }
  return finish(trlJsonl(ex));
}

/** Per-sequence masked log-prob sums under a forward function, without gradients. */
function sequenceLogps(forward: (ids: number[][]) => tf.Tensor3D, seqs: EncodedSequence[], padId: number, chunk: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < seqs.length; i += chunk) {
    const batch = padBatch(seqs.slice(i, i + chunk), padId);
    out.push(...tf.tidy(() => Array.from(tokenStats(forward(batch.ids), batch).logp.dataSync())));
  }
  return out;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

export async function train(job: TrainJob): Promise<TrainResult> {
  const tr = job.training;
  const pref = job.preference;
  const objective = job.objective ?? 'preference';
  const kto = { desirableWeight: 1, undesirableWeight: 1, referencePoint: 'Exact' as const, referencePointEvery: 1, ...(pref.kto ?? {}) };
  const isKto = objective === 'preference' && pref.algorithm === 'KTO';
  const isDpo = objective === 'preference' && pref.algorithm === 'DPO';
  const microCount = tr.gradientAccumulationSteps;
  if (microCount > tr.batchSize) throw new Error(`training.gradientAccumulationSteps (${microCount}) must be <= training.batchSize (${tr.batchSize})`);
  if (isKto && kto.referencePoint !== 'Exact' && tr.batchSize < 2) {
    throw new Error(`training.batchSize must be >= 2 for preference.kto.referencePoint ${kto.referencePoint} (mismatched pairs need two examples)`);
  }
  const registry = job.registry ?? globalRegistry;
  const run = job.runName ?? path.basename(path.resolve(job.outputDir));
  const log = logger.child({ component: 'trainer', run });
  const { backend } = await selectBackend(tr.backend, registry);
  const metrics = trainingMetrics(registry);

  const tok = loadChatTokenizer(job.modelDir);
  const { items, dropped, counts, trl } = buildItems(job, tok);
  const countsText = `${counts.noSample} no sample, ${counts.unfinished} unfinished, ${counts.unmaskable} not maskable by the chat template, ${counts.tooLong} over training.maxSequenceLength (${tr.maxSequenceLength}) with truncation ${tr.truncation}`;
  if (items.length === 0) {
    throw new Error(
      `trajectories: no training examples (${job.trajectories.length} trajectories, ${job.trajectories.filter((t) => t.finished).length} finished; ${countsText})`,
    );
  }
  log.info('training data', { items: items.length, trajectories: job.trajectories.length, dropped, ...counts });
  if (counts.unmaskable) log.warn('trajectories dropped: the chat template could not locate an assistant turn', { count: counts.unmaskable });
  if (counts.truncated) log.warn('sequences truncated (keep-end): their first turns are cut', { count: counts.truncated, maxSequenceLength: tr.maxSequenceLength });
  if (counts.promptMismatch) log.warn('DPO pairs whose prompts differ (each trained on its own messages; left out of preference.jsonl)', { count: counts.promptMismatch });
  mkdirSync(job.outputDir, { recursive: true });
  if (trl !== undefined) writeFileSync(path.join(job.outputDir, 'preference.jsonl'), trl);

  // Models: the policy, and the frozen reference (LoRA: the base without adapters).
  const model: CausalLM = loadModel(job.modelDir, { trainable: tr.method === 'Full' });
  if (tr.method === 'LoRA') {
    const l = { rank: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], ...(tr.lora ?? {}) };
    attachLora(model, l, tr.seed);
  }
  const separateRef = (job.referenceDir && path.resolve(job.referenceDir) !== path.resolve(job.modelDir)) || tr.method === 'Full';
  const refModel = separateRef ? loadModel(job.referenceDir ?? job.modelDir) : undefined;
  const refForward = (ids: number[][]) => (refModel ? refModel.forward(ids).logits : model.forward(ids, { adapters: false }).logits);
  const padId = tok.padTokenId;

  // Reference log-probs, once (METHOD.md section 3: pi_ref is frozen).
  if (objective === 'preference') {
    const t0 = Date.now();
    const all = items.flatMap((it) => it.seqs);
    const lps = sequenceLogps(refForward, all, padId, Math.max(1, Math.ceil(tr.batchSize / microCount)));
    let k = 0;
    for (const it of items) it.ref = it.seqs.map(() => lps[k++]);
    log.info('reference log-probs computed', { sequences: all.length, seconds: (Date.now() - t0) / 1000 });
  }

  const perEpoch = Math.ceil(items.length / tr.batchSize);
  const totalSteps = Math.min(tr.epochs * perEpoch, job.maxSteps ?? Infinity);
  const vars = model.trainableVariables();
  const varKey = new Map<string, string>();
  for (const [k, v] of vars) varKey.set(v.name, k);
  const opt = new AdamW(vars, { weightDecay: tr.weightDecay });
  const fp = fingerprint(job, items);
  const metricsFile = path.join(job.outputDir, 'metrics.jsonl');

  let start = 0;
  let z0Cache: number | undefined;
  let z0Step: number | undefined;
  let resumedFrom: number | undefined;
  const ckpt = job.resume === false ? undefined : latestCheckpoint(job.outputDir);
  if (ckpt) {
    const st = loadCheckpoint(ckpt, vars, opt);
    if (st.fingerprint !== fp) {
      throw new Error(`${ckpt}: checkpoint was made with other settings or data (fingerprint ${st.fingerprint}, now ${fp}); use a new output directory or resume: false`);
    }
    start = resumedFrom = st.step;
    z0Cache = st.z0;
    z0Step = st.z0Step;
    log.info('resumed from checkpoint', { checkpoint: ckpt, step: start });
  }
  // Metrics of steps after the checkpoint (an interrupted run's tail) are dropped.
  if (existsSync(metricsFile)) {
    const kept = readFileSync(metricsFile, 'utf8')
      .split('\n')
      .filter((l) => l && (JSON.parse(l) as StepMetrics).step <= start);
    writeFileSync(metricsFile, kept.map((l) => `${l}\n`).join(''));
  }

  const showBar = job.progress ?? Boolean(process.stderr.isTTY);
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: 'train [{bar}] {value}/{total} steps | loss {loss} | {tps} tok/s | eta {eta_formatted}',
          hideCursor: true,
          // asked for on a non-TTY stream (a Pod's log): print a line every 5 s instead of redrawing
          noTTYOutput: job.progress === true && !process.stderr.isTTY,
          notTTYSchedule: 5000,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(totalSteps, start, { loss: '-', tps: '-' });

  const history: StepMetrics[] = [];
  const temps = { zeta: pref.zeta, gamma: pref.gamma };
  const refEvery = job.referenceMetricsEvery ?? 10;
  let halted = false;

  for (let s = start; s < totalSteps; s++) {
    const t0 = performance.now();
    const epoch = Math.floor(s / perEpoch);
    const b = s % perEpoch;
    const idx = permutation(items.length, tr.seed, epoch).slice(b * tr.batchSize, (b + 1) * tr.batchSize);
    const micro: number[][] = [];
    const size = Math.ceil(idx.length / microCount);
    for (let i = 0; i < idx.length; i += size) micro.push(idx.slice(i, i + size));

    const z0Due = isKto && (z0Cache === undefined || s % kto.referencePointEvery === 0);
    const klDue = refEvery > 0 && s % refEvery === 0;
    // KL-trick reference points (section 5 variants): mismatched (x_i, y_{i+1}) pairs of the step's batch.
    if (isKto && z0Due && kto.referencePoint !== 'Exact') {
      const mism: EncodedSequence[] = [];
      idx.forEach((_, i) => {
        const a = items[idx[i]];
        const c = items[idx[(i + 1) % idx.length]];
        try {
          const e = encodeConversation(tok, [...a.prompt, ...c.completion], { tools: a.tools, maxLength: tr.maxSequenceLength, truncation: 'KeepEnd' });
          if (e && e.assistantTokens > 0) mism.push(e);
        } catch (err) {
          if (!(err instanceof MaskError)) throw err; // a mismatched pair the template cannot mask: left out of the estimate
        }
      });
      if (mism.length) {
        const lp = sequenceLogps((ids) => model.forward(ids).logits, mism, padId, size);
        const rl = sequenceLogps(refForward, mism, padId, size);
        z0Cache = kto.referencePoint === 'AuthorsKL' ? authorsKlReferencePoint(lp, rl, temps) : trlKlReferencePoint(lp, rl);
      } else z0Cache ??= 0;
      z0Step = s;
    }
    // Exact z0 (Eq. 13) is the mean over the whole batch: with gradient accumulation it is
    // computed in a pass over every micro-batch before the gradient pass (same dropout seeds, so
    // the same distributions); with one micro-batch it comes from the gradient pass's forward.
    let z0Batch: number | undefined;
    if (isKto && z0Due && kto.referencePoint === 'Exact' && micro.length > 1) {
      const hs: number[] = [];
      const ces: number[] = [];
      micro.forEach((mb, mi) =>
        tf.tidy(() => {
          const batch = padBatch(mb.map((i) => items[i].seqs[0]), padId);
          const st = tokenStats(model.forward(batch.ids, { dropoutSeed: tr.seed * 1000003 + s * 101 + mi }).logits, batch);
          const refLP = referenceLogProbs(refForward(batch.ids));
          hs.push(...perSequenceSum(tokenEntropy(st.logProbs), st.weights, mb.length).dataSync());
          ces.push(...perSequenceSum(tokenCrossEntropy(st.logProbs, refLP), st.weights, mb.length).dataSync());
        }),
      );
      z0Batch = exactReferencePoint(hs, ces, temps);
    }

    let grads = new Map<string, tf.Tensor>();
    let lossSum = 0;
    let entropySum = 0;
    let klSum = 0;
    let klTokens = 0;
    let assistantTokens = 0;
    let tokens = 0;
    const margins: number[] = [];
    const desirable: number[] = [];
    const undesirable: number[] = [];
    const z0s: number[] = [];
    micro.forEach((mb, mi) => {
      const weight = mb.length / idx.length;
      const seqs = isDpo ? [...mb.map((i) => items[i].seqs[0]), ...mb.map((i) => items[i].seqs[1])] : mb.map((i) => items[i].seqs[0]);
      const batch: PaddedBatch = padBatch(seqs, padId);
      tokens += batch.lengths.reduce((a, x) => a + x, 0);
      const needRefDist = (isKto && z0Due && kto.referencePoint === 'Exact' && z0Batch === undefined) || klDue;
      const refLP = needRefDist ? tf.tidy(() => referenceLogProbs(refForward(batch.ids))) : undefined;
      const B = seqs.length;
      const { value, grads: g } = tf.variableGrads(() => {
        const { logits } = model.forward(batch.ids, { dropoutSeed: tr.seed * 1000003 + s * 101 + mi });
        const st = tokenStats(logits, batch);
        const hSums = Array.from(perSequenceSum(tokenEntropy(st.logProbs), st.weights, B).dataSync());
        const n = st.counts.reduce((a, x) => a + x, 0);
        assistantTokens += n;
        entropySum += hSums.reduce((a, x) => a + x, 0);
        let ceSums: number[] | undefined;
        if (refLP) {
          ceSums = Array.from(perSequenceSum(tokenCrossEntropy(st.logProbs, refLP), st.weights, B).dataSync());
          klSum += ceSums.reduce((a, x) => a + x, 0) - hSums.reduce((a, x) => a + x, 0);
          klTokens += n;
        }
        const ref = tf.tensor1d(isDpo ? [...mb.map((i) => items[i].ref[0]), ...mb.map((i) => items[i].ref[1])] : mb.map((i) => items[i].ref[0]));
        let loss: tf.Scalar;
        if (objective === 'sft') {
          loss = sftLoss(st.logp, st.counts);
        } else if (isDpo) {
          const half = mb.length;
          const r = dpoLoss(
            {
              chosen: tf.slice(st.logp, 0, half),
              rejected: tf.slice(st.logp, half, half),
              refChosen: tf.slice(ref, 0, half),
              refRejected: tf.slice(ref, half, half),
            },
            temps,
          );
          margins.push(...r.margins.dataSync());
          loss = r.loss;
        } else {
          if (z0Due && kto.referencePoint === 'Exact') {
            // Eq. 13 over the batch's trajectories (policy's full distribution and the
            // reference's); a constant (no gradient).
            z0s.push(z0Batch ?? exactReferencePoint(hSums, ceSums!, temps));
          }
          const z0 = z0Due && kto.referencePoint === 'Exact' ? z0s[z0s.length - 1] : z0Cache!;
          const labels = mb.map((i) => items[i].label!);
          const r = ktoLoss(st.logp, ref, labels, z0, { ...temps, desirableWeight: kto.desirableWeight, undesirableWeight: kto.undesirableWeight, mode: kto.referencePoint });
          const u = r.rewards.dataSync();
          labels.forEach((l, i) => (l ? desirable : undesirable).push(u[i]));
          loss = r.loss;
        }
        return tf.mul(loss, weight) as tf.Scalar;
      }, [...vars.values()]);
      lossSum += value.dataSync()[0];
      value.dispose();
      refLP?.dispose();
      for (const [name, gt] of Object.entries(g)) {
        const key = varKey.get(name)!;
        const prev = grads.get(key);
        if (prev) {
          grads.set(key, tf.add(prev, gt));
          prev.dispose();
          gt.dispose();
        } else grads.set(key, gt);
      }
    });
    if (z0s.length) {
      z0Cache = mean(z0s);
      z0Step = s;
    }
    const clipped = clipByGlobalNorm(grads, tr.maxGradNorm);
    grads = clipped.grads;
    const lr = tr.learningRate * lrFactor(s, totalSteps, tr.warmupRatio, tr.scheduler);
    opt.apply(grads, lr);
    for (const g of grads.values()) g.dispose();
    const stepSeconds = (performance.now() - t0) / 1000;

    const m: StepMetrics = {
      step: s + 1,
      epoch,
      loss: lossSum,
      learningRate: lr,
      gradNorm: clipped.norm,
      margin: isDpo ? mean(margins) : isKto && desirable.length && undesirable.length ? mean(desirable) - mean(undesirable) : undefined,
      z0: isKto ? z0Cache : undefined,
      entropy: entropySum / Math.max(1, assistantTokens),
      kl: klTokens ? klSum / klTokens : undefined,
      examples: idx.length,
      tokens,
      assistantTokens,
      stepSeconds,
      tokensPerSecond: tokens / stepSeconds,
    };
    history.push(m);
    appendFileSync(metricsFile, `${JSON.stringify(m)}\n`);
    metrics.loss.set({ run }, m.loss);
    if (m.margin !== undefined) metrics.margin.set({ run }, m.margin);
    if (m.z0 !== undefined) metrics.z0.set({ run }, m.z0);
    metrics.entropy.set({ run }, m.entropy);
    if (m.kl !== undefined) metrics.kl.set({ run }, m.kl);
    metrics.gradNorm.set({ run }, m.gradNorm);
    metrics.tokensPerSecond.set({ run }, m.tokensPerSecond);
    metrics.learningRate.set({ run }, lr);
    metrics.step.set({ run }, s + 1);
    metrics.tokens.inc({ run }, tokens);
    bar?.update(s + 1, { loss: m.loss.toFixed(4), tps: m.tokensPerSecond.toFixed(0) });
    log.debug('step', m);

    const last = s + 1 === totalSteps;
    const halt = job.haltAfterStep !== undefined && s + 1 >= job.haltAfterStep && !last;
    if (last || halt || (job.checkpointEvery && (s + 1) % job.checkpointEvery === 0)) {
      await saveCheckpoint(job.outputDir, vars, opt, { step: s + 1, z0: z0Cache, z0Step, fingerprint: fp, totalSteps });
    }
    if (halt) {
      halted = true;
      break;
    }
  }
  bar?.stop();

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
  return { backend, examples: items.length, dropped, data: counts, totalSteps, stepsDone: start + history.length, halted, resumedFrom, history, summary, modelDir };
}
