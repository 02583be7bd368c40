/**
 * bench:learn, the plan: budgets (full / quick), the arms (SFT only, M-KTO, EntroPO-KTO, M-DPO,
 * EntroPO-DPO, the EntroPO-KTO zeta/gamma sweep) and the manifests each run applies through local
 * mode (`entropo run --local`: a TrainingRun per trained arm and seed, whose own EvalSuite
 * evaluates the train split; an EvalSuite per checkpoint for the train-variant split; EvalSuites
 * of the seed checkpoint for SFT only). Pure: no I/O apart from reading the built-in policy's
 * BUILD.json and the variant suite's manifest (which tasks the policy was built on).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveBuiltinModel } from '../../operator/policy/builtin.ts';

/** The suites (operator/tasks/suite/). */
export const SUITE = 'entropo-bugs';
export const VARIANT_SUITE = 'entropo-bugs-variants';
export const POLICY = 'builtin:tiny-coder';
export const VERIFIER = 'builtin:tiny-verifier';

/** What one benchmark run costs and covers. */
export interface Budget {
  name: 'full' | 'quick';
  /** Seeds: rollout sampling seed and trainer seed of each repetition. */
  seeds: number[];
  /** Iterations of rollout -> update per TrainingRun (the evaluation follows the last). */
  iterations: number;
  /** Train-split tasks (instance ids) and their variants (the variant suite's ids). */
  trainTasks: string[];
  variantTasks: string[];
  /** Rollouts per training task per iteration (the preference data). */
  rolloutSamples: number;
  /** N of the evaluation (samples per task); smaller N are subsets of these (unbiased estimates). */
  evalN: number;
  /** The N reported. */
  ns: number[];
  /** Rollout limits (the quickstart's: the tiny policy's context is 1k tokens). */
  maxSteps: number;
  maxTokens: number;
  maxTokensPerTurn: number;
  parallelism: number;
  /** Preference update (LoRA). */
  learningRate: number;
  batchSize: number;
  epochs: number;
  /** gamma of every arm (paper 0.1); zeta = gamma * ratio (EntroPO ratio 1.1, M-* 1.0). */
  gamma: number;
  entropoRatio: number;
  /** zeta/gamma ratios of the EntroPO-KTO sweep; 1.0 and entropoRatio reuse the M-KTO / EntroPO-KTO arms. */
  sweep: number[];
  /** Seeds of the sweep's extra points (the arms' points have every seed). */
  sweepSeeds: number[];
}

export type Algorithm = 'KTO' | 'DPO';

/** One arm of the comparison. `ratio` undefined: no update (the seed checkpoint, "SFT only"). */
export interface Arm {
  id: string;
  label: string;
  algorithm?: Algorithm;
  ratio?: number;
  /** Part of the sweep only (not one of the five arms). */
  sweepOnly?: boolean;
}

/** The tasks the built-in policy was built on (its BUILD.json), else the quickstart's four. */
export function policyTasks(): string[] {
  const fallback = ['lru-overwrite-leaks-size', 'mx-rank-misses-later-pivot', 'mb-allocate-zero-ratio-gets-cents', 'tw-dedent-blank-lines-block-margin'];
  try {
    const build = JSON.parse(readFileSync(path.join(resolveBuiltinModel(POLICY), 'BUILD.json'), 'utf8')) as { tasks?: unknown };
    if (Array.isArray(build.tasks) && build.tasks.length > 0 && build.tasks.every((t) => typeof t === 'string')) return build.tasks as string[];
  } catch {
    // no BUILD.json: the quickstart's tasks
  }
  return fallback;
}

/** Variant ids (`<id>-variant`) of the given train tasks that the variant suite has. */
export function variantTasks(tasks: readonly string[]): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const manifest = path.join(here, '..', '..', 'operator', 'tasks', 'suite', VARIANT_SUITE, 'manifest.json');
  if (!existsSync(manifest)) return [];
  const ids = new Set(Object.keys(JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>));
  return tasks.map((t) => `${t}-variant`).filter((t) => ids.has(t));
}

