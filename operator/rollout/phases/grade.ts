/**
 * `entropo sandbox grade` (task image + runtime; the hidden volume mounted here only): reads the
 * agent's hand-off (<workspace>/out/agent.json) and the grading material (<hidden>/task.json),
 * grades the patch on a FRESH copy of the base (never the agent's tree: self-contained tasks are
 * re-made from the material in a temporary directory, SWE-bench tasks use this container's own
 * checkout, put back to base), writes the full trajectory to the store and the summary
 * (<= 4 KiB JSON) to the termination log. Exit 0: a graded sample (whatever its reward);
 * 3: no sample (the agent's record is none, or grading failed); 2: config.
 */
import { readFile } from 'node:fs/promises';
import type { RolloutSummary, TaskRecord } from '../../api/records.ts';
import { encodeSummary, summarize } from '../../api/termination-message.ts';
import { openStore } from '../../store/open.ts';
import { defaultTrajectoryKey, type GradePhaseInputs } from '../assignment.ts';
import { failureSummary, pickTask, writeTermination } from '../pod-entry.ts';
import { runGradingStage, type RolloutDeps } from '../rollout.ts';
import { isSample } from '../trajectory.ts';
import type { AgentHandOff } from './agent.ts';
import { agentRecordFile, gradingFile } from './files.ts';
import { EXIT_CONFIG, EXIT_NO_SAMPLE, EXIT_SAMPLE, type PhaseResult } from './result.ts';

export async function runGradePhase(inputs: GradePhaseInputs, deps: Pick<RolloutDeps, 'evaluate' | 'log'> = {}): Promise<PhaseResult> {
  const fail = async (exitCode: number, error: string, taskId?: string): Promise<PhaseResult> => {
    const encoded = encodeSummary(failureSummary({ ...(taskId ? { taskId } : {}), sample: inputs.sample }, inputs.trajectoryKey ?? '', error));
    await writeTermination(inputs.terminationLog, encoded);
    return { exitCode, message: encoded };
  };
  let task: TaskRecord;
  try {
    task = pickTask(await readFile(gradingFile(inputs.hidden), 'utf8'), undefined, gradingFile(inputs.hidden));
  } catch (e) {
    return fail(EXIT_CONFIG, `cannot read the grading material: ${(e as Error).message}`);
  }
  let handOff: AgentHandOff;
  try {
    handOff = JSON.parse(await readFile(agentRecordFile(inputs.workspace), 'utf8')) as AgentHandOff;
    if (!handOff?.record || typeof handOff.record.patch !== 'string') throw new Error('no trajectory record in it');
    // The record is the agent container's word on the agent's run; the task and sample are ours.
    if (handOff.record.taskId !== task.instance_id) throw new Error(`it is for task ${handOff.record.taskId}, not ${task.instance_id}`);
  } catch (e) {
    return fail(EXIT_NO_SAMPLE, `cannot read the agent's output ${agentRecordFile(inputs.workspace)}: ${(e as Error).message}`, task.instance_id);
  }
  const record = handOff.record;
  // Whatever the agent side wrote about grading is discarded: grading decides it here.
  Object.assign(record, { regression: { passed: [], failed: [] }, hidden: { passed: [], failed: [] }, resolved: false, reward: 0 });
  const key = inputs.trajectoryKey ?? defaultTrajectoryKey(task.instance_id, inputs.sample, inputs.run);
  const outcome = await runGradingStage(
    task,
    { record, phases: { setupSeconds: 0, agentSeconds: 0, diffSeconds: 0, gradingSeconds: 0 }, ...(handOff.ungradable ? { ungradable: handOff.ungradable } : {}) },
    {
      ...(deps.evaluate ? { evaluate: deps.evaluate } : {}),
      timeoutSeconds: inputs.gradingTimeoutSeconds ?? 300,
      sandbox: { repoDir: inputs.repoDir, isolation: 'none', user: 'runner' },
      ...(deps.log ? { log: deps.log } : {}),
    },
  );
  let summary: RolloutSummary = summarize(outcome.trajectory, key);
  try {
    await openStore(inputs.storeUri).put(key, JSON.stringify(outcome.trajectory));
  } catch (e) {
    summary = { ...summary, exit: 'sandbox_error', finished: false, error: `cannot store the trajectory: ${(e as Error).message}` };
  }
  const encoded = encodeSummary(summary);
  await writeTermination(inputs.terminationLog, encoded);
  return { exitCode: isSample({ exitReason: summary.exit }) ? EXIT_SAMPLE : EXIT_NO_SAMPLE, message: encoded };
}
