/**
 * RolloutBatch decide(), pure: serve the policy (or use its endpoint), run one sandbox unit per
 * task x sample through the sandbox fleet (window, retries, records), and at the end write the
 * merged trajectories and SWE-bench predictions to the store; status: phase, conditions,
 * counts, resolveRate, completed / failed indexes, store keys. Run policy (suspend, deadlines,
 * TTL) from run-policy.ts. See decision.ts for what the executor observes and does.
 */
import type { RolloutBatch, RolloutBatchStatus } from '../api/kinds.ts';
import type { RolloutSummary } from '../api/records.ts';
import { objectPrefix, recordPrefix, rfc3339, type AttemptRecord, type Decision, type Observed, type OwnerRef, type StopAction, type StoreWrite } from './decision.ts';
import {
  activeDeadline,
  commonStatus,
  finishedPhase,
  formatIndexes,
  phaseEvent,
  Reasons,
  soonest,
  ttlAfterFinished,
  type RunState,
} from './run-policy.ts';
import { decideFleet, type FleetResult, type FleetSpec } from './sandbox-fleet.ts';
import { servePolicy, stopServers } from './serving.ts';

export const ownerOf = (o: { kind: OwnerRef['kind']; metadata: { name?: string; namespace?: string; uid?: string } }): OwnerRef => ({
  kind: o.kind,
  namespace: o.metadata.namespace ?? 'default',
  name: o.metadata.name ?? 'unnamed',
  ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
});

/** Store keys of a batch's (or suite's) derived artifacts. */
export const batchKeys = (prefix: string) => ({
  trajectories: `${prefix}/trajectories.jsonl`,
  predictions: `${prefix}/predictions.jsonl`,
});

/** The fleet spec of a RolloutBatch. */
export function batchFleetSpec(b: RolloutBatch): FleetSpec {
  const s = b.spec;
  const f: FleetSpec = {
    owner: ownerOf(b),
    base: b.metadata.name ?? 'unnamed',
    prefix: objectPrefix(b),
    storeUri: s.storage.uri,
    samplesPerTask: s.samplesPerTask,
    parallelism: s.parallelism,
    backoffLimit: s.backoffLimit,
    startDeadlineSeconds: s.startDeadlineSeconds,
    sampling: s.sampling,
    limits: s.limits,
    sandbox: s.sandbox,
  };
  const iteration = Number(b.metadata.labels?.['entropo.dev/iteration']);
  if (Number.isInteger(iteration) && iteration > 0) f.iteration = iteration;
  if (s.queueName) f.queueName = s.queueName;
  if (s.priorityClassName) f.priorityClassName = s.priorityClassName;
  return f;
}

/** The end-of-batch writes: merged trajectories (slot order) and predictions of sample 0. */
export function batchWrites(prefix: string, samples: readonly AttemptRecord[], model: string): StoreWrite[] {
  const keys = samples.map((r) => (r.summary as RolloutSummary).key);
  const first = samples.filter((r) => (r.summary as RolloutSummary).sample === 0).map((r) => (r.summary as RolloutSummary).key);
  const k = batchKeys(prefix);
  return [
    { key: k.trajectories, concat: keys },
    { key: k.predictions, predictions: { keys: first, model } },
  ];
}

const empty = <S>(status: S): Decision<S> => ({ status, records: [], writes: [], start: [], stop: [], events: [] });

/** Stops every live unit of an object that is done (sandboxes are recorded as Stopped first). */
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

/** A finished object: keep its status (refresh observedGeneration), clean up, honour the TTL. */
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

