/**
 * Resuming an interrupted run exactly: the run's fingerprint (settings and data), the newest
 * checkpoint's weights, optimizer and loop state, and the metrics JSONL cut back to it.
 */
import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { latestCheckpoint, loadCheckpoint, type LoopState } from './checkpoint.ts';
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

/**
 * Loads the newest checkpoint under outputDir into vars and opt when its fingerprint matches.
 * Errors: a checkpoint made with other settings or data (names it and both fingerprints).
 */
export function resumeFrom(outputDir: string, fp: string, vars: Map<string, tf.Variable>, opt: AdamW, enabled = true): Resumed {
  const ckpt = enabled ? latestCheckpoint(outputDir) : undefined;
  if (!ckpt) return { start: 0 };
  const state = loadCheckpoint(ckpt, vars, opt);
  if (state.fingerprint !== fp) {
    throw new Error(`${ckpt}: checkpoint was made with other settings or data (fingerprint ${state.fingerprint}, now ${fp}); use a new output directory or resume: false`);
  }
  return { start: state.step, checkpoint: ckpt, state };
}

/** Drops metrics lines of steps after `start` (an interrupted run's tail). */
export function trimMetrics(file: string, start: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l && (JSON.parse(l) as { step: number }).step <= start);
  writeFileSync(file, kept.map((l) => `${l}\n`).join(''));
}
