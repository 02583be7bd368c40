/**
 * Preference data from trajectory records (METHOD.md sections 4-5), pure:
 * - KTO: every finished trajectory, labelled desirable when resolved;
 * - DPO: same-task pairs where exactly one is resolved and both finished (each trajectory in at
 *   most one pair, paired in sample order);
 * - SFT: the given trajectories as they are.
 * Trajectories lost to infrastructure (sandbox_error) are never data.
 */
import { toTrl, type ChatMessage, type DpoExample, type KtoExample, type TrajectoryRecord } from '../api/records.ts';

/** prompt = messages before the first assistant turn (system prompt + issue); completion = the rest. */
export function splitPrompt(messages: ChatMessage[]): { prompt: ChatMessage[]; completion: ChatMessage[] } {
  const i = messages.findIndex((m) => m.role === 'assistant');
  if (i < 0) return { prompt: messages, completion: [] };
  return { prompt: messages.slice(0, i), completion: messages.slice(i) };
}

const usable = (t: TrajectoryRecord) => t.exitReason !== 'sandbox_error' && splitPrompt(t.messages).completion.length > 0;

export interface WithTools<T> {
  example: T;
  tools?: unknown[];
}

export function buildKtoExamples(trajs: TrajectoryRecord[]): WithTools<KtoExample>[] {
  return trajs
    .filter((t) => t.finished && usable(t))
    .map((t) => {
      const { prompt, completion } = splitPrompt(t.messages);
      return { example: { type: 'kto', taskId: t.taskId, prompt, completion, label: t.resolved, trajectoryId: t.id }, tools: t.tools };
    });
}

export function buildDpoExamples(trajs: TrajectoryRecord[]): WithTools<DpoExample>[] {
  const byTask = new Map<string, TrajectoryRecord[]>();
  for (const t of trajs) {
    if (!t.finished || !usable(t)) continue;
    const list = byTask.get(t.taskId) ?? [];
    list.push(t);
    byTask.set(t.taskId, list);
  }
  const out: WithTools<DpoExample>[] = [];
  for (const [taskId, list] of [...byTask].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...list].sort((a, b) => a.sample - b.sample || a.id.localeCompare(b.id));
    const good = sorted.filter((t) => t.resolved);
    const bad = sorted.filter((t) => !t.resolved);
    for (let i = 0; i < Math.min(good.length, bad.length); i++) {
      const c = splitPrompt(good[i].messages);
      const r = splitPrompt(bad[i].messages);
      out.push({
        example: { type: 'dpo', taskId, prompt: c.prompt, chosen: c.completion, rejected: r.completion, chosenId: good[i].id, rejectedId: bad[i].id },
        tools: good[i].tools,
      });
    }
  }
  return out;
}

/** Preference data as TRL conversational JSONL rows (tools included when the trajectory had them). */
export function trlJsonl(examples: WithTools<DpoExample | KtoExample>[]): string {
  return examples.map((e) => JSON.stringify(e.tools?.length ? { ...toTrl(e.example), tools: e.tools } : toTrl(e.example))).join('\n') + (examples.length ? '\n' : '');
}
