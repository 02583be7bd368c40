/**
 * EvalSuite decide(), pure: N sandbox units per task (its own sandbox fleet, see
 * sandbox-fleet.ts for why not a child RolloutBatch), then verifier scoring when the selection
 * pipeline uses the verifier (a Verifier unit: scores by trajectory id, in the store), then
 * hybrid selection and the metrics of docs/method.md section 9 with operator/selection, computed
 * from the rollout summaries alone (test-time fields, patch identity by patchHash; grading joined
 * after selection). Status: metrics (pass@1, pass@k, best@N, oracle gap, selection accuracy,
 * distinct patches), decidedBy counts, the first 100 selections, and store keys of the full
 * selections, selected predictions, trajectories and scores (never thousands of rows).
 */
import { selectionPipeline } from '../api/common.ts';
import type { EvalSuite, EvalSuiteStatus } from '../api/kinds.ts';
import type { RolloutSummary } from '../api/records.ts';
import { computeEvalMetrics, groupByTask, type GradedTrajectory } from '../selection/metrics.ts';
import { rfc3339, unitName, type AttemptRecord, type Decision, type DecisionEvent, type Observed, type StopAction, type VerifierUnit } from './decision.ts';
import { Reasons, slotStates } from './run-policy.ts';
import { artifactKeys, decideSandboxObject, ownerOf, trajectoriesWrite, type Completion } from './sandbox-object.ts';

/** Status keeps the first this many per-task selections; all are in the store. */
export const STATUS_SELECTIONS = 100;

/** Steps that need verifier scores. */
const VERIFIER_STEPS = new Set(['VerifierThreshold', 'VerifierArgmax']);

export const verifierUnitName = (base: string, attempt: number): string => unitName(base, `verifier-a${attempt}`);

/** A placeholder list of n test ids: the summary carries counts, the selector needs only counts. */
const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `#${i}`);

/** A graded candidate from a rollout summary (test-time fields + the grade, joined after selection). */
export function gradedFromSummary(s: RolloutSummary): GradedTrajectory {
  return {
    id: s.trajectory,
    taskId: s.task,
    finished: s.finished,
    steps: s.steps,
    patch: '',
    patchKey: s.patchHash,
    regression: { passed: ids(s.regression.passed), failed: ids(s.regression.failed) },
    ...(s.reproduction ? { reproduction: s.reproduction } : {}),
    resolved: s.resolved,
    exitReason: s.exit,
  };
}

/** The evaluation of a set of samples (pure): what goes to status and to the store. */
export function evaluate(suite: EvalSuite, samples: readonly RolloutSummary[], scores: Readonly<Record<string, number>> | undefined) {
  const graded = samples.map(gradedFromSummary);
  const report = computeEvalMetrics(groupByTask(graded), {
    selection: { ...suite.spec.selection, pipeline: selectionPipeline(suite.spec.selection, !!suite.spec.verifier) },
    ...(scores ? { verifierScores: new Map(Object.entries(scores)) } : {}),
  });
  const decidedBy: Record<string, number> = {};
  for (const s of report.selections) decidedBy[s.decidedBy] = (decidedBy[s.decidedBy] ?? 0) + 1;
  const keyOf = new Map(samples.map((s) => [s.trajectory, s.key]));
  const lines = report.tasks.map((t, i) => ({
    ...report.selections[i],
    samples: t.samples,
    resolvedSamples: t.resolved,
    distinctPatches: t.distinctPatches,
    trajectoryKey: keyOf.get(t.selection.selected),
    steps: t.selection.steps.map((s) => ({ step: s.step.type, status: s.status, before: s.before, after: s.after, note: s.note })),
  }));
  return { report, decidedBy, lines, selectedKeys: lines.map((l) => l.trajectoryKey!).filter(Boolean) };
}

