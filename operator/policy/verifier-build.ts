/**
 * `entropo policy build-verifier`: the built-in verifier (builtin:tiny-verifier), trained with
 * the project's verifier trainer (operator/selection/verifier.ts, as `entropo verifier train`)
 * on the seed policy's rollouts of the train split, starting from the seed policy's weights
 * (same tokenizer and chat template), full fine-tuning; calibrated (AUC, ECE) on HELD-OUT
 * rollouts (another sampling seed of the same tasks), shipped in f16 with verifier.json and
 * BUILD.json (command, data sizes, AUC whatever it is, time).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TrajectoryRecord } from '../api/records.ts';
import { calibration, type Calibration } from '../selection/calibration.ts';
import { trainVerifier, Verifier, VERIFIER_CONFIG } from '../selection/verifier.ts';
import { verifierLabel } from '../selection/verifier-prompt.ts';
import { readSafetensors } from '../training/safetensors.ts';
import { writeSafetensorsF16 } from './f16.ts';

export interface VerifierBuildOptions {
  /** The seed policy's model directory (the verifier starts from its weights). */
  policyDir: string;
  /** Rollouts to train on (finished ones are used). */
  train: TrajectoryRecord[];
  /** Held-out rollouts for the calibration report. */
  heldOut: TrajectoryRecord[];
  outDir: string;
  workDir?: string;
  seed: number;
  steps: number;
  learningRate?: number;
  /** Token budget per example (the end of the rendered trajectory is kept). Default 1024. */
  maxSequenceLength?: number;
  command?: string;
  progress?: boolean;
}

export interface VerifierBuildReport {
  schema: 'entropo.dev/verifier-build/v1';
  command: string;
  seed: number;
  base: string;
  trainRollouts: { total: number; finished: number; resolved: number; tasks: number };
  heldOutRollouts: { total: number; finished: number; resolved: number };
  steps: number;
  heldOut?: Calibration;
  train?: Calibration;
  bytes: number;
  seconds: number;
  builtAt: string;
}

export async function buildVerifier(o: VerifierBuildOptions): Promise<VerifierBuildReport> {
  const t0 = Date.now();
  const work = o.workDir ?? path.join(os.tmpdir(), `entropo-verifier-build-${o.seed}`);
  const r = await trainVerifier({
    modelDir: o.policyDir,
    outputDir: work,
    trajectories: o.train,
    training: { method: 'Full', learningRate: o.learningRate ?? 1e-3, batchSize: 4, epochs: 100, maxSequenceLength: o.maxSequenceLength ?? 1024, truncation: 'KeepEnd', seed: o.seed, backend: 'Wasm', warmupRatio: 0.1 },
    validationFraction: 0,
    balance: true,
    maxSteps: o.steps,
    progress: o.progress,
  });
  // calibration on held-out rollouts (finished ones: the selector's verifier step sees only those)
  const held = o.heldOut.filter((t) => t.finished && t.exitReason !== 'sandbox_error');
  const verifier = await Verifier.load(r.verifierDir, { backend: 'Wasm' });
  let heldOut: Calibration | undefined;
  try {
    if (held.length) {
      const scores = await verifier.scoreAll(held);
      heldOut = calibration(held.map((t) => scores.get(t.id)!), held.map(verifierLabel));
    }
  } finally {
    verifier.dispose();
  }
  mkdirSync(o.outDir, { recursive: true });
  const tensors = readSafetensors(readFileSync(path.join(r.verifierDir, 'model.safetensors'))).tensors;
  const weights = writeSafetensorsF16(tensors, { format: 'pt' });
  writeFileSync(path.join(o.outDir, 'model.safetensors'), weights);
  const cfg = JSON.parse(readFileSync(path.join(r.verifierDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(o.outDir, 'config.json'), JSON.stringify({ ...cfg, torch_dtype: 'float16', _name_or_path: 'builtin:tiny-verifier' }, null, 2) + '\n');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(o.policyDir, f), path.join(o.outDir, f));
  const vcfg = JSON.parse(readFileSync(path.join(r.verifierDir, VERIFIER_CONFIG), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(o.outDir, VERIFIER_CONFIG), JSON.stringify({ ...vcfg, calibration: { ...(vcfg.calibration as object), heldOut } }, null, 2) + '\n');
  const fin = o.train.filter((t) => t.finished);
  const report: VerifierBuildReport = {
    schema: 'entropo.dev/verifier-build/v1',
    command: o.command ?? '',
    seed: o.seed,
    base: 'builtin:tiny-coder',
    trainRollouts: { total: o.train.length, finished: fin.length, resolved: fin.filter((t) => t.resolved).length, tasks: new Set(o.train.map((t) => t.taskId)).size },
    heldOutRollouts: { total: o.heldOut.length, finished: held.length, resolved: held.filter((t) => t.resolved).length },
    steps: r.train.stepsDone,
    heldOut,
    train: r.config.calibration?.train,
    bytes: weights.length,
    seconds: (Date.now() - t0) / 1000,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(path.join(o.outDir, 'BUILD.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}
