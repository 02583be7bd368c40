/**
 * The run policy every kind shares, pure: suspend, start and active deadlines, retries by
 * attempt records (backoffLimit; "no sample" is a retry, never reward 0), TTL after finishing,
 * conditions (metav1.Condition, via runtime/conditions.ts), observedGeneration, and the phase
 * as a summary of the conditions. Semantics follow the Kubernetes Job controller (suspend resets
 * startTime on resume, so activeDeadlineSeconds counts active time since the last resume;
 * ttlSecondsAfterFinished counts from completionTime) and Kubeflow Trainer's run policy.
 */
import type { Condition, Phase } from '../api/common.ts';
import { findCondition, setCondition } from '../runtime/conditions.ts';
import { rfc3339, type AttemptRecord, type DecisionEvent, type ObservedUnit } from './decision.ts';
import { headChars } from '../util/text.ts';

/** Condition types of every kind. */
export const ConditionTypes = { Running: 'Running', Succeeded: 'Succeeded', Failed: 'Failed', Suspended: 'Suspended' } as const;

/** Condition reasons decide() uses (CamelCase, as metav1.Condition requires). */
export const Reasons = {
  Created: 'Created',
  WaitingForPolicy: 'WaitingForPolicy',
  Running: 'Running',
  Suspended: 'Suspended',
  Resumed: 'Resumed',
  Completed: 'Completed',
  DeadlineExceeded: 'DeadlineExceeded',
  StartDeadlineExceeded: 'StartDeadlineExceeded',
  BackoffLimitExceeded: 'BackoffLimitExceeded',
  InvalidSpec: 'InvalidSpec',
  InvalidTasks: 'InvalidTasks',
  NoSamples: 'NoSamples',
  ChildFailed: 'ChildFailed',
  OwnerFinished: 'OwnerFinished',
} as const;

/** The state decide() puts an object in, before it becomes conditions and a phase. */
export interface RunState {
  state: Phase;
  reason: string;
  message: string;
}

/** Status fields every kind has. */
export interface CommonStatus {
  phase?: Phase;
  conditions?: Condition[];
  observedGeneration?: number;
  startTime?: string;
  completionTime?: string;
  message?: string;
}

/**
 * Conditions for a run state (apimachinery semantics: lastTransitionTime moves only when a
 * condition's status flips):
 *   Pending:   Running=False
 *   Running:   Running=True                      (Suspended=False if it was set)
 *   Suspended: Suspended=True, Running=False
 *   Succeeded: Succeeded=True, Running=False     (Suspended=False if it was set)
 *   Failed:    Failed=True,    Running=False     (Suspended=False if it was set)
 */
export function conditionsFor(prev: readonly Condition[] | undefined, s: RunState, generation: number, now: number): Condition[] {
  const set = (list: Condition[], type: string, status: 'True' | 'False', reason = s.reason, message = s.message) =>
    setCondition(list, { type, status, reason, message, observedGeneration: generation }, now);
  let c = [...(prev ?? [])];
  const clearSuspended = () => {
    if (findCondition(c, ConditionTypes.Suspended)) c = set(c, ConditionTypes.Suspended, 'False', s.state === 'Running' ? Reasons.Resumed : s.reason);
  };
  switch (s.state) {
    case 'Pending':
      c = set(c, ConditionTypes.Running, 'False');
      break;
    case 'Running':
      c = set(c, ConditionTypes.Running, 'True');
      clearSuspended();
      break;
    case 'Suspended':
      c = set(c, ConditionTypes.Suspended, 'True');
      c = set(c, ConditionTypes.Running, 'False');
      break;
    case 'Succeeded':
      c = set(c, ConditionTypes.Succeeded, 'True');
      c = set(c, ConditionTypes.Running, 'False');
      clearSuspended();
      break;
    case 'Failed':
      c = set(c, ConditionTypes.Failed, 'True');
      c = set(c, ConditionTypes.Running, 'False');
      clearSuspended();
      break;
  }
  return c;
}

/** The phase as a summary of the conditions: Failed > Succeeded > Suspended > Running > Pending. */
export function phaseOf(conditions: readonly Condition[] | undefined): Phase {
  const t = (type: string) => findCondition(conditions, type)?.status === 'True';
  if (t(ConditionTypes.Failed)) return 'Failed';
  if (t(ConditionTypes.Succeeded)) return 'Succeeded';
  if (t(ConditionTypes.Suspended)) return 'Suspended';
  if (t(ConditionTypes.Running)) return 'Running';
  return 'Pending';
}

/** Whether the object has finished (Succeeded or Failed condition True). */
export function finishedPhase(status: CommonStatus | undefined): 'Succeeded' | 'Failed' | undefined {
  const p = phaseOf(status?.conditions);
  return p === 'Succeeded' || p === 'Failed' ? p : undefined;
}

/**
 * The common part of a new status: conditions from the run state, phase from the conditions,
 * observedGeneration, startTime (set when first active; removed while suspended so the active
 * deadline restarts on resume, as a Job's), completionTime (set once when finished), message.
 */
