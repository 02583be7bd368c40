/** Assembling trajectory records, pure. */
import { createHash } from 'node:crypto';
import type { Sampling } from '../api/common.ts';
import type { SamplingParams, TestOutcome, TrajectoryRecord } from '../api/records.ts';

export const TRAJECTORY_SCHEMA = 'entropo.dev/trajectory/v1' as const;

/**
 * The patch in a canonical form: CRLF to LF, "index" lines dropped (they name blob ids, which
 * differ with the base), trailing blank lines dropped. Two work trees with the same change give
 * the same normalised patch.
 */
export function normalisePatchText(patch: string): string {
  return patch
    .replace(/\r\n/g, '\n')
    .split('\n')
    .filter((l) => !/^index [0-9a-f]+\.\.[0-9a-f]+/.test(l))
    .join('\n')
    .replace(/\n+$/, '');
}

/** sha256 (hex) of the normalised patch; the empty patch hashes "". */
export function patchHash(patch: string): string {
  return createHash('sha256').update(normalisePatchText(patch)).digest('hex');
}

/** The API's Sampling (camelCase spec) as the record's parameters, with sample i's seed. */
export function samplingParams(s: Sampling, sample: number): SamplingParams {
  const p: SamplingParams = { temperature: s.temperature, top_p: s.topP, top_k: s.topK, max_tokens: s.maxTokensPerTurn };
  if (s.seed !== undefined) p.seed = s.seed + sample;
  return p;
}

/** A stable trajectory id: <taskId>/<sample>/<run>. */
export const trajectoryId = (taskId: string, sample: number, run: string): string => `${taskId}/${sample}/${run}`;

export const NO_TESTS: TestOutcome = { passed: [], failed: [] };

/** Every test of the task counted as failed (a rollout that could not be graded). */
export function allFailed(ids: readonly string[]): TestOutcome {
  return { passed: [], failed: [...ids] };
}

export type { TrajectoryRecord };
