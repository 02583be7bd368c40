/**
 * `entropo sandbox prepare` (operator image; the only agent-side step that reads the task record):
 * writes the agent's view of the task to <workspace>/task.json and, for a self-contained task, its
 * base work tree to <workspace>/repo (git, one commit "base"), shown to the agent as /workspace/repo
 * whatever the workspace's real path (a Pod mounts it there; locally bwrap binds it there). SWE-bench tasks keep their checkout
 * in the task image (ENTROPO_REPO_DIR); the agent phase cuts its history there.
 */
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { isSelfContained } from '../../api/records.ts';
import { materialiseWorkTree } from '../../grading/worktree.ts';
import type { PrepareInputs } from '../assignment.ts';
import { readTask } from '../pod-entry.ts';
import { outDirOf, repoDirOf, viewFile } from './files.ts';
import { agentView } from './view.ts';
import { EXIT_CONFIG, EXIT_NO_SAMPLE, EXIT_SAMPLE, type PhaseResult } from './result.ts';

/** Where a self-contained task's work tree is shown to the agent: <workspace>/repo with the workspace at /workspace. */
export const SHOWN_WORK_TREE = '/workspace/repo';

export async function runPreparePhase(inputs: PrepareInputs): Promise<PhaseResult> {
  let task;
  try {
    task = await readTask(inputs.task, inputs.taskId, inputs.storeUri);
  } catch (e) {
    return { exitCode: EXIT_CONFIG, message: `cannot read the task: ${(e as Error).message}` };
  }
  try {
    const ws = inputs.workspace;
    await mkdir(ws, { recursive: true });
    // The agent's commands may run as a user of their own (a root runner drops to one).
    await makeSearchable(ws);
    // The path the agent is shown: the same for every sample (preference pairs share their prompt).
    let workTree = inputs.repoDir;
    if (isSelfContained(task)) {
      workTree = SHOWN_WORK_TREE;
      await rm(repoDirOf(ws), { recursive: true, force: true });
      await materialiseWorkTree(task, repoDirOf(ws));
    }
    await mkdir(outDirOf(ws), { recursive: true });
    await writeFile(viewFile(ws), `${JSON.stringify(agentView(task, workTree), null, 1)}\n`);
    return { exitCode: EXIT_SAMPLE, message: `prepared ${task.instance_id}: work tree ${workTree}` };
  } catch (e) {
    return { exitCode: EXIT_NO_SAMPLE, message: `cannot prepare the workspace ${inputs.workspace}: ${(e as Error).message}` };
  }
}

/**
 * chmod 0711 on the workspace so that a user of the agent's own can reach the work tree. In a Pod
 * the workspace is an emptyDir owned by root (mode 0777, or 2777 with fsGroup) and this phase runs
 * as a non-root uid, which may not chmod it (EPERM): that is fine when everyone can already search it.
 */
export async function makeSearchable(dir: string): Promise<void> {
  try {
    await chmod(dir, 0o711);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    const mode = (await stat(dir)).mode & 0o777;
    if ((mode & 0o111) !== 0o111) {
      throw new Error(`${dir} has mode ${mode.toString(8)} (not searchable by every user) and uid ${process.getuid?.()} may not change it`);
    }
  }
}
