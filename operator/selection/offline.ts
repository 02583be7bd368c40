/**
 * Test-time scaling over rollouts already made (`entropo evaluate`, issue 18), pure: trajectories
 * with N samples per task, optional verifier scores and the EvalSuite's spec.selection go through
 * the same selection and metrics code as an EvalSuite (computeEvalMetrics: the selector sees only
 * test-time fields; grading is joined after each pick), and come back as one document: the
 * metrics (pass@1, pass@k for k = 1..N, best@k, best@N, oracle gap, selection accuracy, distinct
 * patches), each task's selection with its explanation, and the selected predictions in SWE-bench
 * form. Plus the tables `entropo evaluate` prints.
 */
import type { EvalMetrics, SelectionStep } from '../api/common.ts';
import { selectionPipeline, VerifierStepTypes } from '../api/common.ts';
import type { TrajectoryRecord } from '../api/records.ts';
import { computeEvalMetrics, groupByTask, type KSummary } from './metrics.ts';
import { describeSelection } from './selector.ts';

/** One task's selection, explained. */
export interface OfflineTaskSelection {
  task: string;
  /** Samples counted (no-sample records, sandbox_error, left out). */
  samples: number;
  resolvedSamples: number;
  distinctPatches: number;
  /** The picked trajectory id, and whether it resolved the task (graded after the pick). */
  selected: string;
  resolved: boolean;
  decidedBy: string;
  /** Per step: what it did ("applied", "skipped-unavailable", ...), the pool before and after, and why. */
  steps: { step: string; status: string; before: number; after: number; note: string }[];
  /** The explanation as lines for people. */
  explanation: string;
}

/** What `entropo evaluate` writes as JSON. */
export interface OfflineEvaluation {
  /** The pipeline that ran (the given one, or the default for whether scores were given). */
  pipeline: SelectionStep[];
  seed: number;
  tasks: number;
  samples: number;
  /** Records that are no sample (sandbox_error), not counted. */
  noSample: number;
  /** Trajectories with a verifier score. */
  scored: number;
  metrics: EvalMetrics;
  perK: KSummary[];
  /** Tasks per deciding step. */
  decidedBy: Record<string, number>;
  selections: OfflineTaskSelection[];
}

/** A selected prediction, SWE-bench form, with the trajectory it comes from. */
export interface SelectedPrediction {
  instance_id: string;
  model_name_or_path: string;
  model_patch: string;
  trajectory: string;
}

/**
 * Evaluates trajectories as an EvalSuite does. `selection` is spec.selection (pipeline, seed);
 * `scores` are verifier scores by trajectory id (they override the records' own verifierScore).
 * Throws when the pipeline has a verifier step and there is no score at all.
 */
export function evaluateOffline(
  trajectories: readonly TrajectoryRecord[],
  selection: { pipeline?: SelectionStep[]; seed?: number } = {},
  scores?: ReadonlyMap<string, number>,
): { evaluation: OfflineEvaluation; predictions: SelectedPrediction[] } {
  const scored = trajectories.filter((t) => scores?.has(t.id) || t.verifierScore !== undefined).length;
  const pipeline = selectionPipeline(selection.pipeline ? { pipeline: selection.pipeline } : undefined, scored > 0);
  if (scored === 0 && pipeline.some((s) => (VerifierStepTypes as readonly string[]).includes(s.type))) {
    throw new Error('the selection pipeline has a verifier step (VerifierThreshold or VerifierArgmax) but no trajectory has a verifier score: give scores, or remove the step');
  }
  const seed = selection.seed ?? 0;
  const report = computeEvalMetrics(groupByTask(trajectories), { selection: { pipeline, seed }, ...(scores ? { verifierScores: scores } : {}) });
  const byId = new Map(trajectories.map((t) => [t.id, t]));
  const decidedBy: Record<string, number> = {};
  const selections: OfflineTaskSelection[] = report.tasks.map((t) => {
    decidedBy[t.selection.decidedBy] = (decidedBy[t.selection.decidedBy] ?? 0) + 1;
    return {
      task: t.task,
      samples: t.samples,
      resolvedSamples: t.resolved,
      distinctPatches: t.distinctPatches,
      selected: t.selection.selected,
      resolved: t.pickResolved,
      decidedBy: t.selection.decidedBy,
      steps: t.selection.steps.map((s) => ({ step: s.step.type, status: s.status, before: s.before, after: s.after, note: s.note })),
      explanation: describeSelection(t.selection),
    };
  });
  const predictions = selections.map((s) => {
    const t = byId.get(s.selected)!;
    return { instance_id: s.task, model_name_or_path: t.model, model_patch: t.patch, trajectory: t.id };
  });
  return {
    evaluation: {
      pipeline,
      seed,
      tasks: report.tasks.length,
      samples: report.samples,
      noSample: trajectories.filter((t) => t.exitReason === 'sandbox_error').length,
      scored,
      metrics: report.metrics,
      perK: report.perK,
      decidedBy,
      selections,
    },
    predictions,
  };
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);

/** The tables `entropo evaluate` prints: the metrics, pass@k / best@k per k, and one row per task. Pure. */
export function formatOfflineEvaluation(e: OfflineEvaluation): string {
  const m = e.metrics;
  const lines = [
    `${e.tasks} tasks, ${e.samples} samples${e.noSample ? ` (${e.noSample} no-sample records left out)` : ''}, ${e.scored} with verifier scores; pipeline ${e.pipeline.map((s) => s.type).join(' -> ')} (seed ${e.seed})`,
    '',
    '| metric | value |',
    '|---|---:|',
    `| pass@1 | ${pct(m.pass1)} |`,
    `| pass@N | ${pct(m.passAtN)} |`,
    `| best@N | ${pct(m.bestAtN)} |`,
    `| oracle gap (pass@N - best@N) | ${pct(m.oracleGap)} |`,
    `| selection accuracy | ${pct(m.selectionAccuracy)} |`,
    `| distinct patches per task | ${m.distinctPatchesPerTask?.toFixed(2) ?? '-'} |`,
    `| finished | ${pct(m.finishedRate)} |`,
    '',
    '| k | pass@k | best@k | best@k method |',
    '|---:|---:|---:|---|',
    ...(m.passAtK ?? []).map((p, i) => `| ${p.k} | ${pct(p.value)} | ${pct(m.bestAtK?.[i]?.value)} | ${e.perK[i]?.method ?? '-'}${e.perK[i]?.cappedTasks ? ` (${e.perK[i].cappedTasks} tasks capped)` : ''} |`),
    '',
    '| task | samples | resolved | distinct patches | selected | decided by | selected resolved |',
    '|---|---:|---:|---:|---|---|---|',
    ...e.selections.map((s) => `| ${s.task} | ${s.samples} | ${s.resolvedSamples} | ${s.distinctPatches} | ${s.selected} | ${s.decidedBy} | ${s.resolved ? 'yes' : 'no'} |`),
  ];
  return lines.join('\n');
}
