/**
 * What a sandbox Pod runs (`entropo sandbox`): read the assignment, run one rollout, write the
 * trajectory to the artifact store and the summary (<= 4 KiB JSON) to the termination-message
 * file. Exit status: 0 when a sample was produced (whatever its reward), 3 when not
 * (sandbox_error or model_error: infrastructure, retry), 2 when the assignment itself is wrong.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RolloutSummary, TaskRecord, TrajectoryRecord } from '../api/records.ts';
import { encodeSummary, summarize } from '../api/summary.ts';
import { logger } from '../logging/logger.ts';
import { openStore } from '../store/fs-store.ts';
import { parseTaskJsonl, formatError } from '../tasks/dataset.ts';
import { defaultTrajectoryKey, type SandboxInputs } from './assignment.ts';
import { runRollout, type RolloutDeps } from './rollout.ts';
import { isSample } from './trajectory.ts';

export const EXIT_SAMPLE = 0;
export const EXIT_CONFIG = 2;
export const EXIT_NO_SAMPLE = 3;

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

export interface SandboxRunResult {
  exitCode: number;
  summary: RolloutSummary;
  encoded: string;
  trajectory?: TrajectoryRecord;
}

function failureSummary(inputs: SandboxInputs, key: string, error: string): RolloutSummary {
  return {
    v: 1,
    task: inputs.taskId ?? '',
    sample: inputs.sample,
    trajectory: '',
    key,
    finished: false,
    exit: 'sandbox_error',
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

async function writeTermination(file: string, encoded: string): Promise<void> {
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
    const what = 'file' in inputs.task ? inputs.task.file : `store key ${inputs.task.key}`;
    const text = 'file' in inputs.task ? await readFile(inputs.task.file, 'utf8') : await store.getText(inputs.task.key);
    task = pickTask(text, inputs.taskId, what);
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