/** One reconcile of an EvalSuite. */
export function decideEvalSuite(suite: EvalSuite, observed: Observed): Decision<EvalSuiteStatus> {
  return decideSandboxObject<EvalSuiteStatus>(suite, observed, (fleet, prefix): Completion<EvalSuiteStatus> => {
    const keys = artifactKeys(prefix);
    const samples = fleet.samples.map((r) => r.summary as RolloutSummary);
    const needsVerifier = !!suite.spec.verifier && selectionPipeline(suite.spec.selection, true).some((s) => VERIFIER_STEPS.has(s.type));
    const events: DecisionEvent[] = [];
    const records: AttemptRecord[] = [];
    const stop: StopAction[] = [];
    let scores: Record<string, number> | undefined;
    const status: Partial<EvalSuiteStatus> = { trajectories: keys.trajectories };

    if (needsVerifier) {
      const base = suite.metadata.name ?? 'unnamed';
      const mine = observed.records.filter((r) => r.role === 'Verifier');
      const recorded = new Set(mine.map((r) => r.unit));
      for (const u of observed.units.filter((x) => x.role === 'Verifier' && !recorded.has(x.name))) {
        if (u.phase !== 'Succeeded' && u.phase !== 'Failed') continue;
        const ok = u.phase === 'Succeeded';
        const r: AttemptRecord = {
          unit: u.name,
          role: 'Verifier',
          attempt: u.attempt ?? 0,
          outcome: ok ? 'Succeeded' : 'Failed',
          reason: ok ? Reasons.Completed : (u.reason ?? 'Error'),
          ...(u.message ? { message: u.message } : {}),
          at: rfc3339(observed.now),
          summary: { scores: keys.verifierScores, scored: samples.length, ...((u.summary as object | undefined) ?? {}) },
        };
        records.push(r);
        stop.push({ name: u.name, role: 'Verifier', reason: r.reason });
        if (!ok) events.push({ type: 'Warning', reason: 'VerifierFailed', message: `${u.name}: ${r.reason}${u.message ? `: ${u.message}` : ''}` });
      }
      const slot = slotStates([...mine, ...records], suite.spec.backoffLimit, () => 0).get(0);
      const live = observed.units.filter((x) => x.role === 'Verifier' && !recorded.has(x.name) && !records.some((r) => r.unit === x.name));
      if (slot?.succeeded) {
        if (!observed.verifierScores) {
          // the executor loads the scores of a succeeded verifier record; wait for them
          return { state: { state: 'Running', reason: 'Scoring', message: 'loading verifier scores' }, records, stop, events, requeueAfterSeconds: 1 };
        }
        scores = observed.verifierScores;
        status.verifierScores = keys.verifierScores;
      } else if (slot?.exhausted) {
        events.push({ type: 'Warning', reason: 'VerifierUnavailable', message: `verifier failed ${slot.failures} times (${slot.lastReason}); selecting without scores` });
      } else if (live.length > 0) {
        return { state: { state: 'Running', reason: 'Scoring', message: `verifier scoring ${samples.length} trajectories` }, records, stop, events };
      } else {
        const attempt = Math.max(slot?.nextAttempt ?? 0, ...observed.units.filter((x) => x.role === 'Verifier').map((x) => (x.attempt ?? 0) + 1));
        const unit: VerifierUnit = {
          role: 'Verifier',
          name: verifierUnitName(base, attempt),
          owner: ownerOf(suite),
          attempt,
          model: suite.spec.verifier!.model,
          storeUri: suite.spec.storage.uri,
          inputKey: keys.verifierInput,
          outputKey: keys.verifierScores,
        };
        const input = samples.map((s) => JSON.stringify({ id: s.trajectory, key: s.key })).join('\n') + '\n';
        return {
          state: { state: 'Running', reason: 'Scoring', message: `verifier scoring ${samples.length} trajectories` },
          records,
          stop,
          events,
          writes: [{ key: keys.verifierInput, content: input }],
          start: [unit],
        };
      }
    }

    const { report, decidedBy, lines, selectedKeys } = evaluate(suite, samples, scores);
    const m = report.metrics;
    const fmt = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(3));
    return {
      state: {
        state: 'Succeeded',
        reason: Reasons.Completed,
        message: `${report.tasks.length} tasks x ${suite.spec.samplesPerTask}: pass@1 ${fmt(m.pass1)}, pass@N ${fmt(m.passAtN)}, best@N ${fmt(m.bestAtN)}`,
      },
      records,
      stop,
      events,
      writes: [
        trajectoriesWrite(prefix, fleet.samples),
        { key: keys.selections, content: lines.map((l) => JSON.stringify(l)).join('\n') + '\n' },
        { key: keys.predictions, predictions: { keys: selectedKeys, model: suite.spec.policy.name } },
      ],
      status: {
        ...status,
        metrics: m,
        decidedBy,
        selections: report.selections.slice(0, STATUS_SELECTIONS),
        results: keys.selections,
        predictions: keys.predictions,
      },
    };
  });
}
