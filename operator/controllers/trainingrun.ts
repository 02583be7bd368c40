/**
 * TrainingRun decide(), pure: the iteration state machine of the EntroPO loop. For iteration k:
 *
 *   Rollout     serve checkpoint k-1 (PolicyServer unit, or the external endpoint), then a child
 *               RolloutBatch <run>-it<k>-rollout over spec.tasks until it Succeeded;
 *   Training    a Trainer unit on the batch's trajectories (init: checkpoint k-1, reference:
 *               spec.reference or the starting policy), writing checkpoint k to a fixed key (a
 *               retried trainer resumes there); its record holds the training metrics;
 *   Evaluating  when due (every `evaluation.every` iterations and after the last): serve
 *               checkpoint k, child EvalSuite <run>-it<k>-eval until it Succeeded;
 *   -> status.history[k], then k+1.
 *
 * Every step is derived from durable observations (child objects by deterministic name, the
 * trainer's attempt records in the store), not from the status alone, so a restart at any point
 * continues the same iteration and nothing is trained twice: a trainer starts only when no
 * trainer of iteration k is alive and none has succeeded. A policy with an external endpoint
 * cannot be trained (the API allows 1 iteration): its iteration is rollout + evaluation.
 * Child objects are kept when the run finishes (their results stay visible); they are
 * suspended with the run. Policy servers and trainers are stopped when not needed.
 */
import type { EvalMetrics, TrainMetrics } from '../api/common.ts';
import type { EvalSuite, RolloutBatch, TrainingRun, TrainingRunStatus } from '../api/kinds.ts';
import {
  objectPrefix,
  rfc3339,
  unitName,
  type AttemptRecord,
  type ChildBatchUnit,
  type ChildEvalUnit,
  type Decision,
  type DecisionEvent,
  type Observed,
  type ObservedUnit,
  type StopAction,
  type SuspendAction,
  type TrainerProgress,
  type TrainerSummary,
  type TrainerUnit,
  type UnitSpec,
} from './decision.ts';
import { activeDeadline, commonStatus, finishedPhase, phaseEvent, Reasons, slotStates, soonest, ttlAfterFinished, type RunState } from './run-policy.ts';
import { ownerOf } from './sandbox-object.ts';
import { servePolicy, stopServers } from './serving.ts';
import { headChars } from '../util/text.ts';

type IterationRecord = NonNullable<TrainingRunStatus['history']>[number];

export const childNames = (run: string, k: number) => ({
  rollout: unitName(run, `it${k}-rollout`),
  eval: unitName(run, `it${k}-eval`),
  trainer: (attempt: number) => unitName(run, `it${k}-train-a${attempt}`),
});

/** Store keys of a run's checkpoints and trainer progress. */
export const runKeys = (prefix: string, k: number) => ({
  checkpoint: `${prefix}/checkpoints/iter-${k}`,
  progress: `${prefix}/progress/iter-${k}.json`,
});

/** Whether iteration k of a run of n iterations is evaluated. */
export const evaluationDue = (run: TrainingRun, k: number): boolean =>
  !!run.spec.evaluation && (k % run.spec.evaluation.every === 0 || k === run.spec.iterations);

const childPhase = (u: ObservedUnit | undefined): string | undefined => (u?.status?.phase as string | undefined) ?? (u ? 'Pending' : undefined);

function trainerSummaryOf(u: ObservedUnit): TrainerSummary | undefined {
  const s = u.summary as Partial<TrainerSummary> | undefined;
  return s && typeof s.checkpoint === 'string' && typeof s.steps === 'number' ? (s as TrainerSummary) : undefined;
}

