/**
 * Expert demonstrations of the built-in policy, made from the train split's gold patches:
 * each is a real OpenAI tool-call conversation (the scaffold's own system and user prompts),
 * whose tool results come from the REAL tools (operator/rollout/tools) in a real sandbox work
 * tree, and whose final patch is graded by the real grader:
 *
 *   view (a few lines around the bug) -> str_replace -> finish
 *
 * Kinds per task (issue 10's design): `gold` (the fix), `retry` (a mistyped old_str, the tool's
 * error, then the fix) and wrong edits (edits.ts: neighbouring line, wrong operator, partial
 * fix, regression-breaking fix). The right/wrong choice falls at the first tokens of old_str /
 * new_str, so sampling keeps both options. A gold or retry demonstration that does not resolve
 * its task is an error (the data would be wrong); a wrong edit that resolves is dropped.
 */
import type { ChatMessage, SelfContainedTask, TrajectoryRecord } from '../api/records.ts';
import { SYSTEM_PROMPT, userPrompt } from '../rollout/agent/prompts.ts';
import { evaluatePatch } from '../grading/evaluate.ts';
import { Sandbox } from '../rollout/sandbox/sandbox.ts';
import { Toolbox } from '../rollout/tools/toolbox.ts';
import { applyEdits, readLibraries, type Library, type TaskDefinition } from '../tasks/suite.ts';
import { mulberry32 } from '../util/random.ts';
import { goldEdit, mistypedOldStr, wrongEdits, type GoldEdit, type WrongEdit, type WrongKind } from './edits.ts';
import { headChars } from '../util/text.ts';

export type DemoKind = 'gold' | 'retry' | WrongKind;

export interface DemoMix {
  /** Demonstrations of the gold fix per task. */
  gold: number;
  /** Error-and-retry demonstrations (mistyped old_str, then the gold fix) per task. */
  retry: number;
  /** Wrong-edit demonstrations per task (distinct wrong edits, in edits.ts order, repeated when fewer exist). */
  wrong: number;
}

/** Issue 10's lesson: more wrong than gold demonstrations for resolve rates near 0.5 at temperature 0.7. */
export const DEFAULT_MIX: DemoMix = { gold: 2, retry: 1, wrong: 5 };

/** What a task's demonstrations are made of (the build's data, written to data.json). */
export interface TaskPlan {
  taskId: string;
  file: string;
  gold: GoldEdit;
  retryOldStr?: string;
  /** Wrong edits that the grader confirmed do NOT resolve the task. */
  wrong: WrongEdit[];
  /** Wrong-edit candidates dropped because they resolve the task. */
  droppedResolving: WrongKind[];
}

export interface Demo {
  taskId: string;
  kind: DemoKind;
  record: TrajectoryRecord;
}

interface Step {
  name: 'file_editor' | 'finish';
  args: Record<string, unknown>;
  /** The tool must answer with an error (the retry demonstrations' first edit). */
  expectError?: boolean;
}

/** The library and definition of each suite task id. */
async function definitions(): Promise<Map<string, { lib: Library; def: TaskDefinition }>> {
  const out = new Map<string, { lib: Library; def: TaskDefinition }>();
  for (const lib of await readLibraries()) for (const def of lib.def.tasks) out.set(def.id, { lib, def });
  return out;
}

/** Grades a patch with the real grader; true when it resolves the task. */
async function resolves(task: SelfContainedTask, patch: string): Promise<boolean> {
  const ev = await evaluatePatch(task, patch, { timeoutSeconds: 120 });
  return ev.resolved;
}

/** Runs the steps with the real toolbox in a fresh sandbox; returns the messages and the final patch. */
async function playSteps(task: SelfContainedTask, steps: Step[], shownDir: string): Promise<{ messages: ChatMessage[]; patch: string }> {
  const sandbox = await Sandbox.create(task, { isolation: 'none', user: 'runner' });
  try {
    const toolbox = new Toolbox(sandbox, { toolTimeoutSeconds: 30 });
    const messages: ChatMessage[] = [
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: userPrompt(task, shownDir) },
    ];
    for (const [i, s] of steps.entries()) {
      const id = `call_${i}`;
      const args = JSON.stringify(s.args);
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: s.name, arguments: args } }] });
      const r = await toolbox.call(s.name, args);
      if (r.error !== (s.expectError ?? false)) {
        throw new Error(`${task.instance_id}: demonstration step ${i} (${s.name} ${headChars(args, 120)}): ${r.error ? 'unexpected error' : 'expected an error'}: ${headChars(r.content, 300)}`);
      }
      if (s.name === 'finish') break;
      messages.push({ role: 'tool', tool_call_id: id, name: s.name, content: r.content });
    }
    return { messages, patch: await sandbox.diff() };
  } finally {
    await sandbox.dispose();
  }
}

/** The directory the user prompt names: like a local sandbox's (seeded), or a Pod's fixed one. */
function shownWorkDir(rng: () => number): string {
  if (rng() < 0.25) return '/workspace/repo';
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 6; i++) s += abc[Math.floor(rng() * abc.length)];
  return `/tmp/entropo-wt-${s}`;
}

