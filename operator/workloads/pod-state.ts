/**
 * Readers (pure): a sandbox Pod -> what the decision core observes of its unit (the fields of
 * controllers/decision.ts ObservedUnit). The summary is parsed, not validated: the decision core
 * classifies it (controllers/sandbox-fleet.ts classifySandbox, the one place "no sample" lives).
 *
 *   Pending    the rollout has not started (set-up init containers may run); `reason` says why
 *              when Kubernetes says so: ErrImagePull, ImagePullBackOff, InvalidImageName,
 *              CreateContainerConfigError, CreateContainerError, Unschedulable (the start deadline
 *              applies to these)
 *   Running    the agent (or anything after it) has started
 *   Succeeded  the grade container ended 0; `summary` = its termination message as JSON, or
 *              `summaryError` ("missing" / the parse error)
 *   Failed     Evicted, Preempted, DeadlineExceeded (activeDeadlineSeconds), OOMKilled,
 *              Error (a container exited non-zero; `exitCode` is its code; exit 3 = no sample,
 *              with the summary that container wrote), InvalidAssignment (exit 2 of an
 *              `entropo sandbox` phase; exit 2 of copy-runtime is an Error);
 *              `infrastructure` is true for all but InvalidAssignment
 * Times are ms since the epoch.
 */
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { headChars } from '../util/text.ts';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface PodObservation {
  phase: PodPhase;
  reason?: string;
  message?: string;
  infrastructure?: boolean;
  createdAt?: number;
  startedAt?: number;
  finishedAt?: number;
  terminating?: boolean;
  exitCode?: number;
  /** The termination message as JSON (unvalidated). */
  summary?: unknown;
  /** Why there is no summary: "missing" or the parse error. */
  summaryError?: string;
}

/** Waiting reasons that mean "cannot start" (the start deadline applies). */
export const START_FAILURES = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'ErrImageNeverPull'] as const;
export const EXIT_NO_SAMPLE = 3;
export const EXIT_CONFIG = 2;
/** The containers that run `entropo sandbox <phase>`: only their exit 2 means "invalid assignment". */
const ENTROPO_CONTAINERS = new Set(['prepare', 'agent', 'prepare-grading', 'grade']);
/** The containers whose start means the rollout itself runs (the helpers before them are set-up). */
const WORK_CONTAINERS = new Set(['agent', 'prepare-grading', 'grade']);

const ms = (t?: Date | string): number | undefined => (t === undefined ? undefined : new Date(t).getTime());

/** A termination message as JSON: the value, or why there is none ("missing" / the parse error). */
export function parseTerminationMessage(message: string | undefined): { summary: unknown } | { summaryError: string } {
  if (message === undefined || message.trim() === '') return { summaryError: 'missing' };
  try {
    return { summary: JSON.parse(message) };
  } catch (e) {
    return { summaryError: `not JSON: ${(e as Error).message}` };
  }
}

function allStatuses(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

/** Observes one sandbox Pod (pure). */
export function observeSandboxPod(pod: V1Pod): PodObservation {
  const statuses = allStatuses(pod);
  const status = pod.status ?? {};
  const started = statuses.filter((s) => WORK_CONTAINERS.has(s.name) && (s.state?.running || s.state?.terminated));
  const startedAt = started.map((s) => ms(s.state?.running?.startedAt ?? s.state?.terminated?.startedAt)).filter((t): t is number => t !== undefined).sort((a, b) => a - b)[0];
  const base: Omit<PodObservation, 'phase'> = {
    ...(pod.metadata?.creationTimestamp ? { createdAt: ms(pod.metadata.creationTimestamp) } : {}),
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(pod.metadata?.deletionTimestamp ? { terminating: true } : {}),
  };

  const grade = pod.status?.containerStatuses?.find((s) => s.name === 'grade');
  const gradeEnd = grade?.state?.terminated;
  if (gradeEnd && gradeEnd.exitCode === 0) {
    return { ...base, phase: 'Succeeded', exitCode: 0, ...at(gradeEnd.finishedAt), ...parseTerminationMessage(gradeEnd.message) };
  }

  const failedC = statuses.find((s) => s.state?.terminated && s.state.terminated.exitCode !== 0);
  if (status.phase === 'Failed' || status.phase === 'Succeeded' || failedC) {
    const term = failedC?.state?.terminated;
    const fail = (reason: string, message: string, infrastructure = true): PodObservation => ({
      ...base,
      phase: 'Failed',
      reason,
      message: headChars(message, 1024),
      infrastructure,
      ...at(term?.finishedAt),
      ...(term ? { exitCode: term.exitCode } : {}),
    });
    const oom = statuses.find((s) => s.state?.terminated?.reason === 'OOMKilled' || s.lastState?.terminated?.reason === 'OOMKilled');
    if (status.reason === 'Evicted') return fail('Evicted', status.message ?? 'the Pod was evicted');
    if (status.reason === 'Preempting' || status.reason === 'Preempted') return fail('Preempted', status.message ?? 'the Pod was preempted');
    if (status.reason === 'DeadlineExceeded') return fail('DeadlineExceeded', status.message ?? 'the Pod ran past activeDeadlineSeconds');
    if (oom) return fail('OOMKilled', `container ${oom.name} was killed for running out of memory`);
    if (!term) return fail(status.reason || 'PodFailed', status.message ?? `the Pod ended ${status.phase} without a graded result`);
    const who = failedC!.name;
    // Exit 2 of anything else (copy-runtime's cp or tar, a user's image) is an infrastructure fault.
    if (term.exitCode === EXIT_CONFIG && ENTROPO_CONTAINERS.has(who)) return fail('InvalidAssignment', `container ${who} exited 2: ${lastLine(term.message) ?? 'its assignment is invalid'}`, false);
    if (term.exitCode === EXIT_NO_SAMPLE) {
      // agent / grade write the summary of a no-sample rollout to their termination message.
      // A phase before them (prepare) says why in its log (FallbackToLogsOnError): keep its last line.
      const parsed = parseTerminationMessage(term.message);
      const why = 'summaryError' in parsed && lastLine(term.message) ? `: ${lastLine(term.message)}` : '';
      return { ...fail('NoSample', `container ${who} exited 3 (no sample)${why}`), ...parsed };
    }
    return fail('Error', `container ${who} exited ${term.exitCode}${term.reason && term.reason !== 'Error' ? ` (${term.reason})` : ''}${lastLine(term.message) ? `: ${lastLine(term.message)}` : ''}`);
  }

  if (started.length > 0 || status.phase === 'Running') return { ...base, phase: 'Running' };

  // Not started: say why when Kubernetes says so.
  const waiting = statuses.find((s) => s.state?.waiting?.reason && (START_FAILURES as readonly string[]).includes(s.state.waiting.reason));
  if (waiting) return { ...base, phase: 'Pending', reason: waiting.state!.waiting!.reason, message: headChars(`container ${waiting.name}: ${waiting.state!.waiting!.message ?? waiting.state!.waiting!.reason}`, 1024) };
  const unschedulable = status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) return { ...base, phase: 'Pending', reason: 'Unschedulable', message: headChars(unschedulable.message ?? 'no node fits the Pod', 1024) };
  return { ...base, phase: 'Pending' };
}

function at(t: Date | string | undefined): { finishedAt?: number } {
  const v = ms(t);
  return v === undefined ? {} : { finishedAt: v };
}

function lastLine(s: string | undefined): string | undefined {
  const line = s?.trim().split('\n').pop()?.trim();
  return line ? headChars(line, 300) : undefined;
}