function trainMetrics(s: TrainerSummary): TrainMetrics {
  const m: TrainMetrics = {};
  for (const k of ['loss', 'rewardMargin', 'z0', 'entropy', 'klToReference', 'gradNorm', 'tokensPerSecond'] as const) {
    const v = s[k];
    if (typeof v === 'number' && Number.isFinite(v)) m[k] = k === 'gradNorm' || k === 'tokensPerSecond' ? Math.max(0, v) : v;
  }
  m.examples = s.examples;
  m.steps = s.steps;
  if (typeof s.backend === 'string' && s.backend) m.backend = s.backend.slice(0, 64);
  return m;
}

const dur = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m` : s >= 60 ? `${Math.round(s / 60)}m` : `${Math.round(s)}s`);

/** "step 40/120 loss 0.612 ETA 3m" from a trainer's progress. */
export function formatTrainerProgress(p: TrainerProgress): string {
  const parts = [`step ${p.step}/${p.totalSteps}`];
  if (p.loss !== undefined && Number.isFinite(p.loss)) parts.push(`loss ${p.loss.toFixed(3)}`);
  if (p.elapsedSeconds !== undefined && p.step > 0 && p.totalSteps > p.step) parts.push(`ETA ${dur((p.elapsedSeconds / p.step) * (p.totalSteps - p.step))}`);
  return parts.join(' ');
}

/** One reconcile of a TrainingRun. */
export function decideTrainingRun(run: TrainingRun, observed: Observed): Decision<TrainingRunStatus> {
  const prev = run.status;
  const gen = run.metadata.generation ?? 0;
  const now = observed.now;
  const spec = run.spec;
  const name = run.metadata.name ?? 'unnamed';
  const prefix = objectPrefix(run);
  const owner = ownerOf(run);
  const N = spec.iterations;
  const byName = new Map(observed.units.map((u) => [u.name, u]));
  const children = observed.units.filter((u) => u.role === 'RolloutBatch' || u.role === 'EvalSuite');
  const records: AttemptRecord[] = [];
  const start: UnitSpec[] = [];
  const stop: StopAction[] = [];
  const events: DecisionEvent[] = [];
  const setSuspend: SuspendAction[] = [];
  const waits: (number | undefined)[] = [];
  const at = rfc3339(now);

  const suspendChildren = (suspend: boolean) => {
    for (const c of children) {
      const phase = childPhase(c);
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const isSuspended = phase === 'Suspended';
      if (isSuspended !== suspend) setSuspend.push({ name: c.name, role: c.role as 'RolloutBatch' | 'EvalSuite', suspend });
    }
  };
  const stopWorkers = (reason: string) => {
    const recorded = new Set(observed.records.map((r) => r.unit));
    for (const u of observed.units) {
      if (u.terminating || (u.role !== 'Trainer' && u.role !== 'PolicyServer' && u.role !== 'Verifier')) continue;
      if (u.role === 'Trainer' && !recorded.has(u.name) && u.phase !== 'Succeeded' && u.phase !== 'Failed') {
        records.push({ unit: u.name, role: 'Trainer', iteration: u.iteration, attempt: u.attempt ?? 0, outcome: 'Stopped', reason, at });
      }
      stop.push({ name: u.name, role: u.role, reason });
    }
  };

  // a finished run: keep its status and children, stop workers, honour the TTL
  if (finishedPhase(prev)) {
    stopWorkers(Reasons.OwnerFinished);
    const d: Decision<TrainingRunStatus> = { status: { ...prev!, observedGeneration: gen }, records, writes: [], start: [], stop, events };
    suspendChildren(true);
    if (setSuspend.length) d.setSuspend = setSuspend;
    const ttl = ttlAfterFinished(prev!.completionTime, spec.ttlSecondsAfterFinished, now);
    if (ttl.expired) d.deleteObject = true;
    else if (ttl.inSeconds !== undefined) d.requeueAfterSeconds = ttl.inSeconds;
    return d;
  }

  // ---- derive every iteration from durable observations --------------------------------------
  const trainerRecords = observed.records.filter((r) => r.role === 'Trainer');
  // record trainers that ended
  const recordedNames = new Set(trainerRecords.map((r) => r.unit));
  for (const u of observed.units.filter((x) => x.role === 'Trainer' && !recordedNames.has(x.name))) {
    if (u.phase !== 'Succeeded' && u.phase !== 'Failed') continue;
    const summary = u.phase === 'Succeeded' ? trainerSummaryOf(u) : undefined;
    const ok = !!summary;
    const permanent = u.phase === 'Failed' && u.exitCode === 2;
    const r: AttemptRecord = {
      unit: u.name,
      role: 'Trainer',
      iteration: u.iteration,
      attempt: u.attempt ?? 0,
      outcome: ok ? 'Succeeded' : 'Failed',
      reason: ok ? Reasons.Completed : u.phase === 'Succeeded' ? (u.summaryError && u.summaryError !== 'missing' ? 'SummaryMalformed' : 'SummaryMissing') : (u.reason ?? 'Error'),
      ...(u.message ? { message: u.message } : {}),
      ...(permanent ? { permanent } : {}),
      at,
      ...(summary ? { summary } : {}),
    };
    records.push(r);
    stop.push({ name: u.name, role: 'Trainer', reason: r.reason });
    if (!ok) events.push({ type: 'Warning', reason: 'TrainerFailed', message: `${u.name}: ${r.reason}${u.message ? `: ${u.message}` : ''}` });
  }
  for (const u of observed.units.filter((x) => x.role === 'Trainer' && recordedNames.has(x.name) && !x.terminating)) {
    stop.push({ name: u.name, role: 'Trainer', reason: 'Recorded' });
  }
  const allTrainer = [...trainerRecords, ...records.filter((r) => r.role === 'Trainer')];
  const trainerSlots = slotStates(allTrainer, spec.backoffLimit, (r) => r.iteration);
  const trainable = !spec.policy.endpoint;
  const checkpointOf = (k: number): string | undefined => {
    if (k === 0) return spec.policy.source;
    const s = trainerSlots.get(k)?.succeeded?.summary as TrainerSummary | undefined;
    if (s) return `store://${s.checkpoint}`;
    return trainable ? undefined : checkpointOf(k - 1);
  };

  const prevHistory = new Map((prev?.history ?? []).map((h) => [h.iteration, h]));
  const history: IterationRecord[] = [];
  let current = N + 1; // first iteration not complete
  let failure: { reason: string; message: string } | undefined;
  for (let k = 1; k <= N; k++) {
    const names = childNames(name, k);
    const batchU = byName.get(names.rollout);
    const evalU = byName.get(names.eval);
    const slot = trainerSlots.get(k);
    const old = prevHistory.get(k);
    const h: IterationRecord = { iteration: k, phase: 'Rollout', startTime: old?.startTime ?? rfc3339(now) };
    if (batchU) h.rolloutBatch = names.rollout;
    const bs = batchU?.status as RolloutBatch['status'];
    if (bs?.resolveRate !== undefined) h.rolloutResolveRate = bs.resolveRate;
    if (childPhase(batchU) === 'Failed') failure ??= { reason: Reasons.ChildFailed, message: `iteration ${k}: RolloutBatch ${names.rollout} failed: ${bs?.message ?? ''}` };
    const batchDone = childPhase(batchU) === 'Succeeded';
    const trained = !trainable || !!slot?.succeeded;
    if (batchDone && trainable) {
      h.phase = 'Training';
      const liveTrainer = observed.units.find((u) => u.role === 'Trainer' && u.iteration === k && !u.terminating);
      h.trainingJob = slot?.succeeded?.unit ?? liveTrainer?.name ?? names.trainer(slot?.nextAttempt ?? 0);
    }
    if (slot?.succeeded) {
      const s = slot.succeeded.summary as TrainerSummary;
      h.checkpoint = s.checkpoint;
      h.training = trainMetrics(s);
    }
    if (slot?.exhausted) {
      const last = allTrainer.filter((r) => r.iteration === k && r.outcome === 'Failed').pop();
      failure ??= {
        reason: 'TrainerFailed',
        message: slot.permanent
          ? `iteration ${k}: the trainer cannot train on this data (${slot.lastReason}): ${last?.message ?? ''}`.slice(0, 2000)
          : `iteration ${k}: trainer failed ${slot.failures} times (last: ${slot.lastReason}${last?.message ? `: ${last.message}` : ''})`.slice(0, 2000),
      };
    }
    let done = batchDone && trained;
    if (done && evaluationDue(run, k)) {
      h.phase = 'Evaluating';
      if (evalU) h.evalSuite = names.eval;
      const es = evalU?.status as EvalSuite['status'];
      if (es?.metrics) h.evaluation = es.metrics;
      if (childPhase(evalU) === 'Failed') failure ??= { reason: Reasons.ChildFailed, message: `iteration ${k}: EvalSuite ${names.eval} failed: ${es?.message ?? ''}` };
      done = childPhase(evalU) === 'Succeeded';
    }
    if (done) {
      h.phase = 'Succeeded';
      h.completionTime = old?.completionTime ?? rfc3339(now);
    }
    if (!batchU && !done) delete h.startTime; // not started yet
    if (batchU || done) history.push(h);
    if (!done && current > N) current = k;
    if (!done) break;
  }

  const latest = (f: (h: IterationRecord) => unknown) => [...history].reverse().find((h) => f(h) !== undefined);
  const statusOf = (state: RunState, progress?: string): TrainingRunStatus => {
    const s: TrainingRunStatus = { ...commonStatus(prev, state, gen, now), iteration: Math.min(current, N) };
    if (history.length) s.history = history;
    const ck = latest((h) => h.checkpoint);
    if (ck) s.checkpoint = ck.checkpoint;
    const ev = latest((h) => h.evaluation);
    if (ev) s.metrics = ev.evaluation as EvalMetrics;
    const tr = latest((h) => h.training);
    if (tr) s.training = tr.training as TrainMetrics;
    if (progress) s.progress = headChars(progress, 256);
    return s;
  };
  const decision = (status: TrainingRunStatus): Decision<TrainingRunStatus> => {
    const seen = new Set<string>();
    const uniqueStop = stop.filter((x) => !seen.has(x.name) && !!seen.add(x.name));
    const d: Decision<TrainingRunStatus> = { status, records, writes: [], start, stop: uniqueStop, events: [...events, ...phaseEvent('TrainingRun', prev?.phase, status)] };
    if (setSuspend.length) d.setSuspend = setSuspend;
    const r = soonest(...waits);
    if (r !== undefined) d.requeueAfterSeconds = r;
    return d;
  };

  if (observed.invalid) {
    stopWorkers(Reasons.InvalidSpec);
    suspendChildren(true);
    return decision(statusOf({ state: 'Failed', reason: Reasons.InvalidSpec, message: observed.invalid }));
  }
  if (failure) {
    stopWorkers(failure.reason);
    suspendChildren(true);
    const last = history[history.length - 1];
    if (last && last.phase !== 'Succeeded') {
      last.phase = 'Failed';
      last.completionTime = rfc3339(now);
    }
    return decision(statusOf({ state: 'Failed', ...failure }));
  }
  if (spec.suspend) {
    stopWorkers(Reasons.Suspended);
    suspendChildren(true);
    const s = statusOf({ state: 'Suspended', reason: Reasons.Suspended, message: 'suspended: children suspended, trainer and policy servers stopped' });
    delete s.startTime;
    return decision(s);
  }
  const deadline = activeDeadline(prev?.startTime, spec.activeDeadlineSeconds, now);
  if (deadline.exceeded) {
    stopWorkers(Reasons.DeadlineExceeded);
    suspendChildren(true);
    return decision(statusOf({ state: 'Failed', reason: Reasons.DeadlineExceeded, message: `active for more than activeDeadlineSeconds=${spec.activeDeadlineSeconds}` }));
  }
  waits.push(deadline.inSeconds);
  suspendChildren(false); // resumed: children run again

  if (current > N) {
    stopWorkers(Reasons.Completed);
    const ev = latest((h) => h.evaluation)?.evaluation as EvalMetrics | undefined;
    const msg = `${N} iteration${N > 1 ? 's' : ''} done${ev?.pass1 !== undefined ? `; pass@1 ${ev.pass1.toFixed(3)}` : ''}${ev?.bestAtN !== undefined ? `, best@N ${ev.bestAtN.toFixed(3)}` : ''}`;
    return decision(statusOf({ state: 'Succeeded', reason: Reasons.Completed, message: msg }, `${N}/${N} done`));
  }

  // ---- the current iteration k -----------------------------------------------------------------
  const k = current;
  const h = history.find((x) => x.iteration === k);
  const names = childNames(name, k);
  const batchU = byName.get(names.rollout);
  const evalU = byName.get(names.eval);
  const serverFailure: { reason: string; message: string }[] = [];
  const serve = (checkpoint: number) => {
    const s = servePolicy({
      owner,
      base: name,
      policy: spec.policy,
      checkpoint,
      ...(checkpointOf(checkpoint) ? { source: checkpointOf(checkpoint) } : {}),
      storeUri: spec.storage.uri,
      ...(spec.serving ? { replicas: spec.serving.replicas, ...(spec.serving.resources ? { resources: spec.serving.resources } : {}) } : {}),
      units: observed.units,
      records: observed.records,
      backoffLimit: spec.backoffLimit,
      now,
    });
    records.push(...s.records);
    start.push(...s.start);
    stop.push(...s.stop, ...stopServers(observed.units, [checkpoint], 'NoLongerNeeded').filter((x) => !s.stop.some((y) => y.name === x.name)));
    events.push(...s.events);
    if (s.failed) serverFailure.push({ reason: 'PolicyServerFailed', message: s.failed });
    return s.target;
  };
  const childLabels = { 'entropo.dev/iteration': String(k), 'entropo.dev/training-run': name };
  const common = {
    storage: spec.storage,
    backoffLimit: spec.backoffLimit,
    startDeadlineSeconds: spec.startDeadlineSeconds,
    suspend: false,
    ...(spec.queueName ? { queueName: spec.queueName } : {}),
    ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
  };
  const namespace = run.metadata.namespace ?? 'default';
  let state: RunState;
  let progress: string;

  const trainerLive = observed.units.find((u) => u.role === 'Trainer' && u.iteration === k && !u.terminating && u.phase !== 'Succeeded' && u.phase !== 'Failed');
  const slot = trainerSlots.get(k);
  if (!h || h.phase === 'Rollout') {
    const bs = batchU?.status as RolloutBatch['status'];
    if (!batchU) {
      const target = serve(k - 1);
      if (target) {
        const object: RolloutBatch = {
          apiVersion: 'entropo.dev/v1alpha1',
          kind: 'RolloutBatch',
          metadata: { name: names.rollout, namespace, labels: childLabels },
          spec: {
            policy: { name: spec.policy.name, endpoint: { url: target.url, ...(target.apiKeySecretRef ? { apiKeySecretRef: target.apiKeySecretRef } : {}) } },
            tasks: spec.tasks,
            samplesPerTask: spec.rollout.samplesPerTask,
            sampling: spec.rollout.sampling,
            limits: spec.rollout.limits,
            sandbox: spec.rollout.sandbox,
            parallelism: spec.rollout.parallelism,
            ...common,
          },
        };
        const unit: ChildBatchUnit = { role: 'RolloutBatch', name: names.rollout, owner, iteration: k, object };
        start.push(unit);
        events.push({ type: 'Normal', reason: 'IterationStarted', message: `iteration ${k}/${N}: rollouts of checkpoint ${k - 1}` });
      }
      state = { state: 'Running', reason: target ? Reasons.Running : Reasons.WaitingForPolicy, message: target ? `iteration ${k}: rollouts` : `iteration ${k}: waiting for the policy server` };
      progress = `${k}/${N} Rollout ${target ? 'starting' : 'waiting for policy'}`;
    } else {
      serve(k - 1);
      const c = bs?.counts;
      progress = `${k}/${N} Rollout ${c ? `${c.completed + c.failed}/${c.total}` : 'pending'}`;
      state = { state: 'Running', reason: Reasons.Running, message: `iteration ${k}: rollouts` };
    }
  } else if (h.phase === 'Training') {
    stop.push(...stopServers(observed.units, [], 'NoLongerNeeded'));
    if (trainerLive) {
      progress = `${k}/${N} Training ${trainerLive.progress ? formatTrainerProgress(trainerLive.progress) : trainerLive.phase === 'Pending' ? 'pending' : 'starting'}`;
    } else {
      const attempt = Math.max(slot?.nextAttempt ?? 0, ...observed.units.filter((u) => u.role === 'Trainer' && u.iteration === k).map((u) => (u.attempt ?? 0) + 1));
      const keys = runKeys(prefix, k);
      const bs = batchU!.status as RolloutBatch['status'];
      const unit: TrainerUnit = {
        role: 'Trainer',
        name: names.trainer(attempt),
        owner,
        iteration: k,
        attempt,
        trajectoriesKey: bs?.trajectories ?? '',
        init: checkpointOf(k - 1)!,
        reference: spec.reference?.source ?? spec.policy.source!,
        preference: spec.preference,
        training: spec.training,
        storeUri: spec.storage.uri,
        checkpointKey: keys.checkpoint,
        progressKey: keys.progress,
        ...(spec.queueName ? { queueName: spec.queueName } : {}),
        ...(spec.priorityClassName ? { priorityClassName: spec.priorityClassName } : {}),
      };
      start.push(unit);
      h.trainingJob = unit.name;
      progress = `${k}/${N} Training starting${attempt > 0 ? ` (attempt ${attempt + 1}, resumes from its last state)` : ''}`;
    }
    state = { state: 'Running', reason: Reasons.Running, message: `iteration ${k}: preference update` };
  } else {
    // Evaluating
    const es = evalU?.status as EvalSuite['status'];
    const ev = spec.evaluation!;
    if (!evalU) {
      const target = serve(trainable ? k : 0);
      if (target) {
        const object: EvalSuite = {
          apiVersion: 'entropo.dev/v1alpha1',
          kind: 'EvalSuite',
          metadata: { name: names.eval, namespace, labels: childLabels },
          spec: {
            policy: { name: spec.policy.name, endpoint: { url: target.url, ...(target.apiKeySecretRef ? { apiKeySecretRef: target.apiKeySecretRef } : {}) } },
            tasks: ev.tasks,
            samplesPerTask: ev.samplesPerTask,
            sampling: spec.rollout.sampling,
            limits: spec.rollout.limits,
            sandbox: spec.rollout.sandbox,
            parallelism: spec.rollout.parallelism,
            selection: ev.selection,
            ...(ev.verifier ? { verifier: ev.verifier } : {}),
            ...common,
          },
        };
        start.push({ role: 'EvalSuite', name: names.eval, owner, iteration: k, object } satisfies ChildEvalUnit);
      }
      progress = `${k}/${N} Evaluating ${target ? 'starting' : 'waiting for policy'}`;
    } else {
      serve(trainable ? k : 0);
      const c = es?.counts;
      progress = `${k}/${N} Evaluating ${c ? `${c.completed + c.failed}/${c.total}` : 'pending'}`;
    }
    state = { state: 'Running', reason: Reasons.Running, message: `iteration ${k}: evaluation` };
  }
  if (serverFailure.length) {
    stopWorkers(serverFailure[0].reason);
    return decision(statusOf({ state: 'Failed', ...serverFailure[0] }));
  }
  return decision(statusOf(state, progress));
}
