/**
 * What the selector may see of a trajectory: only what is known at test time (docs/method.md
 * section 8). Hidden FAIL_TO_PASS results, the reward and the resolved flag are not part of the
 * type, and toCandidate copies field by field, so they cannot leak in by spreading a record.
 */
import type { TrajectoryRecord } from '../api/records.ts';

export interface SelectionCandidate {
  /** Trajectory id; unique among a task's candidates. */
  readonly id: string;
  /** The agent ended on its own (not cut off by a step, token or time limit). */
  readonly finished: boolean;
  /** Existing repository tests (PASS_TO_PASS) run on the final patch: counts. */
  readonly regression?: { readonly passed: number; readonly failed: number };
  /** Tests the agent wrote itself, run on its final patch. */
  readonly reproduction?: { readonly passed: number; readonly total: number };
  /** Verifier p(YES), in [0, 1]. */
  readonly verifierScore?: number;
  /** Agent steps (tool-calling turns). */
  readonly steps: number;
  /** Final patch (unified diff). */
  readonly patch: string;
  /**
   * Identity of the normalised patch when the text is not at hand: a rollout summary's patchHash
   * (sha256 of normalisePatch(patch); EMPTY_PATCH_KEY for an empty patch). When set, patch
   * groups and distinct-patch counts use it instead of normalising `patch`.
   */
  readonly patchKey?: string;
}

/** The test-time fields of a trajectory record; nothing else. */
export type CandidateSource = Pick<TrajectoryRecord, 'id' | 'finished' | 'regression' | 'reproduction' | 'verifierScore' | 'steps' | 'patch'> & { patchKey?: string };

/**
 * Builds a candidate from a trajectory record, copying only test-time fields. `verifierScore`
 * overrides the record's own score (scores computed after the record was written, keyed by id).
 */
export function toCandidate(record: CandidateSource, verifierScore?: number): SelectionCandidate {
  const score = verifierScore ?? record.verifierScore;
  const candidate: {
    id: string;
    finished: boolean;
    steps: number;
    patch: string;
    regression?: { passed: number; failed: number };
    reproduction?: { passed: number; total: number };
    verifierScore?: number;
    patchKey?: string;
  } = {
    id: record.id,
    finished: record.finished,
    steps: record.steps,
    patch: record.patch,
  };
  if (record.patchKey !== undefined) candidate.patchKey = record.patchKey;
  if (record.regression) candidate.regression = { passed: record.regression.passed.length, failed: record.regression.failed.length };
  if (record.reproduction) candidate.reproduction = { passed: record.reproduction.passed, total: record.reproduction.total };
  if (score !== undefined) {
    if (!(score >= 0 && score <= 1)) throw new RangeError(`verifier score of ${record.id} must be in [0, 1], got ${score}`);
    candidate.verifierScore = score;
  }
  return candidate;
}

/** Builds the candidates of one task; scores (when given) are looked up by trajectory id. */
export function toCandidates(records: readonly CandidateSource[], scores?: ReadonlyMap<string, number>): SelectionCandidate[] {
  return records.map((r) => toCandidate(r, scores?.get(r.id)));
}