function record(task: SelfContainedTask, kind: DemoKind, n: number, messages: ChatMessage[], patch: string, resolved: boolean): TrajectoryRecord {
  const steps = messages.filter((m) => m.role === 'assistant').length;
  return {
    schema: 'entropo.dev/trajectory/v1',
    id: `${task.instance_id}/${n}/demo-${kind}`,
    taskId: task.instance_id,
    sample: n,
    model: 'demonstration',
    sampling: { temperature: 0, top_p: 1, top_k: 0 },
    messages,
    exitReason: 'finished',
    finished: true,
    steps,
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    timings: [],
    startedAt: '1970-01-01T00:00:00Z',
    durationSeconds: 0,
    patch,
    patchHash: '',
    regression: { passed: [], failed: [] },
    hidden: { passed: [], failed: [] },
    resolved,
    reward: resolved ? 1 : 0,
  };
}

/** The plan of a task: its gold edit and the graded wrong edits (I/O: the grader). */
export async function planTask(task: SelfContainedTask, defs?: Map<string, { lib: Library; def: TaskDefinition }>): Promise<TaskPlan> {
  const d = (defs ?? (await definitions())).get(task.instance_id);
  if (!d) throw new Error(`${task.instance_id}: not a task of the built-in suite`);
  const files = [...new Set(d.def.bug.map((e) => e.file))];
  if (files.length !== 1) throw new Error(`${task.instance_id}: demonstrations need a one-file bug (it edits ${files.join(', ')})`);
  const file = files[0];
  const base = task.files[file];
  const fixed = d.lib.files[file];
  const gold = goldEdit(base, fixed);
  const regression = d.def.regression_break ? applyEdits(d.lib.files, d.def.regression_break, `${task.instance_id} regression_break`)[file] : undefined;
  const wrong: WrongEdit[] = [];
  const droppedResolving: WrongKind[] = [];
  for (const w of wrongEdits(base, fixed, gold, regression)) {
    const after = base.replace(w.oldStr, () => w.newStr);
    const { patch } = await playSteps(task, [{ name: 'file_editor', args: { command: 'str_replace', path: file, old_str: w.oldStr, new_str: w.newStr } }], '.');
    if (after === base || !patch) continue;
    if (await resolves(task, patch)) droppedResolving.push(w.kind);
    else wrong.push(w);
  }
  return { taskId: task.instance_id, file, gold, retryOldStr: mistypedOldStr(base, gold.oldStr), wrong, droppedResolving };
}

/**
 * The demonstrations of one task (I/O: sandboxes and the grader), `mix` of each kind, shown work
 * directories drawn from `seed`. Throws when a gold or retry demonstration does not resolve.
 */
export async function taskDemos(task: SelfContainedTask, plan: TaskPlan, mix: DemoMix, seed: number): Promise<Demo[]> {
  const rng = mulberry32(seed);
  const view: Step = { name: 'file_editor', args: { command: 'view', path: plan.file, view_range: plan.gold.viewRange } };
  const replace = (oldStr: string, newStr: string, expectError = false): Step => ({
    name: 'file_editor',
    args: { command: 'str_replace', path: plan.file, old_str: oldStr, new_str: newStr },
    expectError,
  });
  const finish: Step = { name: 'finish', args: {} };
  const kinds: { kind: DemoKind; steps: Step[] }[] = [];
  for (let i = 0; i < mix.gold; i++) kinds.push({ kind: 'gold', steps: [view, replace(plan.gold.oldStr, plan.gold.newStr), finish] });
  for (let i = 0; i < mix.retry && plan.retryOldStr; i++) {
    kinds.push({ kind: 'retry', steps: [view, replace(plan.retryOldStr, plan.gold.newStr, true), replace(plan.gold.oldStr, plan.gold.newStr), finish] });
  }
  for (let i = 0; i < mix.wrong && plan.wrong.length; i++) {
    const w = plan.wrong[i % plan.wrong.length];
    kinds.push({ kind: w.kind, steps: [view, replace(w.oldStr, w.newStr), finish] });
  }
  const out: Demo[] = [];
  let goldPatch: string | undefined;
  for (const [n, k] of kinds.entries()) {
    const { messages, patch } = await playSteps(task, k.steps, shownWorkDir(rng));
    const good = k.kind === 'gold' || k.kind === 'retry';
    if (good) {
      if (goldPatch === undefined) {
        if (!(await resolves(task, patch))) throw new Error(`${task.instance_id}: the gold demonstration does not resolve the task (patch:\n${patch})`);
        goldPatch = patch;
      } else if (patch !== goldPatch) throw new Error(`${task.instance_id}: ${k.kind} demonstration made another patch than the gold one`);
    }
    out.push({ taskId: task.instance_id, kind: k.kind, record: record(task, k.kind, n, messages, patch, good) });
  }
  return out;
}

export { definitions as suiteDefinitions };
