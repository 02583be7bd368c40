/**
 * What each side of the sandbox may see of a task (issue 11 items 10, 11). Pure.
 *
 * - The agent view (<workspace>/task.json): id, repository name, issue text, hints, language and
 *   framework hints, base commit, and where the work tree is. Never the gold patch, the test patch,
 *   the FAIL_TO_PASS / PASS_TO_PASS ids, the test command or the store.
 * - The grading material (<hidden>/task.json): the task record without the gold patch (grading
 *   needs the hidden tests, the test ids, the command and, for self-contained tasks, the base files).
 */
import { isSelfContained, type TaskRecord } from '../../api/records.ts';

export const AGENT_VIEW_SCHEMA = 'entropo.dev/agent-task/v1' as const;

/** The agent's view of a task. */
export interface AgentTaskView {
  schema: typeof AGENT_VIEW_SCHEMA;
  instance_id: string;
  repo: string;
  problem_statement: string;
  hints_text?: string;
  language?: string;
  test_framework?: string;
  /** SWE-bench: the commit the work tree starts from (its history ends there). */
  base_commit?: string;
  /** Absolute path of the agent's work tree (identical across samples of a task). */
  workTree: string;
}

/** The fields of a task the agent may see. Everything else (gold, hidden tests, test ids) is left out. */
export function agentView(task: TaskRecord, workTree: string): AgentTaskView {
  const v: AgentTaskView = { schema: AGENT_VIEW_SCHEMA, instance_id: task.instance_id, repo: task.repo, problem_statement: task.problem_statement, workTree };
  if (!isSelfContained(task)) {
    if (task.hints_text) v.hints_text = task.hints_text;
    v.base_commit = task.base_commit;
  } else {
    v.language = task.language;
  }
  if (task.test_framework) v.test_framework = task.test_framework;
  return v;
}

/** The task record for grading: all of it but the gold patch. */
export function gradingMaterial(task: TaskRecord): TaskRecord {
  return { ...task, patch: '' };
}

/** Checks that a parsed agent view has the fields the agent phase needs; throws naming the field. */
export function checkAgentView(v: unknown, file: string): AgentTaskView {
  const o = v as Partial<AgentTaskView> | null;
  if (!o || typeof o !== 'object') throw new Error(`${file}: expected a JSON object (the agent's view of a task)`);
  if (o.schema !== AGENT_VIEW_SCHEMA) throw new Error(`${file}: schema: expected ${AGENT_VIEW_SCHEMA}, got ${JSON.stringify(o.schema)}`);
  for (const k of ['instance_id', 'repo', 'problem_statement', 'workTree'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new Error(`${file}: ${k}: expected a non-empty string`);
  }
  return o as AgentTaskView;
}
