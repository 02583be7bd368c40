/**
 * Resuming an interrupted run exactly: the run's fingerprint (settings and data), the newest
 * checkpoint's weights, optimizer and loop state, and the metrics JSONL cut back to it.
 */
import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TrainMetrics } from '../api/common.ts';
import { latestCheckpoint, loadCheckpoint, readLoopState, type LoopState } from './checkpoint.ts';
import type { AdamW } from './optimizer.ts';
import type { Item } from './items.ts';

/** sha256 (16 hex) of the settings that shape the run and of every training sequence's ids. */
export function fingerprint(settings: unknown, items: Item[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(settings));
  for (const it of items) for (const s of it.seqs) h.update(s.ids.join(','));
  return h.digest('hex').slice(0, 16);
}

export interface Resumed {
  /** Steps already done (0: a fresh start). */
  start: number;
  checkpoint?: string;
  state?: LoopState;
}

const mismatch = (ckpt: string, was: string, fp: string) => new Error(`${ckpt}: checkpoint was made with other settings or data (fingerprint ${was}, now ${fp}); use a new output directory or resume: false`);

/**
 * Loads the newest checkpoint under outputDir into vars and opt when its fingerprint matches.
 * Errors: a checkpoint made with other settings or data (names it and both fingerprints).
 */
export function resumeFrom(outputDir: string, fp: string, vars: Map<string, tf.Variable>, opt: AdamW, enabled = true): Resumed {
  const ckpt = enabled ? latestCheckpoint(outputDir) : undefined;
  if (!ckpt) return { start: 0 };
  const was = readLoopState(ckpt).fingerprint;
  if (was !== fp) throw mismatch(ckpt, was, fp);
  const state = loadCheckpoint(ckpt, vars, opt);
  return { start: state.step, checkpoint: ckpt, state };
}

/** summary.json as the trainer writes it at the end of a run. */
export interface StoredSummary extends TrainMetrics {
  backend: string;
  halted: boolean;
  totalSteps: number;
  stepsDone: number;
  dropped: number;
}

/** A run already finished in outputDir: its newest checkpoint's step and what its summary.json says. */
export interface FinishedRun {
  step: number;
  checkpoint: string;
  summary: StoredSummary;
  /** outputDir/model when it is there. */
  modelDir?: string;
}

/**
 * The finished run of these settings and data (fingerprint `fp`) in outputDir, read from the newest
 * checkpoint's state.json and summary.json alone (no tensor is read, no model loaded): its step is
 * >= totalSteps, summary.json says it was not halted, and model/ is there when `needModel`.
 * undefined when resuming is off, there is no checkpoint, or the run is not finished (a trainer
 * stopped after its last checkpoint but before its summary: the caller finishes it the usual way).
 * Errors: the newest checkpoint was made with other settings or data, as resumeFrom.
 */
export function finishedRun(outputDir: string, fp: string, totalSteps: number, o: { enabled?: boolean; needModel?: boolean } = {}): FinishedRun | undefined {
  const ckpt = o.enabled === false ? undefined : latestCheckpoint(outputDir);
  if (!ckpt) return undefined;
  const state = readLoopState(ckpt);
  if (state.fingerprint !== fp) throw mismatch(ckpt, state.fingerprint, fp);
  if (state.step < totalSteps) return undefined;
  const summaryFile = path.join(outputDir, 'summary.json');
  const modelDir = path.join(outputDir, 'model');
  const hasModel = existsSync(path.join(modelDir, 'config.json'));
  if (!existsSync(summaryFile) || (o.needModel && !hasModel)) return undefined;
  let summary: StoredSummary;
  try {
    summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as StoredSummary;
  } catch {
    return undefined; // a torn summary: the caller finishes the run again and rewrites it
  }
  if (summary.halted || !(summary.stepsDone >= totalSteps)) return undefined;
  return { step: state.step, checkpoint: ckpt, summary, modelDir: hasModel ? modelDir : undefined };
}

/** Drops metrics lines of steps after `start` (an interrupted run's tail). */
export function trimMetrics(file: string, start: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l && (JSON.parse(l) as { step: number }).step <= start);
  writeFileSync(file, kept.map((l) => `${l}\n`).join(''));
}