/**
 * The budgets. full: 3 seeds x (4 trained arms + SFT) + 3 extra sweep points, 1 iteration, 8
 * rollouts per task for the preference data, LoRA lr 5e-3 batch 1 for one epoch, N = 8 on the
 * train split and on the variant split (about an hour on a lightly shared 2-core machine).
 * quick (CI): 1 seed, 1 task, 2 rollouts, N = 2, the sweep's extra point at 1.5 only.
 */
export function budget(name: 'full' | 'quick'): Budget {
  const tasks = policyTasks();
  const common = { maxSteps: 8, maxTokens: 4096, maxTokensPerTurn: 384, learningRate: 2e-3, gamma: 0.1, entropoRatio: 1.1 };
  if (name === 'quick') {
    const one = tasks.slice(0, 1);
    return {
      ...common,
      name,
      seeds: [1],
      iterations: 1,
      trainTasks: one,
      variantTasks: variantTasks(one),
      rolloutSamples: 2,
      evalN: 2,
      ns: [1, 2],
      parallelism: 2,
      // batch 1, 2 epochs: a few optimiser steps (a single step is all warm-up, lr 0)
      batchSize: 1,
      epochs: 2,
      sweep: [1.0, 1.1, 1.5],
      sweepSeeds: [1],
    };
  }
  return {
    ...common,
    name,
    seeds: [1, 2, 3],
    iterations: 1,
    trainTasks: tasks,
    variantTasks: variantTasks(tasks),
    rolloutSamples: 8,
    evalN: 8,
    ns: [1, 2, 4, 8],
    parallelism: 4,
    // batch 1, lr 5e-3: about 30 Adam steps per update (one per example), enough that M-* and
    // EntroPO-* reach different policies (at lr 2e-3, batch 2 they sampled identical evaluation
    // rollouts); one epoch keeps the update's cost (the bulk of a TrainingRun) in budget
    learningRate: 5e-3,
    batchSize: 1,
    epochs: 1,
    sweep: [1.0, 1.05, 1.1, 1.2, 1.5],
    sweepSeeds: [1, 2, 3],
  };
}

/** ratio 1.05 -> "1p05" (object names are DNS labels). */
export const ratioTag = (r: number): string => r.toFixed(2).replace(/0$/, '').replace('.', 'p');

/** The five arms, then the sweep's extra EntroPO-KTO points. */
export function arms(b: Budget): Arm[] {
  const five: Arm[] = [
    { id: 'sft', label: 'SFT only (seed)' },
    { id: 'm-kto', label: 'M-KTO', algorithm: 'KTO', ratio: 1.0 },
    { id: 'entropo-kto', label: 'EntroPO-KTO', algorithm: 'KTO', ratio: b.entropoRatio },
    { id: 'm-dpo', label: 'M-DPO', algorithm: 'DPO', ratio: 1.0 },
    { id: 'entropo-dpo', label: 'EntroPO-DPO', algorithm: 'DPO', ratio: b.entropoRatio },
  ];
  const extra = b.sweep
    .filter((r) => r !== 1.0 && r !== b.entropoRatio)
    .map((r): Arm => ({ id: `kto-r${ratioTag(r)}`, label: `EntroPO-KTO zeta/gamma ${r}`, algorithm: 'KTO', ratio: r, sweepOnly: true }));
  return [...five, ...extra];
}

/** The arm of a sweep point. */
export function sweepArm(b: Budget, ratio: number): string {
  if (ratio === 1.0) return 'm-kto';
  if (ratio === b.entropoRatio) return 'entropo-kto';
  return `kto-r${ratioTag(ratio)}`;
}

