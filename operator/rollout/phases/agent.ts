/**
 * `entropo sandbox agent` (task image + runtime; no task record, no store, no hidden volume): reads
 * the agent's view (<workspace>/task.json), runs the agent loop in the work tree the view names
 * (<workspace>/repo, or the task image's checkout whose history is first cut to base_commit), and
 * writes the trajectory without grading (<workspace>/out/agent.json) and the patch
 * (<workspace>/out/patch.diff). Every process the agent started is killed when it is done (process
 * groups; the PID namespace under bwrap/unshare; in a Pod, the container ends).
 * Exit 0: a sample (finished or cut off); 3: no sample (the summary goes to the termination log); 2: config.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { TrajectoryRecord } from '../../api/records.ts';
import type { RolloutDeps } from '../rollout.ts';
import { runAgentStage } from '../rollout.ts';
import type { AgentPhaseInputs } from '../assignment.ts';
import { encodeSummary, summarize } from '../../api/termination-message.ts';
import { failureSummary, writeTermination } from '../pod-entry.ts';
import { isSample } from '../trajectory.ts';
import { agentRecordFile, outDirOf, patchFile, repoDirOf, viewFile } from './files.ts';
import { EXIT_CONFIG, EXIT_NO_SAMPLE, EXIT_SAMPLE, type PhaseResult } from './result.ts';
import { checkAgentView, type AgentTaskView } from './view.ts';

/** What the agent phase hands to grading (agent.json): the record and why it cannot be graded, if so. */
export interface AgentHandOff {
  record: TrajectoryRecord;
  ungradable?: string;
}

export async function runAgentPhase(inputs: AgentPhaseInputs, deps: Pick<RolloutDeps, 'client' | 'log'> = {}): Promise<PhaseResult> {
  let view: AgentTaskView;
  try {
    view = checkAgentView(JSON.parse(await readFile(viewFile(inputs.workspace), 'utf8')), viewFile(inputs.workspace));
  } catch (e) {
    const summary = failureSummary({ sample: inputs.sample }, '', `cannot read the agent's view of the task: ${(e as Error).message}`);
    const encoded = encodeSummary(summary);
    await writeTermination(inputs.terminationLog, encoded);
    return { exitCode: EXIT_CONFIG, message: encoded };
  }
  const stage = await runAgentStage(
    {
      task: view,
      sample: inputs.sample,
      run: inputs.run,
      ...(inputs.source ? { source: inputs.source } : {}),
      model: inputs.model,
      endpoint: { baseURL: inputs.endpoint, ...(inputs.apiKey ? { apiKey: inputs.apiKey } : {}) },
      sampling: inputs.sampling,
      limits: inputs.limits,
      sandbox: {
        isolation: inputs.isolation,
        ...(inputs.user !== undefined ? { user: inputs.user } : {}),
        ...(view.base_commit ? { historyBase: view.base_commit } : {}),
        // Self-contained: the tree is <workspace>/repo, shown at view.workTree (bwrap binds it there
        // when the workspace is elsewhere; other isolations show its real path).
        ...(view.base_commit ? {} : { shownDir: view.workTree }),
      },
    },
    deps,
    { workTree: view.base_commit ? view.workTree : repoDirOf(inputs.workspace) },
  );
  const handOff: AgentHandOff = { record: stage.record, ...(stage.ungradable ? { ungradable: stage.ungradable } : {}) };
  try {
    await mkdir(outDirOf(inputs.workspace), { recursive: true });
    await writeFile(patchFile(inputs.workspace), stage.record.patch);
    await writeFile(agentRecordFile(inputs.workspace), JSON.stringify(handOff));
  } catch (e) {
    const summary = failureSummary({ taskId: view.instance_id, sample: inputs.sample }, '', `cannot write the agent's output: ${(e as Error).message}`);
    const encoded = encodeSummary(summary);
    await writeTermination(inputs.terminationLog, encoded);
    return { exitCode: EXIT_NO_SAMPLE, message: encoded };
  }
  const encoded = encodeSummary(summarize(stage.record, ''));
  if (!isSample(stage.record)) {
    await writeTermination(inputs.terminationLog, encoded);
    return { exitCode: EXIT_NO_SAMPLE, message: encoded };
  }
  return { exitCode: EXIT_SAMPLE, message: encoded };
}
