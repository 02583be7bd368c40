/**
 * The SWE-bench harness's evaluation reports, pure (issue 18): the per-instance report.json that
 * swebench/harness/grading.py get_eval_report writes (tests_status with FAIL_TO_PASS / PASS_TO_PASS
 * success and failure lists, resolved) and the run summary of swebench/harness/reporting.py
 * make_run_report (schema_version 2: total / submitted / completed / resolved / unresolved /
 * empty-patch / error counts and id lists). Same rules as the harness: a prediction whose
 * model_patch is "" or null is an empty patch and is not run; an instance with a report is
 * completed (resolved or unresolved); a submitted instance without one (the patch did not apply,
 * the environment failed) is an error; a task of the dataset without a prediction is incomplete.
 */
import type { TaskRecord, TestOutcome } from '../api/records.ts';

/** One line of a SWE-bench predictions JSONL. */
export interface Prediction {
  instance_id: string;
  model_name_or_path: string;
  model_patch: string | null;
}

/** tests_status of a report: success and failure ids per category. */
export interface TestsStatus {
  FAIL_TO_PASS: { success: string[]; failure: string[] };
  PASS_TO_PASS: { success: string[]; failure: string[] };
  FAIL_TO_FAIL: { success: string[]; failure: string[] };
  PASS_TO_FAIL: { success: string[]; failure: string[] };
}

/** The body of report.json for one instance (the file holds {[instance_id]: InstanceReport}). */
export interface InstanceReport {
  patch_is_None: boolean;
  patch_exists: boolean;
  patch_successfully_applied: boolean;
  resolved: boolean;
  tests_status: TestsStatus;
}

/** The harness's rule for a patch that is not run: "" or null (whitespace is a patch). */
export const isEmptyPatch = (patch: string | null | undefined): boolean => patch === '' || patch === null || patch === undefined;

/** report.json's body from a graded, applied patch: hidden = FAIL_TO_PASS, regression = PASS_TO_PASS. */
export function instanceReport(grade: { hidden: TestOutcome; regression: TestOutcome; resolved: boolean }): InstanceReport {
  return {
    patch_is_None: false,
    patch_exists: true,
    patch_successfully_applied: true,
    resolved: grade.resolved,
    tests_status: {
      FAIL_TO_PASS: { success: [...grade.hidden.passed], failure: [...grade.hidden.failed] },
      PASS_TO_PASS: { success: [...grade.regression.passed], failure: [...grade.regression.failed] },
      FAIL_TO_FAIL: { success: [], failure: [] },
      PASS_TO_FAIL: { success: [], failure: [] },
    },
  };
}

/** The run summary as make_run_report writes it (schema_version 2), plus the model it is for. */
export interface EvaluationSummary {
  total_instances: number;
  submitted_instances: number;
  completed_instances: number;
  resolved_instances: number;
  unresolved_instances: number;
  empty_patch_instances: number;
  error_instances: number;
  completed_ids: string[];
  incomplete_ids: string[];
  empty_patch_ids: string[];
  submitted_ids: string[];
  resolved_ids: string[];
  unresolved_ids: string[];
  error_ids: string[];
  schema_version: 2;
}

/**
 * The summary of one model's run. `datasetIds`: the tasks evaluated (the task file, after
 * --instance-ids); `predictions`: that model's predictions by instance id; `reports`: resolved
 * flag of each instance that has a report.json. Ids sorted, as the harness sorts them.
 */
export function evaluationSummary(datasetIds: readonly string[], predictions: ReadonlyMap<string, Pick<Prediction, 'model_patch'>>, reports: ReadonlyMap<string, boolean>): EvaluationSummary {
  const completed: string[] = [];
  const incomplete: string[] = [];
  const empty: string[] = [];
  const resolved: string[] = [];
  const unresolved: string[] = [];
  const errors: string[] = [];
  for (const id of datasetIds) {
    const p = predictions.get(id);
    if (!p) {
      incomplete.push(id);
      continue;
    }
    if (isEmptyPatch(p.model_patch)) {
      empty.push(id);
      continue;
    }
    const r = reports.get(id);
    if (r === undefined) {
      errors.push(id);
      continue;
    }
    completed.push(id);
    (r ? resolved : unresolved).push(id);
  }
  const sorted = (xs: string[]) => [...xs].sort();
  const submitted = datasetIds.filter((id) => predictions.has(id));
  return {
    total_instances: datasetIds.length,
    submitted_instances: submitted.length,
    completed_instances: completed.length,
    resolved_instances: resolved.length,
    unresolved_instances: unresolved.length,
    empty_patch_instances: empty.length,
    error_instances: errors.length,
    completed_ids: sorted(completed),
    incomplete_ids: sorted(incomplete),
    empty_patch_ids: sorted(empty),
    submitted_ids: sorted(submitted),
    resolved_ids: sorted(resolved),
    unresolved_ids: sorted(unresolved),
    error_ids: sorted(errors),
    schema_version: 2,
  };
}

/** The harness's directory name of a model (logs/run_evaluation/<run_id>/<model>/...): "/" becomes "__". */
export const modelDirName = (model: string): string => model.replace(/\//g, '__');

/**
 * Parses a predictions JSONL (pure): one {instance_id, model_name_or_path, model_patch} per line
 * (model_patch may be null; extra fields are ignored). A bad line is reported with its number and
 * field, the others still load; a repeated (model, instance) pair is an error on its later line.
 */
export function parsePredictions(text: string): { predictions: Prediction[]; errors: { line: number; message: string }[] } {
  const predictions: Prediction[] = [];
  const errors: { line: number; message: string }[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      errors.push({ line, message: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    const o = v as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || Array.isArray(o)) {
      errors.push({ line, message: 'expected a JSON object {instance_id, model_name_or_path, model_patch}' });
      return;
    }
    for (const k of ['instance_id', 'model_name_or_path'] as const) {
      if (typeof o[k] !== 'string' || o[k] === '') {
        errors.push({ line, message: `${k}: expected a non-empty string` });
        return;
      }
    }
    if (o.model_patch !== null && o.model_patch !== undefined && typeof o.model_patch !== 'string') {
      errors.push({ line, message: 'model_patch: expected a string (a unified diff) or null' });
      return;
    }
    const p: Prediction = { instance_id: o.instance_id as string, model_name_or_path: o.model_name_or_path as string, model_patch: (o.model_patch as string | null | undefined) ?? null };
    const key = `${p.model_name_or_path}\0${p.instance_id}`;
    if (seen.has(key)) {
      errors.push({ line, message: `instance_id: a second prediction of ${p.model_name_or_path} for ${p.instance_id} (first on line ${seen.get(key)})` });
      return;
    }
    seen.set(key, line);
    predictions.push(p);
  });
  return { predictions, errors };
}

/** The ids of a dataset's tasks, in file order (pure). */
export const datasetIdsOf = (tasks: readonly Pick<TaskRecord, 'instance_id'>[]): string[] => tasks.map((t) => t.instance_id);