/** One reconcile of a RolloutBatch. */
export function decideRolloutBatch(batch: RolloutBatch, observed: Observed): Decision<RolloutBatchStatus> {
  const prev = batch.status;
  const gen = batch.metadata.generation ?? 0;
  const now = observed.now;
  const spec = batch.spec;
  const prefix = objectPrefix(batch);
  if (finishedPhase(prev)) return decideFinished(prev!, gen, spec.ttlSecondsAfterFinished, observed);

  const finish = (state: RunState, fleet?: FleetResult, extra: Partial<Decision<RolloutBatchStatus>> = {}): Decision<RolloutBatchStatus> => {
    const status: RolloutBatchStatus = { ...commonStatus(prev, state, gen, now), records: recordPrefix(prefix) };
    if (fleet) {
      status.counts = fleet.counts;
      if (fleet.counts.completed > 0) status.resolveRate = fleet.counts.resolved / fleet.counts.completed;
      status.completedIndexes = formatIndexes(fleet.completedIndexes);
      status.failedIndexes = formatIndexes(fleet.failedIndexes);
    } else if (prev?.counts) {
      status.counts = prev.counts;
      for (const k of ['resolveRate', 'completedIndexes', 'failedIndexes'] as const) if (prev[k] !== undefined) (status as Record<string, unknown>)[k] = prev[k];
    }
    const d: Decision<RolloutBatchStatus> = {
      status,
      records: [...(fleet?.records ?? []), ...(extra.records ?? [])],
      writes: extra.writes ?? [],
      start: [...(fleet?.start ?? []), ...(extra.start ?? [])],
      stop: [...(fleet?.stop ?? []), ...(extra.stop ?? [])],
      events: [...(fleet?.events ?? []), ...(extra.events ?? []), ...phaseEvent('RolloutBatch', prev?.phase, status)],
    };
    const requeue = soonest(fleet?.requeueAfterSeconds, extra.requeueAfterSeconds);
    if (requeue !== undefined) d.requeueAfterSeconds = requeue;
    return d;
  };
  const failAll = (reason: string, message: string) => {
    const s = stopEverything(observed, reason);
    return finish({ state: 'Failed', reason, message }, undefined, s);
  };

  if (observed.invalid) return failAll(Reasons.InvalidSpec, observed.invalid);
  const tasks = observed.tasks;
  if (!tasks) throw new Error('decideRolloutBatch: observed.tasks is required (resolve the task list first)');
  if ('error' in tasks) return failAll(Reasons.InvalidTasks, tasks.error);
  if (tasks.ids.length === 0) return failAll(Reasons.InvalidTasks, 'the task source selected no task');

  const fleetSpec = batchFleetSpec(batch);
  const sandboxUnits = observed.units.filter((u) => u.role === 'Sandbox');
  const sandboxRecords = observed.records.filter((r) => r.role === 'Sandbox');
  const fleetOf = (policy: Parameters<typeof decideFleet>[0]['policy'], stopAll?: string) =>
    decideFleet({ spec: fleetSpec, tasks, policy, units: sandboxUnits, records: sandboxRecords, now, ...(stopAll ? { stopAll } : {}) });

  if (spec.suspend) {
    const fleet = fleetOf(undefined, Reasons.Suspended);
    const d = finish({ state: 'Suspended', reason: Reasons.Suspended, message: 'suspended: running sandboxes stopped; they restart on resume' }, fleet, {
      stop: stopServers(observed.units, [], Reasons.Suspended),
    });
    delete d.status.startTime; // the active deadline restarts on resume (as a Job's)
    return d;
  }
  const deadline = activeDeadline(prev?.startTime, spec.activeDeadlineSeconds, now);
  if (deadline.exceeded) {
    const fleet = fleetOf(undefined, Reasons.DeadlineExceeded);
    return finish({ state: 'Failed', reason: Reasons.DeadlineExceeded, message: `active for more than activeDeadlineSeconds=${spec.activeDeadlineSeconds}` }, fleet, {
      stop: stopServers(observed.units, [], Reasons.DeadlineExceeded),
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
  const extra = { records: serve.records, start: serve.start, stop: serve.stop, events: serve.events, requeueAfterSeconds: deadline.inSeconds };
  if (fleet.done) {
    const keys = batchKeys(prefix);
    const stop = [...serve.stop, ...stopServers(observed.units, [], Reasons.Completed)];
    if (fleet.counts.completed === 0) {
      return finish({ state: 'Failed', reason: Reasons.NoSamples, message: `no rollout yielded a sample (${fleet.counts.failed} lost to infrastructure after every retry)` }, fleet, { ...extra, start: [], stop });
    }
    const d = finish(
      {
        state: 'Succeeded',
        reason: Reasons.Completed,
        message: `${fleet.counts.completed}/${fleet.counts.total} rollouts, ${fleet.counts.resolved} resolved${fleet.counts.failed ? `, ${fleet.counts.failed} without a sample` : ''}`,
      },
      fleet,
      { ...extra, start: [], stop, writes: batchWrites(prefix, fleet.samples, spec.policy.name) },
    );
    d.status.trajectories = keys.trajectories;
    d.status.predictions = keys.predictions;
    return d;
  }
  const state: RunState = serve.target
    ? { state: 'Running', reason: Reasons.Running, message: `${fleet.counts.completed + fleet.counts.failed}/${fleet.counts.total} rollouts done` }
    : prev?.startTime
      ? { state: 'Running', reason: Reasons.WaitingForPolicy, message: 'waiting for the policy server' }
      : { state: 'Pending', reason: Reasons.WaitingForPolicy, message: 'waiting for the policy server' };
  return finish(state, fleet, extra);
}
