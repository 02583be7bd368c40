/**
 * The trainer's files in the artifact store, for `entropo train` which reads and writes local
 * paths: the trajectories JSONL, and the output directory (checkpoints/step-N/, metrics.jsonl,
 * model/, summary.json) under the unit's checkpoint key.
 *
 * A store with local paths (a directory, a mounted PVC) is used in place. Any other store (S3):
 *   - the trajectories are downloaded to the work directory;
 *   - the newest complete checkpoint already in the store (one whose state.json is there) and the
 *     run's other files are downloaded into the local output, so a retried trainer resumes where
 *     the last one stopped (training/resume.ts);
 *   - sync() uploads each new complete checkpoint (its state.json last, so an incomplete upload is
 *     never taken for a checkpoint) and metrics.jsonl; run it while the trainer runs;
 *   - finish() uploads the rest (model/, summary.json, ...) after the trainer succeeded.
 */
import { mkdir, rm } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { ArtifactStore } from '../store/store.ts';
import { downloadPrefix, getFile, putFile, uploadDir } from '../store/sync.ts';

export interface TrainerFiles {
  /** Local path of the trajectories JSONL. */
  trajectories: string;
  /** Local output directory (entropo train's `output`). */
  output: string;
  /** Uploads checkpoints completed since the last call (no-op for a local store). */
  sync(): Promise<void>;
  /** Uploads everything the trainer wrote (no-op for a local store). */
  finish(): Promise<void>;
  /** Removes the local copies (no-op for a local store). */
  cleanup(): Promise<void>;
}

const STEP = /^checkpoints\/(step-\d+)\//;

/** Sets up the trainer's local files for a unit (trajectoriesKey, checkpointKey) in workDir. */
export async function trainerFiles(store: ArtifactStore, keys: { trajectoriesKey: string; checkpointKey: string }, workDir: string): Promise<TrainerFiles> {
  if (store.localPath) {
    const output = store.localPath(keys.checkpointKey);
    await mkdir(output, { recursive: true });
    const none = async () => undefined;
    return { trajectories: store.localPath(keys.trajectoriesKey), output, sync: none, finish: none, cleanup: none };
  }
  const base = keys.checkpointKey.replace(/\/+$/, '');
  const output = path.join(workDir, 'output');
  const trajectories = path.join(workDir, 'trajectories.jsonl');
  await mkdir(output, { recursive: true });
  await getFile(store, keys.trajectoriesKey, trajectories);
  // resume: the newest checkpoint whose state.json made it to the store, and the run's other files
  const stored = (await store.list(base)).map((k) => k.slice(base.length + 1));
  const complete = stored.filter((r) => /^checkpoints\/step-\d+\/state\.json$/.test(r)).map((r) => STEP.exec(r)![1]).sort();
  const newest = complete[complete.length - 1];
  await downloadPrefix(store, base, output, { skip: (r) => STEP.exec(r) !== null && STEP.exec(r)![1] !== newest });
  const uploaded = new Set(complete);
  let running: Promise<void> | undefined;

  const syncOnce = async (): Promise<void> => {
    const dir = path.join(output, 'checkpoints');
    const steps = existsSync(dir) ? readdirSync(dir).filter((d) => /^step-\d+$/.test(d) && existsSync(path.join(dir, d, 'state.json'))) : [];
    for (const step of steps.sort()) {
      if (uploaded.has(step)) continue;
      await uploadDir(store, path.join(dir, step), `${base}/checkpoints/${step}`, { last: (r) => r === 'state.json' });
      uploaded.add(step);
    }
    if (existsSync(path.join(output, 'metrics.jsonl'))) await putFile(store, `${base}/metrics.jsonl`, path.join(output, 'metrics.jsonl'));
  };
  const sync = (): Promise<void> => {
    // one sync at a time; a call during one waits for it and runs again
    running = (running ?? Promise.resolve()).then(syncOnce);
    return running;
  };
  return {
    trajectories,
    output,
    sync,
    async finish() {
      await sync();
      await uploadDir(store, output, base, { skip: (r) => r.startsWith('checkpoints/') || r.split('/').some((s) => s.endsWith('.tmp')) });
    },
    async cleanup() {
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
