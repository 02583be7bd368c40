/** Assembling trajectory records, pure. */
import { normalisedPatchHash } from '../selection/patch.ts';
import type { Sampling } from '../api/common.ts';
import type { SamplingParams, TestOutcome, TrajectoryRecord } from '../api/records.ts';

export const TRAJECTORY_SCHEMA = 'entropo.dev/trajectory/v1' as const;

/**
 * sha256 (hex) of the normalised patch; the empty patch hashes "". The normalisation is the
 * selector's (selection/patch.ts: metadata, line numbers, blanks and file order do not count), so
 * the hash in a termination summary counts distinct patches the same way the selector does.
 */
export function patchHash(patch: string): string {
  return normalisedPatchHash(patch);
}

/** The API's Sampling (camelCase spec) as the record's parameters, with sample i's seed. */
export function samplingParams(s: Sampling, sample: number): SamplingParams {
  const p: SamplingParams = { temperature: s.temperature, top_p: s.topP, top_k: s.topK, max_tokens: s.maxTokensPerTurn };
  if (s.seed !== undefined) p.seed = s.seed + sample;
  return p;
}

/** A stable trajectory id: <taskId>/<sample>/<run>. */
export const trajectoryId = (taskId: string, sample: number, run: string): string => `${taskId}/${sample}/${run}`;

/** The one no-sample predicate lives with the record schema (operator/api/records.ts). */
export { NO_SAMPLE_EXITS, isSample } from '../api/records.ts';

export const NO_TESTS: TestOutcome = { passed: [], failed: [] };

/** Every test of the task counted as failed (a rollout that could not be graded). */
export function allFailed(ids: readonly string[]): TestOutcome {
  return { passed: [], failed: [...ids] };
}

export type { TrajectoryRecord };
