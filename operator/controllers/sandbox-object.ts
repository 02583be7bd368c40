/**
 * The decide() skeleton of the two kinds that run sandboxes (RolloutBatch, EvalSuite), pure:
 * run policy first (finished -> TTL, invalid spec / task list -> terminal, suspend, active
 * deadline), then the policy server (or endpoint), then the sandbox fleet; when the fleet is
 * done the kind's `complete` hook decides the rest (RolloutBatch: write the merged trajectories;
 * EvalSuite: verifier scoring, selection, metrics).
 */
import type { ModelRef, RolloutLimits, Sampling, Sandbox } from '../api/common.ts';
import type { RolloutSummary } from '../api/records.ts';
import {
  objectPrefix,
  recordPrefix,
  rfc3339,
  type AttemptRecord,
  type Decision,
  type Observed,
  type OwnerRef,
  type StopAction,
  type StoreWrite,
  type UnitSpec,
  type DecisionEvent,
} from './decision.ts';
import {
  activeDeadline,
  commonStatus,
  finishedPhase,
  formatIndexes,
  phaseEvent,
  Reasons,
  soonest,
  ttlAfterFinished,
  type CommonStatus,
  type RunState,
} from './run-policy.ts';
import { decideFleet, type FleetCounts, type FleetResult, type FleetSpec } from './sandbox-fleet.ts';
import { servePolicy, stopServers } from './serving.ts';

/** What both kinds' specs share. */
export interface SandboxObjectSpec {
  policy: ModelRef;
  samplesPerTask: number;
  sampling: Sampling;
  limits: RolloutLimits;
  sandbox: Sandbox;
  parallelism: number;
  storage: { uri: string };
  suspend: boolean;
  activeDeadlineSeconds?: number;
  startDeadlineSeconds: number;
  ttlSecondsAfterFinished?: number;
  backoffLimit: number;
  queueName?: string;
  priorityClassName?: string;
}

export interface SandboxObject {
  kind: 'RolloutBatch' | 'EvalSuite';
  metadata: { name?: string; namespace?: string; uid?: string; generation?: number; labels?: Record<string, string> };
  spec: SandboxObjectSpec;
}

/** Status fields both kinds share. */
export interface SandboxObjectStatus extends CommonStatus {
  counts?: FleetCounts;
  completedIndexes?: string;
  failedIndexes?: string;
  records?: string;
}

/** Actions and status a `complete` hook adds. */
export interface Extra<S> {
  records?: AttemptRecord[];
  writes?: StoreWrite[];
  start?: UnitSpec[];
  stop?: StopAction[];
  events?: DecisionEvent[];
  requeueAfterSeconds?: number;
  status?: Partial<S>;
}

/** The `complete` hook's answer: the final state (or still Running, e.g. scoring), plus extras. */
export interface Completion<S> extends Extra<S> {
  state: RunState;
}

export const ownerOf = (o: { kind: OwnerRef['kind']; metadata: { name?: string; namespace?: string; uid?: string } }): OwnerRef => ({
  kind: o.kind,
  namespace: o.metadata.namespace ?? 'default',
  name: o.metadata.name ?? 'unnamed',
  ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
});

