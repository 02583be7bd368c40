/**
 * `entropo sandbox prepare-grading` (operator image, after the agent container is gone): writes
 * the grading material, the task record without its gold patch, to <hidden>/task.json. The hidden
 * volume is mounted only here and in the grade container, never where the agent runs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { PrepareInputs } from '../assignment.ts';
import { readTask } from '../pod-entry.ts';
import { gradingFile } from './files.ts';
import { EXIT_CONFIG, EXIT_NO_SAMPLE, EXIT_SAMPLE, type PhaseResult } from './result.ts';
import { gradingMaterial } from './view.ts';

export async function runPrepareGradingPhase(inputs: PrepareInputs): Promise<PhaseResult> {
  let task;
  try {
    task = await readTask(inputs.task, inputs.taskId, inputs.storeUri);
  } catch (e) {
    return { exitCode: EXIT_CONFIG, message: `cannot read the task: ${(e as Error).message}` };
  }
  try {
    await mkdir(inputs.hidden, { recursive: true, mode: 0o700 });
    await writeFile(gradingFile(inputs.hidden), JSON.stringify(gradingMaterial(task)), { mode: 0o600 });
    return { exitCode: EXIT_SAMPLE, message: `grading material of ${task.instance_id} in ${inputs.hidden}` };
  } catch (e) {
    return { exitCode: EXIT_NO_SAMPLE, message: `cannot write the grading material to ${inputs.hidden}: ${(e as Error).message}` };
  }
}
