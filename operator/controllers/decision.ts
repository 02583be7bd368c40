/**
 * The controller / executor seam: the types every decide() function speaks. Types only (plus
 * a few pure naming helpers).
 *
 * DESIGN NOTE (read this before writing an executor)
 *
 *   decide(object, observed) -> Decision          pure, synchronous, no I/O, clock passed in
 *
 * Each kind (RolloutBatch, EvalSuite, TrainingRun) has one decide function in this directory.
 * An executor (Kubernetes: workloads/ + controllers/reconciler.ts; local: operator/local/)
 * turns a Decision into reality and reports back what exists as `Observed`. Executors hold no
 * policy: retries, windows, deadlines, suspend, iteration logic and status arithmetic are all
 * decided here, once.
 *
 * Units of work. Everything an object makes is a `UnitSpec` with a deterministic `name` (same
 * object + same assignment -> same name, so a retried create cannot duplicate it): a sandbox run
 * (task t / sample s / attempt a), a trainer run (iteration k / attempt a), a policy server
 * (checkpoint c), a verifier scoring run, or a child RolloutBatch / EvalSuite object. Kubernetes
 * maps them to Pods, Jobs, Deployments+Services and child objects (owner reference: controller);
 * local mode to sandboxed processes, child processes, `entropo serve` on localhost and nested
 * decide loops.
 *
 * Records (idempotent accounting). A unit that has finished (or that decide stops early) is
 * RECORDED: decide returns an `AttemptRecord` which the executor stores under the deterministic
 * key recordKey(prefix, unitName) BEFORE the unit is deleted. Decide derives every count and
 * metric from the set of records, keyed by unit name, so a crash anywhere in between neither
 * loses a result (the record is in the store before the unit goes away) nor counts it twice (a
 * record is a set member, not an increment). Attempts get new names (…-a0, …-a1), like an
 * Indexed Job's pods; status.completedIndexes lists the finished indexes for humans.
 *
 * What the executor must OBSERVE for each reconcile of an object:
 *   - now: the clock (ms since the epoch);
 *   - units: every live unit the object owns (found by owner reference / labels), each with
 *     its identity (role, index, attempt, iteration, checkpoint: from labels), phase
 *     (Pending / Running / Succeeded / Failed), reason (CamelCase, e.g. ImagePullBackOff,
 *     Evicted, OOMKilled, DeadlineExceeded), whether a failure is infrastructure, exit code (2 = a
 *     wrong assignment or input: not retried), creation /
 *     start time, terminating flag, exit code, and the parsed termination message (`summary`),
 *     or `summaryError` when it is missing or not JSON; policy servers: ready + endpoint URL;
 *     trainers: progress; child objects: their status;
 *   - records: every AttemptRecord stored under recordPrefix(prefix) (load them once when the
 *     object is first seen, e.g. after an operator restart; then keep the ones you write);
 *   - tasks (RolloutBatch, EvalSuite): the resolved task ids in index order and the store key
 *     where the executor wrote the resolved task list (resolve ONCE, store it, read it back on
 *     later reconciles so the index -> task mapping never changes), or the resolution error;
 *   - verifierScores (EvalSuite): the scores file of the verifier's record (key in its
 *     summary), as an id -> p(YES) map;
 *   - invalid: a validation error of the spec (an invalid spec is terminal: reported once).
 *
 * What the executor must DO with a Decision, in this order (stop at the first failure and
 * requeue; every step is idempotent, so the next reconcile redoes what is missing):
 *   1. records: store each AttemptRecord at recordKey(prefix, record.unit) (overwrite is fine);
 *      writes: store each StoreWrite (inline content, or the JSONL concatenation of keys);
 *   2. start: create each UnitSpec (AlreadyExists = success); setSuspend: patch the child's
 *      spec.suspend;
 *   3. status: write the status through /status (skip when unchanged; at most ~1/s);
 *   4. stop: delete each unit (NotFound = success; foreground/background is the executor's);
 *   5. events: emit them (best effort);
 *   6. deleteObject (TTL): delete the object itself;
 *   7. requeue after `requeueAfterSeconds` if set (watch events also trigger a reconcile).
 */
