/**
 * The one-process form of a sandbox (`entropo sandbox` with no phase; `entropo rollout` and the
 * tests use it): read the assignment, run one rollout, write the
 * trajectory to the artifact store and the summary (<= 4 KiB JSON) to the termination-message
 * file. Exit status: 0 when a sample was produced (whatever its reward), 3 when not
 * (sandbox_error or model_error: infrastructure, retry), 2 when the assignment itself is wrong.
 * A sandbox Pod runs the same rollout as separate phases (./phases/: prepare, agent,
 * prepare-grading, grade) so that the agent never shares a process, container or volume with the
 * task record or the grading copy.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RolloutSummary, TaskRecord, TrajectoryRecord } from '../api/records.ts';
import { encodeSummary, summarize } from '../api/termination-message.ts';
import { logger } from '../logging/logger.ts';
import { openStore } from '../store/open.ts';
import { parseTaskJsonl, formatError } from '../tasks/dataset.ts';
import { defaultTrajectoryKey, type SandboxInputs } from './assignment.ts';
import { runRollout, type RolloutDeps } from './rollout.ts';
import { isSample } from './trajectory.ts';

import { EXIT_CONFIG, EXIT_NO_SAMPLE, EXIT_SAMPLE } from './phases/result.ts';

export { EXIT_CONFIG, EXIT_NO_SAMPLE, EXIT_SAMPLE };

/** Picks the task out of a JSON record or a JSONL file. */
export function pickTask(text: string, taskId: string | undefined, what: string): TaskRecord {
  const trimmed = text.trim();
  // One pretty-printed JSON object, or JSONL (one record a line).
  let jsonl = trimmed;
  if (trimmed.startsWith('{') && !trimmed.includes('\n{')) {
    try {
      jsonl = JSON.stringify(JSON.parse(trimmed));
    } catch {
      // not a single object: read as JSONL
    }
  }
  const loaded = parseTaskJsonl(jsonl, 'Auto');
  if (loaded.errors.length) throw new Error(loaded.errors.slice(0, 3).map((e) => formatError(e, what)).join('\n'));
  const tasks = taskId ? loaded.tasks.filter((t) => t.instance_id === taskId) : loaded.tasks;
  if (tasks.length !== 1) {
    throw new Error(taskId ? `${what}: no task ${taskId} (${loaded.tasks.length} tasks)` : `${what}: holds ${loaded.tasks.length} tasks; name one with the task id`);
  }
  return tasks[0];
}

/** Reads the assigned task from its file or store key; throws naming the file or key. */
export async function readTask(where: { file: string } | { key: string }, taskId: string | undefined, storeUri: string | undefined): Promise<TaskRecord> {
  const what = 'file' in where ? where.file : `store key ${where.key}`;
  if (!('file' in where) && !storeUri) throw new Error(`${what}: no store to read it from`);
  const text = 'file' in where ? await readFile(where.file, 'utf8') : await openStore(storeUri!).getText(where.key);
  return pickTask(text, taskId, what);
}

export interface SandboxRunResult {
  exitCode: number;
  summary: RolloutSummary;
  encoded: string;
  trajectory?: TrajectoryRecord;
}

/** The summary of a run that produced no sample (sandbox_error), for the termination message. */
export function failureSummary(inputs: { taskId?: string; sample: number }, key: string, error: string, exit: RolloutSummary['exit'] = 'sandbox_error'): RolloutSummary {
  return {
    v: 1,
    task: inputs.taskId ?? '',
    sample: inputs.sample,
    trajectory: '',
    key,
    finished: false,
    exit,
    steps: 0,
    tokens: 0,
    seconds: 0,
    patchHash: '',
    regression: { passed: 0, failed: 0 },
    hidden: { passed: 0, failed: 0 },
    resolved: false,
    reward: 0,
    error,
  };
}

/** Writes the termination message (a failure to write is logged, never thrown). */
export async function writeTermination(file: string, encoded: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, encoded);
  } catch (e) {
    logger.warn('cannot write the termination message', { file, error: (e as Error).message });
  }
}

export async function runSandbox(inputs: SandboxInputs, deps: RolloutDeps = {}): Promise<SandboxRunResult> {
  const store = openStore(inputs.storeUri);
  let task: TaskRecord;
  try {
    task = await readTask(inputs.task, inputs.taskId, inputs.storeUri);
  } catch (e) {
    const summary = failureSummary(inputs, inputs.trajectoryKey ?? '', `cannot read the task: ${(e as Error).message}`);
    const encoded = encodeSummary(summary);
    await writeTermination(inputs.terminationLog, encoded);
    return { exitCode: EXIT_CONFIG, summary, encoded };
  }
  const key = inputs.trajectoryKey ?? defaultTrajectoryKey(task.instance_id, inputs.sample, inputs.run);
  const trajectory = await runRollout(
    {
      task,
      sample: inputs.sample,
      run: inputs.run,
      ...(inputs.source ? { source: inputs.source } : {}),
      model: inputs.model,
      endpoint: { baseURL: inputs.endpoint, ...(inputs.apiKey ? { apiKey: inputs.apiKey } : {}) },
      sampling: inputs.sampling,
      limits: inputs.limits,
      sandbox: { isolation: inputs.isolation, repoDir: inputs.repoDir },
      ...(inputs.gradingTimeoutSeconds ? { gradingTimeoutSeconds: inputs.gradingTimeoutSeconds } : {}),
    },
    deps,
  );
  let summary = summarize(trajectory, key);
  try {
    await store.put(key, JSON.stringify(trajectory));
  } catch (e) {
    summary = { ...summary, exit: 'sandbox_error', finished: false, error: `cannot store the trajectory: ${(e as Error).message}` };
  }
  const encoded = encodeSummary(summary);
  await writeTermination(inputs.terminationLog, encoded);
  return { exitCode: isSample({ exitReason: summary.exit }) ? EXIT_SAMPLE : EXIT_NO_SAMPLE, summary, encoded, trajectory };
}
