/**
 * Training checkpoints: the trainable tensors, the optimizer state and the loop state, so that a
 * resumed run continues exactly where the interrupted one stopped. state.json is written last:
 * a checkpoint without it is incomplete and ignored.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors.ts';
import { tensorsToMap } from './model-io.ts';
import type { AdamW } from './optimizer.ts';

export interface LoopState {
  /** Optimizer steps completed. */
  step: number;
  /** Cached KTO reference point and the step it was computed at. */
  z0?: number;
  z0Step?: number;
  /** Hash of the settings and data the run was started with. */
  fingerprint: string;
  totalSteps: number;
}

const dirOf = (root: string, step: number) => path.join(root, 'checkpoints', `step-${String(step).padStart(6, '0')}`);

export async function saveCheckpoint(root: string, vars: Map<string, tf.Variable>, opt: AdamW, state: LoopState): Promise<string> {
  const final = dirOf(root, state.step);
  const tmp = `${final}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeSafetensorsFile(path.join(tmp, 'trainable.safetensors'), await tensorsToMap(vars));
  const optEntries: [string, tf.Tensor][] = [];
  for (const [k, m] of opt.m) optEntries.push([`m.${k}`, m]);
  for (const [k, v] of opt.v) optEntries.push([`v.${k}`, v]);
  writeSafetensorsFile(path.join(tmp, 'optimizer.safetensors'), await tensorsToMap(optEntries), { adam_step: String(opt.step) });
  writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  return final;
}

/** The newest complete checkpoint under root, if any. */
export function latestCheckpoint(root: string): string | undefined {
  const dir = path.join(root, 'checkpoints');
  if (!existsSync(dir)) return undefined;
  const steps = readdirSync(dir)
    .filter((d) => /^step-\d+$/.test(d) && existsSync(path.join(dir, d, 'state.json')))
    .sort();
  return steps.length ? path.join(dir, steps[steps.length - 1]) : undefined;
}

/** A checkpoint's loop state (its state.json) alone, without reading its tensors. */
export function readLoopState(dir: string): LoopState {
  return JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as LoopState;
}

export function loadCheckpoint(dir: string, vars: Map<string, tf.Variable>, opt: AdamW): LoopState {
  const state = readLoopState(dir);
  const t = readSafetensorsFile(path.join(dir, 'trainable.safetensors')).tensors;
  for (const [k, v] of vars) {
    const x = t.get(k);
    if (!x) throw new Error(`${dir}: checkpoint lacks ${k}`);
    tf.tidy(() => v.assign(tf.tensor(x.data, x.shape)));
  }
  const o = readSafetensorsFile(path.join(dir, 'optimizer.safetensors'));
  for (const [prefix, state] of [['m', opt.m], ['v', opt.v]] as const) {
    for (const [k, t] of state) {
      const x = o.tensors.get(`${prefix}.${k}`);
      if (!x) throw new Error(`${dir}: optimizer state lacks ${prefix}.${k}`);
      tf.tidy(() => t.assign(tf.tensor(x.data, t.shape)));
    }
  }
  opt.step = Number(o.metadata.adam_step);
  return state;
}
