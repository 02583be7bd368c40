/** The rollout summary a sandbox Pod writes to its termination message (<= 4 KiB): built from a trajectory and encoded. */
import { TERMINATION_MESSAGE_LIMIT, type RolloutSummary, type TrajectoryRecord } from './records.ts';
import { headUtf8 } from '../util/text.ts';

export function summarize(t: TrajectoryRecord, key: string): RolloutSummary {
  const s: RolloutSummary = {
    v: 1,
    task: t.taskId,
    sample: t.sample,
    trajectory: t.id,
    key,
    finished: t.finished,
    exit: t.exitReason,
    steps: t.steps,
    tokens: t.usage.totalTokens,
    seconds: Math.round(t.durationSeconds * 1000) / 1000,
    patchHash: t.patchHash,
    regression: { passed: t.regression.passed.length, failed: t.regression.failed.length },
    hidden: { passed: t.hidden.passed.length, failed: t.hidden.failed.length },
    resolved: t.resolved,
    reward: t.reward,
  };
  if (t.reproduction) s.reproduction = { passed: t.reproduction.passed, total: t.reproduction.total };
  if (t.error) s.error = t.error;
  return s;
}

/**
 * JSON of the summary, never over the termination-message limit (4 KiB, counted in bytes):
 * the free-text error is shortened first; ids and keys, if absurdly long, are cut last.
 */
export function encodeSummary(summary: RolloutSummary, limit = TERMINATION_MESSAGE_LIMIT): string {
  let json = JSON.stringify(summary);
  if (Buffer.byteLength(json) <= limit) return json;
  const s = { ...summary };
  if (s.error !== undefined) {
    const over = Buffer.byteLength(json) - limit;
    const bytes = Buffer.from(s.error);
    s.error = headUtf8(bytes, Math.max(0, bytes.length - over - 16)) + '…';
    json = JSON.stringify(s);
    if (Buffer.byteLength(json) <= limit) return json;
    delete s.error;
  }
  for (const field of ['key', 'trajectory', 'task'] as const) {
    json = JSON.stringify(s);
    if (Buffer.byteLength(json) <= limit) return json;
    s[field] = headUtf8(s[field], 512) + '…';
  }
  json = JSON.stringify(s);
  if (Buffer.byteLength(json) > limit) throw new Error(`rollout summary cannot fit in ${limit} bytes`);
  return json;
}