export function commonStatus(prev: CommonStatus | undefined, s: RunState, generation: number, now: number): CommonStatus {
  const conditions = conditionsFor(prev?.conditions, s, generation, now);
  const out: CommonStatus = { phase: phaseOf(conditions), conditions, observedGeneration: generation };
  const finished = s.state === 'Succeeded' || s.state === 'Failed';
  if (s.state === 'Running' || finished) {
    const start = prev?.startTime ?? rfc3339(now);
    out.startTime = start;
  }
  if (finished) out.completionTime = prev?.completionTime ?? rfc3339(now);
  if (s.message) out.message = headChars(s.message, 4096);
  return out;
}

/** An event for a phase change (none when the phase stays). */
export function phaseEvent(kind: string, prev: Phase | undefined, next: CommonStatus): DecisionEvent[] {
  if (prev === next.phase || !next.phase) return [];
  const warn = next.phase === 'Failed';
  return [{ type: warn ? 'Warning' : 'Normal', reason: next.phase, message: `${kind} ${next.phase}${next.message ? `: ${next.message}` : ''}`, withStatus: true }];
}

// ---- deadlines ---------------------------------------------------------------------------------

const ms = (iso: string | undefined): number | undefined => (iso ? Date.parse(iso) : undefined);

/** activeDeadlineSeconds: exceeded since startTime? `inSeconds`: time left (for a requeue). */
export function activeDeadline(startTime: string | undefined, seconds: number | undefined, now: number): { exceeded: boolean; inSeconds?: number } {
  const start = ms(startTime);
  if (seconds === undefined || start === undefined) return { exceeded: false };
  const left = (start + seconds * 1000 - now) / 1000;
  return left <= 0 ? { exceeded: true } : { exceeded: false, inSeconds: Math.ceil(left) };
}

/**
 * startDeadlineSeconds: a unit still Pending (image pull, config error, unschedulable) this long
 * after its creation fails with StartDeadlineExceeded. `inSeconds`: time left while pending.
 */
export function startDeadline(u: ObservedUnit, seconds: number, now: number): { exceeded: boolean; inSeconds?: number } {
  if (u.phase !== 'Pending' || u.createdAt === undefined || u.terminating) return { exceeded: false };
  const left = (u.createdAt + seconds * 1000 - now) / 1000;
  return left <= 0 ? { exceeded: true } : { exceeded: false, inSeconds: Math.ceil(left) };
}

/** ttlSecondsAfterFinished: expired since completionTime? */
export function ttlAfterFinished(completionTime: string | undefined, seconds: number | undefined, now: number): { expired: boolean; inSeconds?: number } {
  const done = ms(completionTime);
  if (seconds === undefined || done === undefined) return { expired: false };
  const left = (done + seconds * 1000 - now) / 1000;
  return left <= 0 ? { expired: true } : { expired: false, inSeconds: Math.ceil(left) };
}

/** The smallest defined wait, in whole seconds (>= 1), or undefined. */
export function soonest(...waits: (number | undefined)[]): number | undefined {
  const w = waits.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return w.length ? Math.max(1, Math.min(...w)) : undefined;
}

// ---- retries -----------------------------------------------------------------------------------

/** The attempts of one slot (a sandbox index, a trainer iteration), from its records. */
export interface SlotState {
  /** The record that succeeded, if any. */
  succeeded?: AttemptRecord;
  /** Failed attempts (infrastructure, no sample): count against backoffLimit. */
  failures: number;
  /** Stopped attempts (suspend, deadline): do not count. */
  stopped: number;
  /** The next attempt number (one past every recorded attempt). */
  nextAttempt: number;
  /** failures > backoffLimit: the slot gave up. */
  exhausted: boolean;
  /** Reason of the last failure. */
  lastReason?: string;
  /** A failure that retrying cannot fix (exit code 2) ended the slot. */
  permanent?: boolean;
}

/**
 * Slot states keyed by `slotOf(record)`. A slot is retried while failures <= backoffLimit
 * (backoffLimit retries after the first attempt); a success ends it; a permanent failure (the
 * input's, exit code 2) ends it at once.
 */
export function slotStates<K>(records: readonly AttemptRecord[], backoffLimit: number, slotOf: (r: AttemptRecord) => K | undefined): Map<K, SlotState> {
  const out = new Map<K, SlotState>();
  const sorted = [...records].sort((a, b) => a.attempt - b.attempt);
  for (const r of sorted) {
    const k = slotOf(r);
    if (k === undefined) continue;
    const s = out.get(k) ?? { failures: 0, stopped: 0, nextAttempt: 0, exhausted: false };
    s.nextAttempt = Math.max(s.nextAttempt, r.attempt + 1);
    if (r.outcome === 'Succeeded') s.succeeded ??= r;
    else if (r.outcome === 'Failed') {
      s.failures++;
      s.lastReason = r.reason;
      if (r.permanent) s.permanent = true;
    } else s.stopped++;
    s.exhausted = !s.succeeded && (s.failures > backoffLimit || !!s.permanent);
    out.set(k, s);
  }
  return out;
}

// ---- indexes -----------------------------------------------------------------------------------

/** An Indexed Job's compressed index list: [0,1,2,3,5,7,8] -> "0-3,5,7-8". */
export function formatIndexes(indexes: Iterable<number>): string {
  const xs = [...new Set(indexes)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Inverse of formatIndexes; throws on a malformed list. */
export function parseIndexes(text: string | undefined): number[] {
  if (!text) return [];
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`malformed index list ${JSON.stringify(text)} at ${JSON.stringify(part)}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}