import type { Condition, ModelRef, Preference, RolloutLimits, Sampling, Sandbox, Training } from '../api/common.ts';
import type { EvalSuite, RolloutBatch } from '../api/kinds.ts';
import type { RolloutSummary } from '../api/records.ts';
import { hash53 } from '../selection/hash.ts';
import { rfc3339 } from '../runtime/conditions.ts';

// ---- units of work ----------------------------------------------------------------------------

/** What a unit is. */
export type UnitRole = 'Sandbox' | 'Trainer' | 'PolicyServer' | 'Verifier' | 'RolloutBatch' | 'EvalSuite';

/** The object that owns a unit (owner reference in a cluster). */
export interface OwnerRef {
  kind: 'RolloutBatch' | 'EvalSuite' | 'TrainingRun';
  namespace: string;
  name: string;
  uid?: string;
}

/** The policy a sandbox talks to: an OpenAI-compatible base URL and the model name. */
export interface PolicyTarget {
  model: string;
  /** Base URL, e.g. http://quickstart-policy-c0.default.svc:8000/v1 or http://127.0.0.1:41234/v1. */
  url: string;
  /** API key Secret (cluster: env valueFrom; local: ENTROPO_API_KEY / OPENAI_API_KEY of the CLI). */
  apiKeySecretRef?: { name: string; key: string };
}

interface UnitBase {
  /** Deterministic, DNS-1123 label-safe (<= 63 chars). */
  name: string;
  owner: OwnerRef;
}

/** One rollout: task `taskId` (index `taskIndex` of the resolved list), sample `sample`, attempt `attempt`. */
export interface SandboxUnit extends UnitBase {
  role: 'Sandbox';
  /** Slot index = taskIndex * samplesPerTask + sample (an Indexed Job's completion index). */
  index: number;
  taskIndex: number;
  taskId: string;
  sample: number;
  attempt: number;
  /** Store key of the resolved task list (JSONL, index order). */
  tasksKey: string;
  policy: PolicyTarget;
  sampling: Sampling;
  limits: RolloutLimits;
  sandbox: Sandbox;
  /** Store URI (spec.storage.uri). */
  storeUri: string;
  /** Where the sandbox writes the full trajectory. */
  trajectoryKey: string;
  /** Run part of the trajectory id <task>/<sample>/<run>: the owner's name (stable across attempts). */
  run: string;
  source: { kind: string; namespace: string; name: string; iteration?: number };
  /** Pod-level wall-time limit (rollout timeout + grading margin), seconds. */
  activeDeadlineSeconds: number;
  queueName?: string;
  priorityClassName?: string;
}

/** A model the trainer or server loads: builtin:, store://, file:// (ModelRef.source syntax). */
export type ModelSource = string;

/** The preference update of iteration k (a trainer Job / child process running `entropo train`). */
export interface TrainerUnit extends UnitBase {
  role: 'Trainer';
  iteration: number;
  attempt: number;
  /** Merged trajectories of the iteration's RolloutBatch (JSONL key). */
  trajectoriesKey: string;
  /** Policy the update starts from (checkpoint k-1). */
  init: ModelSource;
  /** Reference policy (spec.reference, else the starting policy). */
  reference: ModelSource;
  preference: Preference;
  training: Training;
  storeUri: string;
  /** Where checkpoint k goes (same for every attempt: a retry resumes from the trainer's last state there). */
  checkpointKey: string;
  /** Where the trainer writes its progress record (step, total, loss, ...), JSON. */
  progressKey: string;
  queueName?: string;
  priorityClassName?: string;
}

/** An OpenAI-compatible server (`entropo serve`) for checkpoint `checkpoint` (0 = the starting policy). */
export interface PolicyServerUnit extends UnitBase {
  role: 'PolicyServer';
  checkpoint: number;
  /** A server that failed is replaced by attempt + 1 (a new name). */
  attempt: number;
  model: string;
  source: ModelSource;
  storeUri: string;
  replicas: number;
  resources?: Record<string, unknown>;
}

