/** The files the sandbox's phases exchange through the workspace and hidden volumes (paths only). */
import path from 'node:path';

/** <workspace>/task.json: the agent's view of the task. */
export const viewFile = (workspace: string): string => path.join(workspace, 'task.json');
/** <workspace>/repo: a self-contained task's work tree. */
export const repoDirOf = (workspace: string): string => path.join(workspace, 'repo');
/** <workspace>/out: what the agent phase hands to grading. */
export const outDirOf = (workspace: string): string => path.join(workspace, 'out');
/** <workspace>/out/agent.json: the trajectory without grading. */
export const agentRecordFile = (workspace: string): string => path.join(outDirOf(workspace), 'agent.json');
/** <workspace>/out/patch.diff: the final patch. */
export const patchFile = (workspace: string): string => path.join(outDirOf(workspace), 'patch.diff');
/** <hidden>/task.json: the grading material (task record minus the gold patch). */
export const gradingFile = (hidden: string): string => path.join(hidden, 'task.json');
