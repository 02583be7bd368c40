/**
 * Test-time scaling (docs/method.md sections 8 and 9): hybrid selection, pass@k / best@k metrics,
 * verifier calibration. Everything exported here is pure (no I/O, no tfjs).
 *
 * The EvalSuite reconciler and local mode:
 * - per task, as its candidates complete:
 *     const result = select(toCandidates(records, scores), spec.selection);
 *     status.selections.push(toTaskSelection(taskId, result, resolvedOf(result.selected)));
 * - for the whole suite (selection, then grading, then every EvalMetrics field):
 *     const report = computeEvalMetrics(groupByTask(records), { selection: spec.selection, verifierScores: scores });
 *     status.metrics = report.metrics; status.selections = report.selections.slice(0, 1000);
 * - verifier scores, keyed by trajectory id: openVerifier(spec.verifier.model) from
 *   ./verifier-ref.ts (tfjs or an OpenAI-compatible endpoint), then .scoreAll(records).
 */
export { toCandidate, toCandidates, type SelectionCandidate, type CandidateSource } from './candidate.ts';
export {
  select,
  prepare,
  pickIndex,
  explainIndex,
  rankOrder,
  isRankable,
  resolveStep,
  toTaskSelection,
  describeSelection,
  DEFAULT_VERIFIER_THRESHOLD,
  type SelectionResult,
  type SelectionOptions,
  type StepOutcome,
  type StepStatus,
  type ResolvedStep,
  type PreparedTask,
  type TaskSelection,
} from './selector.ts';
export {
  passAtK,
  binomial,
  bestAtKCurve,
  computeEvalMetrics,
  groupByTask,
  type BestAtKEstimate,
  type BestAtKMethod,
  type EvalOptions,
  type EvalReport,
  type GradedTrajectory,
  type KSummary,
  type SubsetOptions,
  type TaskResult,
} from './metrics.ts';
export { auc, ece, calibration, type Calibration, type CalibrationBin } from './calibration.ts';
export { normalisePatch, normalisedPatchHash, patchIdentity, EMPTY_PATCH_KEY } from './patch.ts';
export { hash53, mulberry32 } from './hash.ts';
export {
  renderTrajectory,
  verifierMessages,
  verifierLabel,
  yesProbability,
  scoreAll,
  VERIFIER_ANSWERS,
  VERIFIER_SYSTEM_PROMPT,
  type RenderOptions,
  type ScoreFn,
  type ScoreAllOptions,
  type VerifierInput,
} from './verifier-prompt.ts';
// The tfjs verifier (trainVerifier, Verifier) is in ./verifier.ts and the endpoint scorer in
// ./verifier-endpoint.ts; import them directly (they load tfjs / the OpenAI SDK).