/** One local-mode run of the benchmark. */
export interface Job {
  /** metadata.name of the object (unique in the benchmark's store). */
  name: string;
  kind: 'TrainingRun' | 'EvalSuite';
  arm: string;
  seed: number;
  /** Which split its evaluation covers (a TrainingRun: the train split, through its own EvalSuite). */
  split: 'train' | 'variants';
  /** The manifest; an EvalSuite of a trained checkpoint gets its policy source when that is known. */
  manifest: (checkpoint?: string) => Record<string, unknown>;
  /** A job whose manifest needs the checkpoint of this TrainingRun job. */
  after?: string;
}

const tasksOf = (suite: string, ids: string[]) => ({ builtin: { suite, split: suite === SUITE ? 'Train' : 'All' }, instanceIds: ids });

/** The manifests, in the order they run: seed-major (every arm and sweep point of seed 1 first). */
export function jobs(b: Budget): Job[] {
  const rollout = (seed: number, samples: number) => ({
    samplesPerTask: samples,
    sampling: { seed, maxTokensPerTurn: b.maxTokensPerTurn },
    limits: { maxSteps: b.maxSteps, maxTokens: b.maxTokens, timeoutSeconds: 300, toolTimeoutSeconds: 60 },
    parallelism: b.parallelism,
  });
  const verifier = { model: { name: 'tiny-verifier', source: VERIFIER } };
  const evalSuite = (name: string, seed: number, suite: string, ids: string[], source: string) => ({
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'EvalSuite',
    metadata: { name },
    spec: {
      policy: { name: 'policy', source },
      tasks: tasksOf(suite, ids),
      ...rollout(seed, b.evalN),
      verifier,
    },
  });
  const out: Job[] = [];
  const armJobs = (a: Arm, seed: number) => {
    const base = `learn-${a.id}-s${seed}`;
    if (!a.algorithm) {
      out.push({ name: `${base}-train`, kind: 'EvalSuite', arm: a.id, seed, split: 'train', manifest: () => evalSuite(`${base}-train`, seed, SUITE, b.trainTasks, POLICY) });
      if (b.variantTasks.length) out.push({ name: `${base}-variants`, kind: 'EvalSuite', arm: a.id, seed, split: 'variants', manifest: () => evalSuite(`${base}-variants`, seed, VARIANT_SUITE, b.variantTasks, POLICY) });
      return;
    }
    const zeta = Number((b.gamma * a.ratio!).toFixed(6));
    out.push({
      name: base,
      kind: 'TrainingRun',
      arm: a.id,
      seed,
      split: 'train',
      manifest: () => ({
        apiVersion: 'entropo.dev/v1alpha1',
        kind: 'TrainingRun',
        metadata: { name: base },
        spec: {
          policy: { name: 'tiny-coder', source: POLICY },
          iterations: b.iterations,
          tasks: tasksOf(SUITE, b.trainTasks),
          rollout: rollout(seed, b.rolloutSamples),
          preference: { algorithm: a.algorithm, zeta, gamma: b.gamma },
          training: { method: 'LoRA', learningRate: b.learningRate, batchSize: b.batchSize, epochs: b.epochs, maxSequenceLength: 1024, seed },
          evaluation: { tasks: tasksOf(SUITE, b.trainTasks), samplesPerTask: b.evalN, every: b.iterations, verifier },
        },
      }),
    });
    if (b.variantTasks.length && !a.sweepOnly) {
      out.push({
        name: `${base}-variants`,
        kind: 'EvalSuite',
        arm: a.id,
        seed,
        split: 'variants',
        after: base,
        manifest: (checkpoint) => evalSuite(`${base}-variants`, seed, VARIANT_SUITE, b.variantTasks, checkpoint ?? POLICY),
      });
    }
  };
  const all = arms(b);
  // seed-major, the sweep's extra points with their seed: a run cut short still has whole seeds of every claim
  for (const seed of [...new Set([...b.seeds, ...b.sweepSeeds])].sort((x, y) => x - y)) {
    if (b.seeds.includes(seed)) for (const a of all.filter((x) => !x.sweepOnly)) armJobs(a, seed);
    if (b.sweepSeeds.includes(seed)) for (const a of all.filter((x) => x.sweepOnly)) armJobs(a, seed);
  }
  return out;
}
