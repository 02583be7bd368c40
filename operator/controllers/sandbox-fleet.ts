/**
 * The sandbox fleet, pure: one sandbox unit per task x sample ("slot", an Indexed Job's
 * completion index = taskIndex * samplesPerTask + sample), shared by the RolloutBatch and
 * EvalSuite decide functions (an EvalSuite runs its own sandboxes: one object per evaluation,
 * selection needs all N samples of a task in one place, and it avoids a second copy of every
 * count in a child's status).
 *
 * - a sliding window: at most `parallelism` units alive at once; a slot starts as soon as one
 *   ends (not in waves);
 * - the per-rollout retry and "no sample" policy (the one place it lives): a unit yields a
 *   sample only if it Succeeded with a valid summary whose exit reason is a sample; everything
 *   else (infrastructure failure, exit 3, missing / malformed / mismatched summary,
 *   sandbox_error / model_error, StartDeadlineExceeded) is a Failed attempt, retried as a new
 *   attempt up to backoffLimit and then counted as failed (no sample), never as reward 0;
 * - every finished unit is recorded before it is deleted (see decision.ts), and the counts are
 *   a function of the records, so a crash in between cannot lose or double a result.
 */
import type { RolloutLimits, Sampling, Sandbox } from '../api/common.ts';
import { isSample, RolloutSummary } from '../api/records.ts';
import { check } from '../api/validate.ts';
import {
  rfc3339,
  unitName,
  type AttemptRecord,
  type DecisionEvent,
  type ObservedUnit,
  type OwnerRef,
  type PolicyTarget,
  type SandboxUnit,
  type StopAction,
} from './decision.ts';
import { Reasons, slotStates, soonest, startDeadline, type SlotState } from './run-policy.ts';
import { headChars } from '../util/text.ts';

/** Seconds a sandbox unit may live beyond the rollout's own timeout (grading, setup). */
export const GRADING_MARGIN_SECONDS = 900;

export interface FleetSpec {
  owner: OwnerRef;
  /** Name prefix of the units (the owner's name). */
  base: string;
  /** Store prefix of the owner (objectPrefix). */
  prefix: string;
  storeUri: string;
  samplesPerTask: number;
  parallelism: number;
  backoffLimit: number;
  startDeadlineSeconds: number;
  sampling: Sampling;
  limits: RolloutLimits;
  sandbox: Sandbox;
  iteration?: number;
  queueName?: string;
  priorityClassName?: string;
}

export interface FleetInput {
  spec: FleetSpec;
  tasks: { ids: string[]; key: string };
  /** The policy to roll out; undefined while its server is not ready (nothing starts). */
  policy: PolicyTarget | undefined;
  /** Live sandbox units of the owner. */
  units: readonly ObservedUnit[];
  /** Sandbox records of the owner. */
  records: readonly AttemptRecord[];
  now: number;
  /** Stop every live unit (recorded as Stopped, with this reason): suspend, deadline, owner done. */
  stopAll?: string;
}

export interface FleetCounts {
  total: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  retries: number;
  resolved: number;
  finished: number;
}

export interface FleetResult {
  records: AttemptRecord[];
  start: SandboxUnit[];
  stop: StopAction[];
  events: DecisionEvent[];
  counts: FleetCounts;
  /** Slots with a sample, and slots that gave up (no sample), ascending. */
  completedIndexes: number[];
  failedIndexes: number[];
  /** The succeeded records in slot order (existing and new). */
  samples: AttemptRecord[];
  /** Every slot succeeded or gave up, and no unit is alive. */
  done: boolean;
  requeueAfterSeconds?: number;
}

/** The deterministic name of a sandbox unit. */
export const sandboxUnitName = (base: string, index: number, attempt: number): string => unitName(base, `${index}-a${attempt}`);

