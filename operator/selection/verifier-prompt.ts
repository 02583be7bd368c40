/**
 * The verifier's input (docs/method.md section 8): the whole trajectory rendered as text plus the
 * final patch, as one user turn, answered "YES" or "NO". Pure; shared by training, scoring with
 * our tfjs model and scoring through an OpenAI-compatible endpoint, so all three see the same text.
 */
import type { ChatMessage, TrajectoryRecord } from '../api/records.ts';
import { headChars, tailChars } from '../util/text.ts';

export const VERIFIER_ANSWERS = { yes: 'YES', no: 'NO' } as const;

export const VERIFIER_SYSTEM_PROMPT =
  'You are an expert software engineer reviewing the work of a coding agent. Read the issue, the ' +
  "agent's trajectory and its final patch, and judge whether the patch resolves the issue so that " +
  'the hidden tests pass. Answer with exactly one word: YES or NO.';

export const VERIFIER_QUESTION = 'Does the final patch resolve the issue? Answer YES or NO.';

export interface RenderOptions {
  /** Characters kept of each assistant message or tool observation (head and tail). Default 2000. */
  maxMessageChars?: number;
  /** Characters kept of the final patch (head and tail). Default 20000. */
  maxPatchChars?: number;
  /** The verifier's instructions; default VERIFIER_SYSTEM_PROMPT. */
  systemPrompt?: string;
}

/** What the verifier reads of a trajectory: no grade, no hidden tests. */
export type VerifierInput = Pick<TrajectoryRecord, 'messages' | 'patch'>;

/** Keeps the head and the tail of a long text, saying how much was cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = headChars(text, Math.ceil(max / 2));
  const tail = tailChars(text, Math.floor(max / 2));
  return `${head}\n[... ${text.length - head.length - tail.length} characters omitted ...]\n${tail}`;
}

/** The trajectory as text: the issue, every assistant turn with its tool calls, every observation. */
export function renderTrajectory(input: VerifierInput, opts: RenderOptions = {}): string {
  const maxMsg = opts.maxMessageChars ?? 2000;
  const maxPatch = opts.maxPatchChars ?? 20000;
  const issueAt = input.messages.findIndex((m) => m.role === 'user');
  const issue = issueAt >= 0 ? (input.messages[issueAt].content ?? '') : '';
  const parts: string[] = ['## Issue', issue.trim(), '', '## Trajectory'];
  let step = 0;
  input.messages.forEach((m, i) => {
    if (i <= issueAt || m.role === 'system') return;
    if (m.role === 'assistant') {
      step++;
      parts.push(`### Step ${step}: agent`);
      if (m.content) parts.push(clip(m.content.trim(), maxMsg));
      for (const c of m.tool_calls ?? []) parts.push(`-> ${c.function.name}(${clip(c.function.arguments, maxMsg)})`);
    } else if (m.role === 'tool') {
      parts.push(`### Step ${step}: observation`, clip((m.content ?? '').trim(), maxMsg));
    } else {
      parts.push(`### ${m.role}`, clip((m.content ?? '').trim(), maxMsg));
    }
  });
  parts.push('', '## Final patch');
  parts.push(input.patch.trim() ? `\`\`\`diff\n${clip(input.patch.trimEnd(), maxPatch)}\n\`\`\`` : '(empty: the agent changed nothing)');
  parts.push('', VERIFIER_QUESTION);
  return parts.join('\n');
}

/** The prompt the verifier answers (system + user), optionally with the answer as an assistant turn. */
export function verifierMessages(input: VerifierInput, answer?: boolean, opts: RenderOptions = {}): ChatMessage[] {
  const messages: ChatMessage[] = [
    { role: 'system', content: opts.systemPrompt ?? VERIFIER_SYSTEM_PROMPT },
    { role: 'user', content: renderTrajectory(input, opts) },
  ];
  if (answer !== undefined) messages.push({ role: 'assistant', content: answer ? VERIFIER_ANSWERS.yes : VERIFIER_ANSWERS.no });
  return messages;
}

/** Training target from the reward: YES when reward >= 0.5 (resolved), else NO. */
export const verifierLabel = (t: Pick<TrajectoryRecord, 'reward'>): boolean => t.reward >= 0.5;

/** p(YES) / (p(YES) + p(NO)) from the two answers' log-probs: sigmoid(lpYes - lpNo), stable. */
export function yesProbability(logpYes: number, logpNo: number): number {
  const d = logpYes - logpNo;
  if (Number.isNaN(d)) throw new RangeError('verifier: answer log-probs are NaN');
  return d >= 0 ? 1 / (1 + Math.exp(-d)) : Math.exp(d) / (1 + Math.exp(d));
}

// ---- scoring many trajectories ---------------------------------------------------------------

export type ScoreFn<T> = (item: T) => Promise<number>;

export interface ScoreAllOptions {
  /** Trajectories scored at once (default 4). */
  concurrency?: number;
  /** Called as each score arrives (completion order), with its id. */
  onScore?: (id: string, score: number) => void;
}

/**
 * Scores items with at most `concurrency` in flight and returns the scores keyed by each item's
 * id, whatever order they finish in (a score is written under the id of the item it was computed
 * for, never by arrival position). A failure rejects with the item's id in the message.
 */
export async function scoreAll<T extends { id: string }>(items: readonly T[], score: ScoreFn<T>, opts: ScoreAllOptions = {}): Promise<Map<string, number>> {
  const ids = new Set<string>();
  for (const it of items) {
    if (ids.has(it.id)) throw new Error(`verifier: duplicate trajectory id ${JSON.stringify(it.id)}`);
    ids.add(it.id);
  }
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const out = new Map<string, number>();
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const item = items[next++];
      let s: number;
      try {
        s = await score(item);
      } catch (e) {
        failed = true;
        throw new Error(`verifier: scoring ${item.id} failed: ${(e as Error).message}`, { cause: e });
      }
      if (!(s >= 0 && s <= 1)) {
        failed = true;
        throw new Error(`verifier: score of ${item.id} is ${s}, not in [0, 1]`);
      }
      out.set(item.id, s);
      opts.onScore?.(item.id, s);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  // insertion order = completion order; return in input order for stable output
  return new Map(items.map((it) => [it.id, out.get(it.id)!]));
}