/** Verifier scoring of an EvalSuite's trajectories (`entropo verifier score`). */
export interface VerifierUnit extends UnitBase {
  role: 'Verifier';
  attempt: number;
  model: ModelRef;
  storeUri: string;
  /** JSONL of {id, key} (trajectory id, trajectory store key), written by decide before start. */
  inputKey: string;
  /** JSON {scores: {<trajectory id>: p(YES)}} the unit writes. */
  outputKey: string;
}

/** A child object of a TrainingRun. */
export interface ChildBatchUnit extends UnitBase {
  role: 'RolloutBatch';
  iteration: number;
  object: RolloutBatch;
}

export interface ChildEvalUnit extends UnitBase {
  role: 'EvalSuite';
  iteration: number;
  object: EvalSuite;
}

export type UnitSpec = SandboxUnit | TrainerUnit | PolicyServerUnit | VerifierUnit | ChildBatchUnit | ChildEvalUnit;

// ---- observations ------------------------------------------------------------------------------

/** Pod-like phase of a unit. Child objects map Succeeded/Failed to themselves, anything else to Running. */
export type UnitPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** Progress a trainer reports while it runs (its progress record). */
export interface TrainerProgress {
  step: number;
  totalSteps: number;
  loss?: number;
  entropy?: number;
  z0?: number;
  tokensPerSecond?: number;
  /** Seconds since the trainer started. */
  elapsedSeconds?: number;
}

/** What the trainer writes as its summary (termination message / exit record). */
export interface TrainerSummary {
  checkpoint: string;
  steps: number;
  examples: number;
  loss?: number;
  rewardMargin?: number;
  z0?: number;
  entropy?: number;
  klToReference?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  seconds?: number;
  /** The tfjs backend the trainer ran on (tfjs-node-gpu, tfjs-node, wasm, cpu). */
  backend?: string;
}

/** What the verifier unit writes as its summary. */
export interface VerifierSummary {
  scores: string;
  scored: number;
}

/** A live unit as the executor observes it. */
export interface ObservedUnit {
  name: string;
  role: UnitRole;
  index?: number;
  attempt?: number;
  iteration?: number;
  checkpoint?: number;
  phase: UnitPhase;
  /** CamelCase reason: ImagePullBackOff, ErrImagePull, CreateContainerConfigError, Unschedulable, Evicted, OOMKilled, DeadlineExceeded, Error, ... */
  reason?: string;
  message?: string;
  /** The failure is the infrastructure's (eviction, image pull, OOM of the runtime, node lost). */
  infrastructure?: boolean;
  /** ms since the epoch. */
  createdAt?: number;
  startedAt?: number;
  finishedAt?: number;
  /** Being deleted (deletionTimestamp set). */
  terminating?: boolean;
  exitCode?: number;
  /** Parsed termination message (unvalidated JSON), when there was one and it parsed. */
  summary?: unknown;
  /** Why there is no summary: "missing" or the parse error. */
  summaryError?: string;
  /** PolicyServer: ready to serve, and its base URL (…/v1). */
  ready?: boolean;
  endpoint?: string;
  /** Trainer: latest progress. */
  progress?: TrainerProgress;
  /** Child RolloutBatch / EvalSuite: its status. */
  status?: Record<string, unknown>;
}

/**
 * How an attempt ended. Succeeded: it produced its result (a sandbox: a sample, whatever its
 * reward). Failed: no result (infrastructure; counts against backoffLimit). Stopped: we stopped
 * it (suspend, deadline, owner finished); does not count against backoffLimit.
 */
export type AttemptOutcome = 'Succeeded' | 'Failed' | 'Stopped';