/** Classifies a finished sandbox unit (the one place "no sample" is defined). */
export function classifySandbox(
  u: ObservedUnit,
  expect: { taskId: string; sample: number },
): { outcome: 'Succeeded' | 'Failed'; reason: string; message: string; summary?: RolloutSummary; permanent?: boolean } {
  const infra = (reason: string, message: string) => ({ outcome: 'Failed' as const, reason, message });
  if (u.phase === 'Failed' && u.exitCode === 2) {
    return { ...infra('InvalidAssignment', u.message ?? 'the sandbox rejected its assignment (exit 2)'), permanent: true };
  }
  if (u.phase === 'Failed' && u.exitCode !== 3) {
    return infra(u.reason ?? 'Error', u.message ?? `sandbox failed${u.exitCode !== undefined ? ` with exit code ${u.exitCode}` : ''}`);
  }
  if (u.summary === undefined) {
    if (u.phase === 'Failed') return infra('NoSample', u.message ?? 'sandbox exited 3 (no sample) without a summary');
    return infra(u.summaryError && u.summaryError !== 'missing' ? 'SummaryMalformed' : 'SummaryMissing', `termination message: ${u.summaryError ?? 'missing'}`);
  }
  const r = check<RolloutSummary>(RolloutSummary, u.summary);
  if (!r.ok) return infra('SummaryMalformed', headChars(`termination message: ${r.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, 1024));
  const s = r.value;
  if (s.task !== expect.taskId || s.sample !== expect.sample) {
    return infra('SummaryMismatch', `summary is for ${s.task}/${s.sample}, expected ${expect.taskId}/${expect.sample}`);
  }
  if (!isSample({ exitReason: s.exit }) || u.phase === 'Failed') {
    const reason = s.exit === 'model_error' ? 'ModelError' : s.exit === 'sandbox_error' ? 'SandboxError' : 'NoSample';
    return { ...infra(reason, s.error ?? `rollout ended with ${s.exit} (no sample)`), summary: s };
  }
  return { outcome: 'Succeeded', reason: Reasons.Completed, message: `${s.exit}${s.resolved ? ', resolved' : ''}`, summary: s };
}

/**
 * The fleet's retry rule for callers that run rollouts one by one (`entropo rollout`): a rollout
 * that ended without a sample (exit sandbox_error / model_error) is run again while its failures
 * are <= backoffLimit; a sample (any reward) never is.
 */
export function retryRollout(exit: RolloutSummary['exit'], failures: number, backoffLimit: number): boolean {
  return !isSample({ exitReason: exit }) && failures <= backoffLimit;
}

/** One reconcile of the fleet. */
export function decideFleet(input: FleetInput): FleetResult {
  const { spec, tasks, now } = input;
  const n = spec.samplesPerTask;
  const total = tasks.ids.length * n;
  const recorded = new Map(input.records.map((r) => [r.unit, r]));
  const newRecords: AttemptRecord[] = [];
  const stop: StopAction[] = [];
  const events: DecisionEvent[] = [];
  const waits: (number | undefined)[] = [];
  const at = rfc3339(now);
  const record = (u: ObservedUnit, r: Omit<AttemptRecord, 'unit' | 'role' | 'index' | 'attempt' | 'at'>) => {
    const rec: AttemptRecord = { unit: u.name, role: 'Sandbox', index: u.index, attempt: u.attempt ?? 0, at, ...r };
    if (spec.iteration !== undefined) rec.iteration = spec.iteration;
    newRecords.push(rec);
    recorded.set(u.name, rec);
  };

  // 1. live units: record what has ended, stop what is recorded
  const alive = new Map<number, ObservedUnit>(); // slot -> a unit still working on it
  let maxLiveAttempt = new Map<number, number>();
  for (const u of input.units) {
    if (u.role !== 'Sandbox' || u.index === undefined) continue;
    maxLiveAttempt.set(u.index, Math.max(maxLiveAttempt.get(u.index) ?? -1, u.attempt ?? 0));
    if (recorded.has(u.name)) {
      if (!u.terminating) stop.push({ name: u.name, role: 'Sandbox', reason: 'Recorded' });
      continue;
    }
    const taskIndex = Math.floor(u.index / n);
    const expect = { taskId: tasks.ids[taskIndex] ?? '', sample: u.index % n };
    if (u.index >= total) {
      record(u, { outcome: 'Stopped', reason: 'NotInSpec', message: `index ${u.index} is beyond ${total} slots` });
    } else if (u.phase === 'Succeeded' || u.phase === 'Failed') {
      const c = classifySandbox(u, expect);
      record(u, { outcome: c.outcome, reason: c.reason, message: c.message, ...(c.summary ? { summary: c.summary } : {}), ...(c.permanent ? { permanent: true } : {}) });
    } else if (u.terminating) {
      // deleted by someone else (eviction, node drain, a user): no sample
      record(u, { outcome: 'Failed', reason: u.reason ?? 'Deleted', message: u.message ?? 'sandbox deleted before it finished' });
      continue;
    } else if (input.stopAll) {
      record(u, { outcome: 'Stopped', reason: input.stopAll, message: `stopped: ${input.stopAll}` });
    } else {
      const sd = startDeadline(u, spec.startDeadlineSeconds, now);
      if (sd.exceeded) {
        record(u, {
          outcome: 'Failed',
          reason: Reasons.StartDeadlineExceeded,
          message: `not started within ${spec.startDeadlineSeconds}s${u.reason ? ` (${u.reason}${u.message ? `: ${u.message}` : ''})` : ''}`,
        });
      } else {
        waits.push(sd.inSeconds);
        alive.set(u.index, u);
        continue;
      }
    }
    stop.push({ name: u.name, role: 'Sandbox', reason: recorded.get(u.name)!.reason });
  }

  // 2. slot states from every record
  const all = [...input.records, ...newRecords];
  const slots = slotStates(all, spec.backoffLimit, (r) => (r.role === 'Sandbox' ? r.index : undefined));
  for (const r of newRecords) {
    if (r.outcome !== 'Failed') continue;
    const s = slots.get(r.index!)!;
    events.push({
      type: 'Warning',
      reason: 'SandboxFailed',
      message: headChars(`${r.unit}: ${r.reason}: ${r.message ?? ''} (${s.exhausted ? `no sample after ${s.failures} attempt${s.failures > 1 ? 's' : ''}${s.permanent ? '; not retried' : ''}` : `attempt ${s.failures} of ${spec.backoffLimit + 1}, retrying`})`, 1024),
    });
  }

  // 3. the window: start slots in index order while fewer than `parallelism` units are alive
  const start: SandboxUnit[] = [];
  if (input.policy && !input.stopAll) {
    for (let index = 0; index < total && alive.size + start.length < spec.parallelism; index++) {
      const s: SlotState | undefined = slots.get(index);
      if (s?.succeeded || s?.exhausted || alive.has(index)) continue;
      const attempt = Math.max(s?.nextAttempt ?? 0, (maxLiveAttempt.get(index) ?? -1) + 1);
      start.push(sandboxUnit(spec, tasks, input.policy, index, attempt));
    }
  }
  maxLiveAttempt = new Map();

  // 4. counts (a function of the records and the live units)
  const completedIndexes: number[] = [];
  const failedIndexes: number[] = [];
  const samples: AttemptRecord[] = [];
  let retries = 0;
  let resolved = 0;
  let finished = 0;
  for (let index = 0; index < total; index++) {
    const s = slots.get(index);
    if (!s) continue;
    retries += s.failures - (s.exhausted ? 1 : 0);
    if (s.succeeded) {
      completedIndexes.push(index);
      samples.push(s.succeeded);
      const sum = s.succeeded.summary as RolloutSummary;
      if (sum.resolved) resolved++;
      if (sum.finished) finished++;
    } else if (s.exhausted) failedIndexes.push(index);
  }
  // in flight: alive units and the ones starting now (so a crash between create and status
  // write shows the same counts on the next reconcile)
  const live = alive.size + start.length;
  const running = live;
  const counts: FleetCounts = {
    total,
    pending: Math.max(0, total - completedIndexes.length - failedIndexes.length - running),
    running,
    completed: completedIndexes.length,
    failed: failedIndexes.length,
    retries,
    resolved,
    finished,
  };
  const done = completedIndexes.length + failedIndexes.length === total && live === 0;
  const requeueAfterSeconds = soonest(...waits);
  return {
    records: newRecords,
    start,
    stop,
    events,
    counts,
    completedIndexes,
    failedIndexes,
    samples,
    done,
    ...(requeueAfterSeconds !== undefined ? { requeueAfterSeconds } : {}),
  };
}

function sandboxUnit(spec: FleetSpec, tasks: { ids: string[]; key: string }, policy: PolicyTarget, index: number, attempt: number): SandboxUnit {
  const n = spec.samplesPerTask;
  const name = sandboxUnitName(spec.base, index, attempt);
  const u: SandboxUnit = {
    role: 'Sandbox',
    name,
    owner: spec.owner,
    index,
    taskIndex: Math.floor(index / n),
    taskId: tasks.ids[Math.floor(index / n)],
    sample: index % n,
    attempt,
    tasksKey: tasks.key,
    policy,
    sampling: spec.sampling,
    limits: spec.limits,
    sandbox: spec.sandbox,
    storeUri: spec.storeUri,
    trajectoryKey: `${spec.prefix}/trajectories/${name}.json`,
    run: spec.base,
    source: {
      kind: spec.owner.kind,
      namespace: spec.owner.namespace,
      name: spec.owner.name,
      ...(spec.iteration !== undefined ? { iteration: spec.iteration } : {}),
    },
    activeDeadlineSeconds: spec.limits.timeoutSeconds + GRADING_MARGIN_SECONDS,
  };
  if (spec.queueName) u.queueName = spec.queueName;
  if (spec.priorityClassName) u.priorityClassName = spec.priorityClassName;
  return u;
}
