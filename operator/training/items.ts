/**
 * Training items of a job: trajectory records -> the data of its objective (data.ts) -> tokenised
 * multi-turn sequences with assistant masks (render.ts). One bad record never fails the job: a
 * record that cannot be masked or does not fit is dropped and counted (DataCounts).
 */
import type { ChatMessage, TrajectoryRecord } from '../api/records.ts';
import type { Preference, Training } from '../api/common.ts';
import type { ChatTokenizer } from './chat.ts';
import { encodeConversation, MaskError, type EncodedSequence } from './render.ts';
import { buildDpoExamples, buildKtoExamples, buildSftExamples, isTrainable, splitPrompt, trlJsonl, type Conversation } from './data.ts';

/** One training example: 1 sequence (KTO, SFT) or 2 (DPO: chosen, rejected). */
export interface Item {
  seqs: EncodedSequence[];
  /** Reference log-prob sums per sequence (filled by reference.ts; 0 for SFT). */
  ref: number[];
  /** KTO: desirable. */
  label?: boolean;
  prompt: ChatMessage[];
  completion: ChatMessage[];
  tools?: unknown[];
}

/** Why trajectories (or pairs) did not become training items, and keep-end truncations. */
export interface DataCounts {
  /** Records that are no sample (sandbox_error, model_error) or have no assistant turn. */
  noSample: number;
  /** Cut off by a limit (KTO / DPO train finished trajectories only). */
  unfinished: number;
  /** Chat template could not locate an assistant turn (MaskError). */
  unmaskable: number;
  /** Over training.maxSequenceLength with truncation Drop, or no assistant token left after truncation. */
  tooLong: number;
  /** Sequences cut by KeepEnd truncation (still trained). */
  truncated: number;
  /** DPO pairs whose chosen and rejected prompts differ (trained, each on its own messages). */
  promptMismatch: number;
  /**
   * DPO: tasks with finished trainable trajectories but no (resolved, unresolved) pair among
   * them (all resolved or all unresolved): they give DPO nothing. 0 for KTO and SFT.
   */
  unpairedTasks: number;
}

export interface ItemsInput {
  trajectories: TrajectoryRecord[];
  training: Pick<Training, 'maxSequenceLength' | 'truncation'>;
  preference: Pick<Preference, 'algorithm'>;
  objective?: 'preference' | 'sft';
}

/** Builds the training items (pure apart from tokenisation). trl: the TRL JSONL export of preference data. */
export function buildItems(job: ItemsInput, tok: ChatTokenizer): { items: Item[]; dropped: number; counts: DataCounts; trl?: string } {
  const counts: DataCounts = { noSample: 0, unfinished: 0, unmaskable: 0, tooLong: 0, truncated: 0, promptMismatch: 0, unpairedTasks: 0 };
  const enc = (c: Conversation): EncodedSequence | undefined => {
    let s: EncodedSequence | undefined;
    try {
      s = encodeConversation(tok, c.messages, { tools: c.tools, maxLength: job.training.maxSequenceLength, truncation: job.training.truncation });
    } catch (e) {
      if (!(e instanceof MaskError)) throw e;
      counts.unmaskable++;
      return undefined;
    }
    if (!s || s.assistantTokens === 0) {
      counts.tooLong++;
      return undefined;
    }
    return s;
  };
  const items: Item[] = [];
  const trainable = job.trajectories.filter(isTrainable);
  counts.noSample = job.trajectories.length - trainable.length;
  const finish = (trl?: string) => {
    for (const it of items) for (const s of it.seqs) if (s.truncated) counts.truncated++;
    return { items, dropped: counts.unmaskable + counts.tooLong, counts, trl };
  };
  if ((job.objective ?? 'preference') === 'sft') {
    for (const { trajectory: t, conversation } of buildSftExamples(job.trajectories)) {
      const s = enc(conversation);
      if (s) items.push({ seqs: [s], ref: [0], ...splitPrompt(t.messages), tools: t.tools });
    }
    return finish();
  }
  counts.unfinished = trainable.filter((t) => !t.finished).length;
  if (job.preference.algorithm === 'KTO') {
    const ex = buildKtoExamples(job.trajectories);
    for (const e of ex) {
      const s = enc(e.conversation);
      if (s) items.push({ seqs: [s], ref: [0], label: e.example.label, prompt: e.example.prompt, completion: e.example.completion, tools: e.tools });
    }
    return finish(trlJsonl(ex));
  }
  const outcomes = new Map<string, Set<boolean>>();
  for (const t of trainable) if (t.finished) outcomes.set(t.taskId, (outcomes.get(t.taskId) ?? new Set<boolean>()).add(t.resolved));
  counts.unpairedTasks = [...outcomes.values()].filter((o) => o.size < 2).length;
  const ex = buildDpoExamples(job.trajectories);
  for (const e of ex) {
    const c = enc(e.chosen);
    const r = c && enc(e.rejected);
    if (c && r) {
      items.push({ seqs: [c, r], ref: [0, 0], prompt: e.example.prompt, completion: e.example.chosen, tools: e.tools });
      if (!e.samePrompt) counts.promptMismatch++;
    }
  }
  return finish(trlJsonl(ex));
}