/** The durable record of one finished attempt (stored at recordKey(prefix, unit)). */
export interface AttemptRecord {
  unit: string;
  role: UnitRole;
  index?: number;
  attempt: number;
  iteration?: number;
  outcome: AttemptOutcome;
  reason: string;
  message?: string;
  /**
   * The failure is the input's (exit code 2: a wrong assignment, data that cannot train), not
   * the infrastructure's: retrying cannot help, so the slot gives up at once.
   */
  permanent?: boolean;
  /** RFC 3339. */
  at: string;
  /** Sandbox: RolloutSummary; Trainer: TrainerSummary; Verifier: VerifierSummary. */
  summary?: RolloutSummary | TrainerSummary | VerifierSummary;
}

/** The resolved task list of a RolloutBatch / EvalSuite. */
export type ObservedTasks = { ids: string[]; key: string } | { error: string };

export interface Observed {
  /** ms since the epoch. */
  now: number;
  units: ObservedUnit[];
  records: AttemptRecord[];
  tasks?: ObservedTasks;
  verifierScores?: Record<string, number>;
  /** Validation error of the spec: terminal. */
  invalid?: string;
}

// ---- decisions ---------------------------------------------------------------------------------

export interface StopAction {
  name: string;
  role: UnitRole;
  reason: string;
}

/** Set spec.suspend of a child object (patch; idempotent). */
export interface SuspendAction {
  name: string;
  role: 'RolloutBatch' | 'EvalSuite';
  suspend: boolean;
}

/** A derived artifact written to the store: inline content, or the JSONL concatenation of JSON files. */
export type StoreWrite =
  | { key: string; content: string }
  | { key: string; concat: string[] }
  | { key: string; predictions: { keys: string[]; model: string } };

export interface DecisionEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /**
   * true: the event reports the status change this decision writes (a phase transition), so it is
   * recorded only with that status write. When the write is rate-limited the event waits too, and
   * the next decision, made from the still-unwritten status, reports the transition again: one
   * Event per transition, never a repeat folded into count 2.
   */
  withStatus?: boolean;
}

export interface Decision<S> {
  status: S;
  records: AttemptRecord[];
  writes: StoreWrite[];
  start: UnitSpec[];
  stop: StopAction[];
  /** Child objects whose spec.suspend must be set (TrainingRun suspend / deadline). */
  setSuspend?: SuspendAction[];
  events: DecisionEvent[];
  requeueAfterSeconds?: number;
  /** TTL after finishing expired: delete the object. */
  deleteObject?: boolean;
}

export type { Condition };

// ---- names and keys ----------------------------------------------------------------------------

const MAX_NAME = 63;

/**
 * `<base>-<suffix>`, DNS-1123 label-safe and <= 63 characters: a long base is cut and given a
 * hash of the full name, so distinct inputs keep distinct names.
 */
export function unitName(base: string, suffix: string): string {
  const full = `${base}-${suffix}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (full.length <= MAX_NAME) return full;
  const h = hash53(full).toString(36).slice(0, 8);
  const keep = MAX_NAME - suffix.length - h.length - 2;
  return `${base.toLowerCase().slice(0, Math.max(1, keep)).replace(/-+$/, '')}-${h}-${suffix}`.slice(0, MAX_NAME);
}

/** Store prefix of an object's artifacts: <plural>/<namespace>/<name>[-<uid8>]. */
export function objectPrefix(o: { kind: string; metadata: { name?: string; namespace?: string; uid?: string } }): string {
  const plural = `${o.kind.toLowerCase()}${o.kind.endsWith('h') ? 'es' : 's'}`;
  const uid = o.metadata.uid ? `-${o.metadata.uid.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}` : '';
  return `${plural}/${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? 'unnamed'}${uid}`;
}

/** Where the attempt records of an object live. */
export const recordPrefix = (prefix: string): string => `${prefix}/records`;

/** Where the record of one unit lives. */
export const recordKey = (prefix: string, unit: string): string => `${recordPrefix(prefix)}/${unit}.json`;

/** Kubernetes Time (RFC 3339, seconds). */
export { rfc3339 };