/** The iteration of a TrainingRun's child (label entropo.dev/iteration), if any. */
export function iterationOf(o: { metadata: { labels?: Record<string, string> } }): number | undefined {
  const n = Number(o.metadata.labels?.['entropo.dev/iteration']);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function fleetSpecOf(o: SandboxObject): FleetSpec {
  const s = o.spec;
  const f: FleetSpec = {
    owner: ownerOf(o),
    base: o.metadata.name ?? 'unnamed',
    prefix: objectPrefix(o),
    storeUri: s.storage.uri,
    samplesPerTask: s.samplesPerTask,
    parallelism: s.parallelism,
    backoffLimit: s.backoffLimit,
    startDeadlineSeconds: s.startDeadlineSeconds,
    sampling: s.sampling,
    limits: s.limits,
    sandbox: s.sandbox,
  };
  const iteration = iterationOf(o);
  if (iteration !== undefined) f.iteration = iteration;
  if (s.queueName) f.queueName = s.queueName;
  if (s.priorityClassName) f.priorityClassName = s.priorityClassName;
  return f;
}

/** Store keys of a batch's (or suite's) derived artifacts. */
export const artifactKeys = (prefix: string) => ({
  trajectories: `${prefix}/trajectories.jsonl`,
  predictions: `${prefix}/predictions.jsonl`,
  selections: `${prefix}/selections.jsonl`,
  verifierInput: `${prefix}/verifier/input.jsonl`,
  verifierScores: `${prefix}/verifier/scores.json`,
});

/** Merged trajectories (slot order) of the samples. */
export function trajectoriesWrite(prefix: string, samples: readonly AttemptRecord[]): StoreWrite {
  return { key: artifactKeys(prefix).trajectories, concat: samples.map((r) => (r.summary as RolloutSummary).key) };
}

const empty = <S>(status: S): Decision<S> => ({ status, records: [], writes: [], start: [], stop: [], events: [] });

/** Stops every live unit of an object (running sandboxes are recorded as Stopped first). */
export function stopEverything(observed: Observed, reason: string): { records: AttemptRecord[]; stop: StopAction[] } {
  const recorded = new Set(observed.records.map((r) => r.unit));
  const records: AttemptRecord[] = [];
  const stop: StopAction[] = [];
  for (const u of observed.units) {
    if (u.terminating) continue;
    if (u.role === 'Sandbox' && !recorded.has(u.name) && u.phase !== 'Succeeded' && u.phase !== 'Failed') {
      records.push({ unit: u.name, role: 'Sandbox', index: u.index, attempt: u.attempt ?? 0, outcome: 'Stopped', reason, at: rfc3339(observed.now) });
    }
    stop.push({ name: u.name, role: u.role, reason });
  }
  return { records, stop };
}

/** A finished object: keep its status (refresh observedGeneration), clean up leftovers, honour the TTL. */
export function decideFinished<S extends { observedGeneration?: number; completionTime?: string }>(
  status: S,
  generation: number,
  ttlSeconds: number | undefined,
  observed: Observed,
): Decision<S> {
  const d = empty<S>({ ...status, observedGeneration: generation });
  const leftovers = stopEverything(observed, Reasons.OwnerFinished);
  d.records = leftovers.records;
  d.stop = leftovers.stop;
  const ttl = ttlAfterFinished(status.completionTime, ttlSeconds, observed.now);
  if (ttl.expired) d.deleteObject = true;
  else if (ttl.inSeconds !== undefined) d.requeueAfterSeconds = ttl.inSeconds;
  return d;
}

/**
 * One reconcile of a sandbox-running object. `complete` runs once the fleet is done and at least
 * one sample exists; it returns the final state (Succeeded / Failed) or Running while it still
 * works (e.g. verifier scoring), with its extra actions.
 */
export function decideSandboxObject<S extends SandboxObjectStatus>(
  obj: SandboxObject & { status?: S },
  observed: Observed,
  complete: (fleet: FleetResult, prefix: string) => Completion<S>,
): Decision<S> {
  const prev = obj.status;
  const gen = obj.metadata.generation ?? 0;
  const now = observed.now;
  const spec = obj.spec;
  const prefix = objectPrefix(obj);
  if (finishedPhase(prev)) return decideFinished(prev!, gen, spec.ttlSecondsAfterFinished, observed);

  const finish = (state: RunState, fleet: FleetResult | undefined, extra: Extra<S> = {}): Decision<S> => {
    const status = { ...commonStatus(prev, state, gen, now), records: recordPrefix(prefix) } as S;
    if (fleet) {
      status.counts = fleet.counts;
      if (fleet.completedIndexes.length) status.completedIndexes = formatIndexes(fleet.completedIndexes);
      if (fleet.failedIndexes.length) status.failedIndexes = formatIndexes(fleet.failedIndexes);
    } else if (prev?.counts) {
      status.counts = prev.counts;
      if (prev.completedIndexes !== undefined) status.completedIndexes = prev.completedIndexes;
      if (prev.failedIndexes !== undefined) status.failedIndexes = prev.failedIndexes;
    }
    Object.assign(status, extra.status ?? {});
    const d: Decision<S> = {
      status,
      records: [...(fleet?.records ?? []), ...(extra.records ?? [])],
      writes: extra.writes ?? [],
      start: [...(fleet?.start ?? []), ...(extra.start ?? [])],
      stop: [...(fleet?.stop ?? []), ...(extra.stop ?? [])],
      events: [...(fleet?.events ?? []), ...(extra.events ?? []), ...phaseEvent(obj.kind, prev?.phase, status)],
    };
    const requeue = soonest(fleet?.requeueAfterSeconds, extra.requeueAfterSeconds);
    if (requeue !== undefined) d.requeueAfterSeconds = requeue;
    return d;
  };
  const failAll = (reason: string, message: string) => finish({ state: 'Failed', reason, message }, undefined, stopEverything(observed, reason));

  if (observed.invalid) return failAll(Reasons.InvalidSpec, observed.invalid);
  const tasks = observed.tasks;
  if (!tasks) throw new Error(`decide ${obj.kind}: observed.tasks is required (resolve the task list first)`);
  if ('error' in tasks) return failAll(Reasons.InvalidTasks, tasks.error);
  if (tasks.ids.length === 0) return failAll(Reasons.InvalidTasks, 'the task source selected no task');

  const fleetSpec = fleetSpecOf(obj);
  const sandboxUnits = observed.units.filter((u) => u.role === 'Sandbox');
  const sandboxRecords = observed.records.filter((r) => r.role === 'Sandbox');
  const fleetOf = (policy: Parameters<typeof decideFleet>[0]['policy'], stopAll?: string) =>
    decideFleet({ spec: fleetSpec, tasks, policy, units: sandboxUnits, records: sandboxRecords, now, ...(stopAll ? { stopAll } : {}) });

  if (spec.suspend) {
    const fleet = fleetOf(undefined, Reasons.Suspended);
    const others = observed.units.filter((u) => u.role !== 'Sandbox' && !u.terminating).map((u) => ({ name: u.name, role: u.role, reason: Reasons.Suspended }));
    const d = finish({ state: 'Suspended', reason: Reasons.Suspended, message: 'suspended: running sandboxes stopped; they restart on resume' }, fleet, { stop: others });
    delete d.status.startTime; // the active deadline restarts on resume (as a Job's)
    return d;
  }
  const deadline = activeDeadline(prev?.startTime, spec.activeDeadlineSeconds, now);
  if (deadline.exceeded) {
    const fleet = fleetOf(undefined, Reasons.DeadlineExceeded);
    const others = observed.units.filter((u) => u.role !== 'Sandbox' && !u.terminating).map((u) => ({ name: u.name, role: u.role, reason: Reasons.DeadlineExceeded }));
    return finish({ state: 'Failed', reason: Reasons.DeadlineExceeded, message: `active for more than activeDeadlineSeconds=${spec.activeDeadlineSeconds}` }, fleet, {
      stop: others,
    });
  }

  const serve = servePolicy({
    owner: fleetSpec.owner,
    base: fleetSpec.base,
    policy: spec.policy,
    checkpoint: 0,
    storeUri: spec.storage.uri,
    units: observed.units,
    records: observed.records,
    backoffLimit: spec.backoffLimit,
    now,
  });
  if (serve.failed) {
    const s = stopEverything(observed, 'PolicyServerFailed');
    return finish({ state: 'Failed', reason: 'PolicyServerFailed', message: serve.failed }, undefined, { ...s, records: [...serve.records, ...s.records], events: serve.events });
  }
  const fleet = fleetOf(serve.target);
  const base: Extra<S> = { records: serve.records, start: serve.start, stop: serve.stop, events: serve.events, requeueAfterSeconds: deadline.inSeconds };
  if (!fleet.done) {
    const state: RunState = serve.target
      ? { state: 'Running', reason: Reasons.Running, message: `${fleet.counts.completed + fleet.counts.failed}/${fleet.counts.total} rollouts done` }
      : prev?.startTime
        ? { state: 'Running', reason: Reasons.WaitingForPolicy, message: 'waiting for the policy server' }
        : { state: 'Pending', reason: Reasons.WaitingForPolicy, message: 'waiting for the policy server' };
    return finish(state, fleet, base);
  }
  // the fleet is done: the policy server is no longer needed
  const stopAllServers = [...serve.stop, ...stopServers(observed.units, [], Reasons.Completed)];
  const noServerStart = { ...base, start: [], stop: stopAllServers };
  if (fleet.counts.completed === 0) {
    return finish(
      { state: 'Failed', reason: Reasons.NoSamples, message: `no rollout yielded a sample (${fleet.counts.failed} lost to infrastructure after every retry)` },
      fleet,
      noServerStart,
    );
  }
  const c = complete(fleet, prefix);
  return finish(c.state, fleet, {
    records: [...(base.records ?? []), ...(c.records ?? [])],
    writes: c.writes ?? [],
    start: c.start ?? [],
    stop: [...stopAllServers, ...(c.stop ?? [])],
    events: [...(base.events ?? []), ...(c.events ?? [])],
    requeueAfterSeconds: soonest(base.requeueAfterSeconds, c.requeueAfterSeconds),
    status: c.status ?? {},
  });
}
