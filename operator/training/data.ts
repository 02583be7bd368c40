/**
 * Training data from trajectory records (docs/method.md sections 4-5), pure:
 * - KTO: every finished sample, labelled desirable when resolved;
 * - DPO: same-task pairs where exactly one is resolved and both finished (each trajectory in at
 *   most one pair, paired in sample order, pairs that share the prompt x first);
 * - SFT: every given sample.
 * No-sample records (isSample: sandbox_error, model_error) are never data in any objective,
 * whatever their `finished` flag says; nor are records without an assistant turn.
 */
import { isSample, toTrl, type ChatMessage, type DpoExample, type KtoExample, type TrajectoryRecord } from '../api/records.ts';

/** prompt = messages before the first assistant turn (system prompt + issue); completion = the rest. */
export function splitPrompt(messages: ChatMessage[]): { prompt: ChatMessage[]; completion: ChatMessage[] } {
  const i = messages.findIndex((m) => m.role === 'assistant');
  if (i < 0) return { prompt: messages, completion: [] };
  return { prompt: messages.slice(0, i), completion: messages.slice(i) };
}

/** The one filter of every objective: a sample with at least one assistant turn. */
export const isTrainable = (t: TrajectoryRecord): boolean => isSample(t) && splitPrompt(t.messages).completion.length > 0;

/** One conversation to render: its own messages and tool schemas. */
export interface Conversation {
  messages: ChatMessage[];
  tools?: unknown[];
}

const conversation = (t: TrajectoryRecord): Conversation => ({ messages: t.messages, tools: t.tools });

export interface WithTools<T> {
  example: T;
  tools?: unknown[];
}

/** A KTO example and the conversation it renders. */
export interface KtoItem extends WithTools<KtoExample> {
  conversation: Conversation;
}

/**
 * A DPO pair and the two conversations it renders: each trajectory with ITS OWN messages (the
 * rejected one is never grafted onto the chosen one's prompt). `samePrompt` is false when the
 * two prompts differ (the sandbox gives every sample of a task the same prompt; a pair across
 * prompts is still trained, and counted by the caller).
 */
export interface DpoItem extends WithTools<DpoExample> {
  chosen: Conversation;
  rejected: Conversation;
  samePrompt: boolean;
}

/** SFT examples: every trainable record. */
export function buildSftExamples(trajs: TrajectoryRecord[]): { trajectory: TrajectoryRecord; conversation: Conversation }[] {
  return trajs.filter(isTrainable).map((t) => ({ trajectory: t, conversation: conversation(t) }));
}

export function buildKtoExamples(trajs: TrajectoryRecord[]): KtoItem[] {
  return trajs
    .filter((t) => t.finished && isTrainable(t))
    .map((t) => {
      const { prompt, completion } = splitPrompt(t.messages);
      return { example: { type: 'kto', taskId: t.taskId, prompt, completion, label: t.resolved, trajectoryId: t.id }, tools: t.tools, conversation: conversation(t) };
    });
}

const promptKey = (t: TrajectoryRecord) => JSON.stringify([splitPrompt(t.messages).prompt, t.tools ?? []]);

export function buildDpoExamples(trajs: TrajectoryRecord[]): DpoItem[] {
  const byTask = new Map<string, TrajectoryRecord[]>();
  for (const t of trajs) {
    if (!t.finished || !isTrainable(t)) continue;
    const list = byTask.get(t.taskId) ?? [];
    list.push(t);
    byTask.set(t.taskId, list);
  }
  const out: DpoItem[] = [];
  for (const [taskId, list] of [...byTask].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...list].sort((a, b) => a.sample - b.sample || a.id.localeCompare(b.id));
    const good = sorted.filter((t) => t.resolved);
    const bad = sorted.filter((t) => !t.resolved);
    const pairs: [TrajectoryRecord, TrajectoryRecord][] = [];
    // Pairs that share the prompt x first (in sample order), then the rest in sample order.
    const used = new Set<TrajectoryRecord>();
    for (const g of good) {
      const b = bad.find((x) => !used.has(x) && promptKey(x) === promptKey(g));
      if (b) {
        used.add(g).add(b);
        pairs.push([g, b]);
      }
    }
    const restGood = good.filter((x) => !used.has(x));
    const restBad = bad.filter((x) => !used.has(x));
    for (let i = 0; i < Math.min(restGood.length, restBad.length); i++) pairs.push([restGood[i], restBad[i]]);
    pairs.sort(([a], [b]) => a.sample - b.sample || a.id.localeCompare(b.id));
    for (const [g, b] of pairs) {
      const c = splitPrompt(g.messages);
      const r = splitPrompt(b.messages);
      out.push({
        example: { type: 'dpo', taskId, prompt: c.prompt, chosen: c.completion, rejected: r.completion, chosenId: g.id, rejectedId: b.id },
        tools: g.tools,
        chosen: conversation(g),
        rejected: conversation(b),
        samePrompt: promptKey(g) === promptKey(b),
      });
    }
  }
  return out;
}

/**
 * Preference data as TRL conversational JSONL rows (tools included when the trajectory had them).
 * A DPO pair whose prompts differ is left out (TRL's rows have one prompt per pair).
 */
export function trlJsonl(examples: (WithTools<DpoExample | KtoExample> & { samePrompt?: boolean })[]): string {
  const rows = examples.filter((e) => e.samePrompt !== false);
  return rows.map((e) => JSON.stringify(e.tools?.length ? { ...toTrl(e.example), tools: e.tools } : toTrl(e.example))).join('\n') + (rows.length ? '\n' : '');
}
