/**
 * The Kubernetes executor of the decision core: the only I/O of the controllers. One reconcile
 * of an object (RolloutBatch, EvalSuite, ...) is
 *
 *   read      the object from the informer cache (never the API)
 *   observe   its children from the label-selected caches (Pods, Deployments of the operator:
 *             `app.kubernetes.io/managed-by=entropo-operator`, matched by `entropo.dev/owner-uid`),
 *             its attempt records (from the store, listed once per object per process, then kept
 *             in memory), its resolved task list (resolved ONCE into <prefix>/tasks.jsonl, read back
 *             afterwards so the index -> task mapping never changes), the clock
 *   decide    the kind's pure decide function (controllers/<kind>.ts; the same one local mode runs)
 *   act       in decision.ts's order, stopping at the first error (the next reconcile redoes what
 *             is missing; every step is idempotent):
 *               1. records and derived files to the store (a finished Pod's summary is durable
 *                  BEFORE the Pod is deleted in step 4)
 *               2. create children (ownerReference controller + blockOwnerDeletion, deterministic
 *                  names: 409 AlreadyExists = already done), the batch's NetworkPolicy first
 *               3. /status (merge patch carrying the resourceVersion: a stale cache gets 409 and
 *                  the key is retried), only when it changed, at most one write per
 *                  `minStatusIntervalMs` (1 s) per object; a deferred write requeues the key
 *               4. delete children (404 = already gone)
 *               5. Kubernetes Events (phase changes, sandbox failures; best effort)
 *               6. delete the object when its TTL expired
 *   requeue   after decide's requeueAfterSeconds (deadlines, TTL), else on the next event.
 *
 * An invalid spec (or an unreadable store URI) is reported in status by decide (Failed /
 * InvalidSpec) and then raised as a TerminalError: counted, never retried.
 */
import type { TSchema } from '@sinclair/typebox';
import type { V1Deployment, V1Job, V1Pod } from '@kubernetes/client-node';
import type { KubeObject, Request } from '../runtime/kube/types.ts';
import type { Reconciler, ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { TerminalError } from '../runtime/controller.ts';
import type { Cache } from '../runtime/cache.ts';
import type { Resource } from '../runtime/kube/resource.ts';
import { Deployments, EntropoResources, Jobs, NetworkPolicies, Pods, Secrets, Services, resourcePath } from '../runtime/kube/resource.ts';
import { isAlreadyExists, isNotFound, type RestClient } from '../runtime/kube/rest.ts';
import { patchStatus, deepEqual } from '../runtime/status.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { Logger } from '../logging/logger.ts';
import { check } from '../api/validate.ts';
import type { Condition } from '../api/common.ts';
import { setCondition } from '../runtime/conditions.ts';
import type { TaskSource } from '../api/common.ts';
import { isSelfContained, type TaskRecord } from '../api/records.ts';
import type { ArtifactStore } from '../store/store.ts';
import { credentialsFromSecretData, openStore, s3SettingsFromSpec, type OpenStoreOptions } from '../store/open.ts';
import { storeEndpoint, type StorageSettings } from '../workloads/store-env.ts';
import { formatError, loadTaskSource, parseTaskJsonl } from '../tasks/dataset.ts';
import type { DomainMetrics } from '../metrics/domain.ts';
import { observeRecord, observeStatus } from '../metrics/pipeline.ts';
import { sandboxPod, type SandboxPodEnv } from '../workloads/sandbox-pod.ts';
import { observeSandboxPod } from '../workloads/pod-state.ts';
import { sandboxNetworkPolicy } from '../workloads/network-policy.ts';
import { observePolicyServer, policyServerDeployment, policyServerService } from '../workloads/policy-server.ts';
import { LABEL_ATTEMPT, LABEL_CHECKPOINT, LABEL_INDEX, LABEL_ITERATION, LABEL_OWNER_UID, LABEL_ROLE } from '../workloads/labels.ts';
import { LABEL_UNIT, observeTrainerJob, trainerJob } from '../workloads/trainer-job.ts';
import { parseScores, verifierJob } from '../workloads/verifier-job.ts';
import { runKeys } from './trainingrun.ts';
import { objectPrefix, recordKey, recordPrefix, type AttemptRecord, type Decision, type Observed, type ObservedTasks, type ObservedUnit, type StopAction, type StoreWrite, type UnitRole, type UnitSpec } from './decision.ts';

/** How long the credentials read from a store's Secret are used before the Secret is read again. */
export const STORE_SECRET_TTL_MS = 5 * 60_000;

/** The Secret of an s3:// store could not be read (missing, no such key, no access): retried, never an invalid spec. */
class StoreSecretError extends Error {}

/** The condition the executor sets when the artifact store is unreachable from the operator. */
export const STORE_CONDITION = 'StoreAvailable';

/** Children created (and deleted, and records written) at once by one reconcile. */
export const CREATE_CONCURRENCY = 16;
/** Children created by one reconcile at most (the rest on the next, requeued at once). */
export const CREATES_PER_RECONCILE = 250;

/** One kind the executor drives. */
export interface KindBinding<T extends KubeObject = KubeObject, S extends Record<string, unknown> = Record<string, unknown>> {
  kind: 'RolloutBatch' | 'EvalSuite' | 'TrainingRun';
  resource: Resource;
  /** The kind's schema (api/kinds.ts): the object is checked and defaulted with it. */
  schema: TSchema;
  decide(obj: T, observed: Observed): Decision<S>;
  /** The task source, for kinds that resolve a task list. */
  tasks?(obj: T): TaskSource;
}

export interface ClusterExecutorOptions {
  client: RestClient;
  objects: Cache;
  pods: Cache;
  deployments: Cache;
  /** Trainer Jobs (label-selected). */
  jobs?: Cache;
  /** Caches of child objects by kind (TrainingRun: its RolloutBatches and EvalSuites). */
  children?: Partial<Record<'RolloutBatch' | 'EvalSuite', Cache>>;
  operatorImage: string;
  sandboxBaseImage: string;
  events: EventRecorder;
  metrics: DomainMetrics;
  log: Logger;
  /** At most one status write per object per this many ms (default 1000). */
  minStatusIntervalMs?: number;
  /**
   * Opens the store of a spec.storage.uri (default: store/open.ts openStore; pvc:// is the
   * operator's own mount). opts.s3 carries spec.storage.s3 and the credentials of its Secret.
   */
  openStore?: (uri: string, opts?: OpenStoreOptions) => ArtifactStore;
  now?: () => number;
}

interface TaskInfo {
  format: 'swe-bench' | 'self-contained';
  image?: string;
}

/** What the executor remembers of one object (by uid) between reconciles. */
interface ObjectState {
  records?: Map<string, AttemptRecord>;
  tasks?: ObservedTasks;
  taskInfo: Map<string, TaskInfo>;
  lastStatusWrite: number;
  /** The spec checked and defaulted for this metadata.generation (the spec only changes with it). */
  checked?: { generation: number; result: ReturnType<typeof check> };
  networkPolicy: boolean;
  key: string;
  /**
   * Expectations (as the Job controller keeps them): children this process created that the
   * cache has not shown yet, by name. They count as Pending units so a reconcile that runs before
   * the watch delivers them does not create them again; dropped once seen, or after a minute.
   */
  expected: Map<string, { unit: ObservedUnit; at: number }>;
}

/** How long a created child that the cache has not shown yet is still expected. */
export const EXPECTATION_TTL_MS = 60_000;

/**
 * Runs `fn` over `items`, at most `concurrency` at once; every item is tried, then the first
 * error (if any) is raised.
 */
async function settleAll<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure) throw failure.e;
}

/** spec.storage of an object (its s3 settings go to the workloads: workloads/store-env.ts). */
const storageOf = (o: KubeObject): StorageSettings | undefined => (o as unknown as { spec?: { storage?: StorageSettings } }).spec?.storage;

const numLabel = (o: KubeObject, k: string): number | undefined => {
  const v = o.metadata.labels?.[k];
  return v === undefined || v === '' || !/^\d+$/.test(v) ? undefined : Number(v);
};

export class ClusterExecutor<T extends KubeObject, S extends Record<string, unknown>> implements Reconciler {
  private readonly states = new Map<string, ObjectState>();
  private readonly stores = new Map<string, { store: ArtifactStore; at: number }>();
  private readonly byKey = new Map<string, string>(); // namespace/name -> uid
  /**
   * Observations of sandbox Pods by cached object: the informer replaces an object on every
   * change, so an entry is valid for as long as its Pod object is the cached one (a reconcile
   * observes only the Pods that changed since the last, not all of them again).
   */
  private readonly podUnits = new WeakMap<KubeObject, ObservedUnit>();

  constructor(
    private readonly binding: KindBinding<T, S>,
    private readonly opts: ClusterExecutorOptions,
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /**
   * The store of a spec.storage, opened once and kept. An s3:// store with a credentialsSecretRef
   * is opened with the Secret's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (read
   * from the object's namespace, again every STORE_SECRET_TTL_MS so rotated keys are picked up);
   * without one, the operator's own credential chain applies. Throws StoreSecretError when the
   * Secret cannot be read (retried), anything else for a bad URI (an invalid spec).
   */
  private async store(storage: StorageSettings, namespace: string, client: RestClient): Promise<ArtifactStore> {
    const secret = storage.uri.startsWith('s3://') ? storage.s3?.credentialsSecretRef?.name : undefined;
    const key = `${storage.uri}\n${JSON.stringify(storage.s3 ?? {})}\n${secret ? `${namespace}/${secret}` : ''}`;
    const cached = this.stores.get(key);
    if (cached && (!secret || this.now() - cached.at < STORE_SECRET_TTL_MS)) return cached.store;
    let opts: OpenStoreOptions = {};
    if (storage.uri.startsWith('s3://')) {
      let credentials;
      if (secret) {
        try {
          const data = (await client.request<{ data?: Record<string, string> }>('GET', resourcePath(Secrets, namespace, secret))).data;
          credentials = credentialsFromSecretData(`${namespace}/${secret}`, data);
        } catch (e) {
          throw new StoreSecretError(`spec.storage.s3.credentialsSecretRef: ${(e as Error).message}`);
        }
      }
      opts = { s3: s3SettingsFromSpec(storage.s3, credentials) };
    }
    const store = (this.opts.openStore ?? openStore)(storage.uri, opts);
    this.stores.set(key, { store, at: this.now() });
    return store;
  }

  async reconcile(req: Request, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const key = `${req.namespace}/${req.name}`;
    const raw = this.opts.objects.get(req.namespace, req.name);
    if (!raw) {
      this.forget(key, req);
      return;
    }
    if (raw.metadata.deletionTimestamp) return;
    const uid = raw.metadata.uid ?? '';
    const prevUid = this.byKey.get(key);
    if (prevUid && prevUid !== uid) this.states.delete(prevUid); // deleted and re-created under the same name
    this.byKey.set(key, uid);
    let state = this.states.get(uid);
    if (!state) {
      state = { taskInfo: new Map(), lastStatusWrite: 0, networkPolicy: false, key, expected: new Map() };
      this.states.set(uid, state);
    }

    // Check and default the spec as the API server would (the status is ours: not re-checked),
    // once per generation: status writes and Pod events do not change the spec.
    const generation = raw.metadata.generation ?? 0;
    if (state.checked?.generation !== generation) {
      state.checked = { generation, result: check<T>(this.binding.schema, { ...raw, metadata: { ...raw.metadata, managedFields: undefined }, status: undefined }) };
    }
    const checked = state.checked.result as ReturnType<typeof check<T>>;
    const obj = (checked.ok ? { ...checked.value, metadata: raw.metadata, ...(raw.status ? { status: raw.status } : {}) } : raw) as T;
    let invalid = checked.ok ? undefined : checked.errors.map((e) => `${e.field || '(root)'}: ${e.message}`).join('; ');
    const spec = (obj as unknown as { spec: { storage?: StorageSettings } }).spec;
    const prefix = objectPrefix(obj as unknown as { kind: string; metadata: { name?: string; namespace?: string; uid?: string } });

    let store: ArtifactStore | undefined;
    if (!invalid) {
      try {
        store = await this.store(spec.storage ?? { uri: 'pvc://entropo-artifacts' }, req.namespace, ctx.client);
      } catch (e) {
        if (e instanceof StoreSecretError) return this.storeUnavailable(obj, e.message, ctx);
        invalid = `spec.storage.uri: ${(e as Error).message}`;
      }
    }

    const now = this.now();
    const observed: Observed = { now, units: this.withExpectations(state, this.observeUnits(req.namespace, uid), now), records: [] };
    if (invalid || !store) {
      ctx.log.warn('invalid object', { error: invalid });
      observed.invalid = invalid ?? 'spec.storage.uri: no store';
      if (this.binding.tasks) observed.tasks = { error: observed.invalid };
    } else {
      try {
        observed.records = [...(await this.loadRecords(state, store, prefix)).values()];
      } catch (e) {
        return this.storeUnavailable(obj, (e as Error).message, ctx);
      }
      await this.observeProgress(observed.units, store, prefix);
      const scored = observed.records.find((r) => r.role === 'Verifier' && r.outcome === 'Succeeded');
      const scoresKey = (scored?.summary as { scores?: string } | undefined)?.scores;
      if (scoresKey) {
        try {
          observed.verifierScores = parseScores(await store.getText(scoresKey));
        } catch (e) {
          ctx.log.warn('verifier scores unreadable', { key: scoresKey, error: (e as Error).message });
        }
      }
      if (this.binding.tasks) {
        try {
          observed.tasks = await this.resolveTasks(state, store, prefix, obj, req.namespace, ctx);
        } catch (e) {
          return this.storeUnavailable(obj, (e as Error).message, ctx);
        }
      }
    }

    const decision = this.binding.decide(obj, observed);
    // The store works: a StoreAvailable=False left by an earlier reconcile flips to True.
    const conds = (decision.status as { conditions?: Condition[] }).conditions;
    if (conds?.some((c) => c.type === STORE_CONDITION && c.status !== 'True')) {
      (decision.status as { conditions?: Condition[] }).conditions = setCondition(conds, { type: STORE_CONDITION, status: 'True', reason: 'StoreAvailable', message: 'the artifact store is readable and writable' }, now);
    }
    const requeue = await this.act(obj, decision, state, store, prefix, ctx);
    observeStatus(this.opts.metrics, { kind: this.binding.kind, metadata: obj.metadata, status: decision.status });
    if (observed.invalid) throw new TerminalError(`${this.binding.kind} ${key}: ${observed.invalid}`);
    return requeue;
  }

  /**
   * The store cannot be read or written from the operator (e.g. a pvc:// store that is not
   * mounted into the operator Pod): say so in status (condition StoreAvailable=False, the error,
   * observedGeneration) without deciding anything, and retry with backoff.
   */
  private async storeUnavailable(obj: T, error: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const uri = (obj as unknown as { spec: { storage?: { uri?: string } } }).spec.storage?.uri ?? '';
    const message = `artifact store ${uri} unavailable to the operator: ${error}${uri.startsWith('pvc://') ? ' (a pvc:// store must be mounted into the operator Pod at --store-mount)' : ''}`.slice(0, 1024);
    ctx.log.warn('artifact store unavailable', { error: message });
    const prev = (obj.status ?? {}) as { phase?: string; conditions?: Condition[] };
    const gen = obj.metadata.generation ?? 0;
    const status = {
      ...prev,
      phase: prev.phase ?? 'Pending',
      observedGeneration: gen,
      conditions: setCondition(prev.conditions, { type: STORE_CONDITION, status: 'False', reason: 'StoreUnavailable', message, observedGeneration: gen }, this.now()),
    };
    await patchStatus(ctx.client, this.binding.resource, obj, status);
    await this.opts.events.record(obj, { type: 'Warning', reason: 'StoreUnavailable', message });
    throw new Error(message); // retried with the queue's backoff
  }

  /** The object is gone: drop what we remember and its metric series. */
  private forget(key: string, req: Request): void {
    const uid = this.byKey.get(key);
    if (uid) this.states.delete(uid);
    this.byKey.delete(key);
    this.opts.metrics.forgetObject(this.binding.kind, req.namespace, req.name);
  }

  // ---- observe -------------------------------------------------------------------------------

  private observeUnits(namespace: string, uid: string): ObservedUnit[] {
    const mine = (o: KubeObject) => o.metadata.labels?.[LABEL_OWNER_UID] === uid;
    const units: ObservedUnit[] = [];
    const trainerPods = new Map<string, KubeObject>();
    for (const p of this.opts.pods.list(namespace, mine)) {
      const role = (p.metadata.labels?.[LABEL_ROLE] ?? 'Sandbox') as UnitRole;
      if (role === 'Trainer' || role === 'Verifier') {
        // A Job's Pod: read through its Job (the unit). The newest Pod wins.
        const unit = p.metadata.labels?.[LABEL_UNIT];
        const prior = unit ? trainerPods.get(unit) : undefined;
        if (unit && (!prior || (prior.metadata.creationTimestamp ?? '') < (p.metadata.creationTimestamp ?? ''))) trainerPods.set(unit, p);
        continue;
      }
      let u = this.podUnits.get(p);
      if (!u) {
        u = { name: p.metadata.name!, role, ...observeSandboxPod(p as unknown as V1Pod) };
        const index = numLabel(p, LABEL_INDEX);
        const attempt = numLabel(p, LABEL_ATTEMPT);
        const iteration = numLabel(p, LABEL_ITERATION);
        if (index !== undefined) u.index = index;
        if (attempt !== undefined) u.attempt = attempt;
        if (iteration !== undefined) u.iteration = iteration;
        this.podUnits.set(p, u);
      }
      units.push(u);
    }
    for (const d of this.opts.deployments.list(namespace, mine)) {
      const checkpoint = numLabel(d, LABEL_CHECKPOINT);
      const attempt = numLabel(d, LABEL_ATTEMPT) ?? Number(/-a(\d+)$/.exec(d.metadata.name ?? '')?.[1] ?? 0);
      units.push({ name: d.metadata.name!, role: 'PolicyServer', attempt, ...(checkpoint !== undefined ? { checkpoint } : {}), ...observePolicyServer(d as unknown as V1Deployment) });
    }
    for (const j of this.opts.jobs?.list(namespace, mine) ?? []) {
      const name = j.metadata.name!;
      const role = (j.metadata.labels?.[LABEL_ROLE] ?? 'Trainer') as UnitRole;
      const container = role === 'Verifier' ? 'verify' : 'train';
      const u: ObservedUnit = { name, role, ...observeTrainerJob(j as unknown as V1Job, trainerPods.get(name) as unknown as V1Pod | undefined, container) };
      const iteration = numLabel(j, LABEL_ITERATION);
      const attempt = numLabel(j, LABEL_ATTEMPT);
      if (iteration !== undefined) u.iteration = iteration;
      if (attempt !== undefined) u.attempt = attempt;
      units.push(u);
    }
    for (const [kind, cache] of Object.entries(this.opts.children ?? {})) {
      for (const c of cache.list(namespace, (o) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.controller))) {
        const status = (c.status ?? {}) as Record<string, unknown>;
        const phase = status.phase === 'Succeeded' || status.phase === 'Failed' ? status.phase : status.phase === 'Pending' || status.phase === undefined ? 'Pending' : 'Running';
        const iteration = numLabel(c, LABEL_ITERATION);
        units.push({
          name: c.metadata.name!,
          role: kind as UnitRole,
          phase,
          status,
          ...(iteration !== undefined ? { iteration } : {}),
          ...(c.metadata.deletionTimestamp ? { terminating: true } : {}),
        });
      }
    }
    return units;
  }

  /** Trainer progress records (read from the store while a trainer runs). */
  private async observeProgress(units: ObservedUnit[], store: ArtifactStore, prefix: string): Promise<void> {
    for (const u of units) {
      if (u.role !== 'Trainer' || u.phase !== 'Running' || u.iteration === undefined) continue;
      const key = runKeys(prefix, u.iteration).progress;
      try {
        if (await store.exists(key)) u.progress = JSON.parse(await store.getText(key));
      } catch {
        // a progress record being rewritten: next time
      }
    }
  }

  private withExpectations(state: ObjectState, units: ObservedUnit[], now: number): ObservedUnit[] {
    if (state.expected.size === 0) return units;
    const seen = new Set(units.map((u) => u.name));
    for (const [name, e] of state.expected) {
      if (seen.has(name) || now - e.at > EXPECTATION_TTL_MS) state.expected.delete(name);
      else units.push(e.unit);
    }
    return units;
  }

  private async loadRecords(state: ObjectState, store: ArtifactStore, prefix: string): Promise<Map<string, AttemptRecord>> {
    if (state.records) return state.records;
    const records = new Map<string, AttemptRecord>();
    for (const k of await store.list(recordPrefix(prefix))) {
      if (!k.endsWith('.json')) continue;
      try {
        const r = JSON.parse(await store.getText(k)) as AttemptRecord;
        if (r && typeof r.unit === 'string') records.set(r.unit, r);
      } catch (e) {
        // One unreadable record never fails the object: that unit is simply not counted.
        this.opts.log.warn('unreadable attempt record skipped', { key: k, error: (e as Error).message });
      }
    }
    state.records = records;
    return records;
  }

  private async resolveTasks(state: ObjectState, store: ArtifactStore, prefix: string, obj: T, namespace: string, ctx: ReconcileContext): Promise<ObservedTasks> {
    if (state.tasks) return state.tasks;
    const key = `${prefix}/tasks.jsonl`;
    const remember = (tasks: TaskRecord[]) => {
      for (const t of tasks) state.taskInfo.set(t.instance_id, isSelfContained(t) ? { format: 'self-contained' } : { format: 'swe-bench', ...(t.image ? { image: t.image } : {}) });
      state.tasks = { ids: tasks.map((t) => t.instance_id), key };
      return state.tasks;
    };
    if (await store.exists(key)) {
      const again = parseTaskJsonl(await store.getText(key), 'Auto');
      if (again.errors.length === 0) return remember(again.tasks);
    }
    const source = this.binding.tasks!(obj);
    let loaded;
    try {
      loaded = await loadTaskSource(source, {
        store,
        readConfigMap: async (name, k) => {
          const cm = await ctx.client.request<{ data?: Record<string, string> }>('GET', resourcePath({ group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true }, namespace, name));
          const text = cm.data?.[k];
          if (text === undefined) throw new Error(`ConfigMap ${name} has no key ${k}`);
          return text;
        },
      });
    } catch (e) {
      state.tasks = { error: `spec.tasks: ${(e as Error).message}` };
      return state.tasks;
    }
    if (loaded.errors.length > 0) {
      const where = source.jsonl?.uri ?? (source.configMapRef ? `ConfigMap ${source.configMapRef.name}` : 'tasks');
      const shown = loaded.errors.slice(0, 5).map((e) => formatError(e, where));
      state.tasks = { error: `${shown.join('; ')}${loaded.errors.length > 5 ? `; and ${loaded.errors.length - 5} more` : ''}` };
      return state.tasks;
    }
    await store.put(key, loaded.tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
    return remember(loaded.tasks);
  }

  // ---- act -----------------------------------------------------------------------------------

  private async act(obj: T, d: Decision<S>, state: ObjectState, store: ArtifactStore | undefined, prefix: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const { client } = ctx;
    const ns = obj.metadata.namespace!;
    // 1. records, then derived files: durable before any child is deleted.
    if (d.records.length || d.writes.length) {
      if (!store) throw new Error('no store to write records to');
      await settleAll(d.records, CREATE_CONCURRENCY, async (r) => {
        await store.put(recordKey(prefix, r.unit), JSON.stringify(r));
        const had = state.records?.has(r.unit);
        state.records?.set(r.unit, r);
        if (!had) observeRecord(this.opts.metrics, this.binding.kind, r);
      });
      for (const w of d.writes) await this.write(store, w);
    }
    // 2. create (the batch's NetworkPolicy first; then up to CREATE_CONCURRENCY at once, like the
    //    Job controller's parallel Pod creation; the first error is raised after the rest settle)
    // At most CREATES_PER_RECONCILE per reconcile, then requeue at once: a batch of thousands
    // shows its progress in status meanwhile and no reconcile runs for minutes (the rest is
    // decided again next time; expectations keep what was created from being created twice).
    const starts = d.start.slice(0, CREATES_PER_RECONCILE);
    const more = d.start.length > starts.length;
    if (starts.length) {
      await this.create(obj, starts[0], state, client);
      await settleAll(starts.slice(1), CREATE_CONCURRENCY, (u) => this.create(obj, u, state, client));
    }
    // 2b. suspend / resume child objects
    for (const c of d.setSuspend ?? []) {
      try {
        await client.request('PATCH', resourcePath(EntropoResources[c.role], ns, c.name), { body: { spec: { suspend: c.suspend } }, contentType: 'application/merge-patch+json' });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    // 3. status, at most once per interval
    let requeueMs: number | undefined = more ? 1 : d.requeueAfterSeconds !== undefined ? d.requeueAfterSeconds * 1000 : undefined;
    const current = (obj.status ?? {}) as Record<string, unknown>;
    let statusDeferred = false;
    if (!deepEqual(current, d.status)) {
      const wait = state.lastStatusWrite + (this.opts.minStatusIntervalMs ?? 1000) - this.now();
      if (wait > 0) {
        requeueMs = Math.min(requeueMs ?? Infinity, wait);
        statusDeferred = true;
      } else {
        await patchStatus(client, this.binding.resource, obj, d.status);
        state.lastStatusWrite = this.now();
      }
    }
    // 4. delete (as many at once as creates)
    await settleAll(d.stop, CREATE_CONCURRENCY, (s) => this.remove(ns, s, client));
    // 5. events (best effort)
    for (const { withStatus, ...e } of d.events) if (!(withStatus && statusDeferred)) await this.opts.events.record(obj, e);
    // 6. TTL
    if (d.deleteObject) {
      try {
        await client.request('DELETE', resourcePath(this.binding.resource, ns, obj.metadata.name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
        ctx.log.info('deleted after ttlSecondsAfterFinished');
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      return {};
    }
    return requeueMs !== undefined ? { requeueAfterMs: Math.max(1, Math.ceil(requeueMs)) } : {};
  }

  private async write(store: ArtifactStore, w: StoreWrite): Promise<void> {
    if ('content' in w) return store.put(w.key, w.content);
    const lines: string[] = [];
    const keys = 'concat' in w ? w.concat : w.predictions.keys;
    for (const k of keys) {
      let text: string;
      try {
        text = await store.getText(k);
      } catch (e) {
        this.opts.log.warn('trajectory missing from the store, left out', { key: k, into: w.key, error: (e as Error).message });
        continue;
      }
      try {
        const t = JSON.parse(text) as { taskId?: string; patch?: string };
        lines.push(JSON.stringify('concat' in w ? t : { instance_id: t.taskId, model_name_or_path: w.predictions.model, model_patch: t.patch ?? '' }));
      } catch (e) {
        this.opts.log.warn('unreadable trajectory left out', { key: k, into: w.key, error: (e as Error).message });
      }
    }
    await store.put(w.key, lines.length ? `${lines.join('\n')}\n` : '');
  }

  private async createObject(client: RestClient, resource: Resource, namespace: string, body: unknown): Promise<void> {
    try {
      // The informer delivers the created object; its echo in the answer is not parsed.
      await client.request('POST', resourcePath(resource, namespace), { body, discardResponse: true });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e; // a retried create: the deterministic name already exists
    }
  }

  private async create(obj: T, u: UnitSpec, state: ObjectState, client: RestClient): Promise<void> {
    const ns = obj.metadata.namespace!;
    if (u.role === 'Sandbox') {
      if (!state.networkPolicy) {
        const np = sandboxNetworkPolicy({
          name: `${u.owner.name}-sandbox`.slice(0, 253),
          namespace: ns,
          owner: { kind: u.owner.kind, name: u.owner.name, ref: { apiVersion: obj.apiVersion!, kind: obj.kind!, name: obj.metadata.name!, uid: obj.metadata.uid!, controller: true, blockOwnerDeletion: true } },
          network: u.sandbox.network ?? 'PolicyOnly',
          endpoints: [u.policy.url, ...[storeEndpoint(storageOf(obj))].filter((x): x is string => x !== undefined)],
          ...(this.policyServerPeer(u.policy.url, ns) ?? {}),
        });
        if (np) await this.createObject(client, NetworkPolicies, ns, np);
        state.networkPolicy = true;
      }
      const info = state.taskInfo.get(u.taskId) ?? { format: 'self-contained' as const };
      const env: SandboxPodEnv = { operatorImage: this.opts.operatorImage, baseImage: this.opts.sandboxBaseImage, task: info, storage: storageOf(obj) };
      await this.createObject(client, Pods, ns, sandboxPod({ ...u, iteration: u.source.iteration }, env));
      state.expected.set(u.name, { at: this.now(), unit: { name: u.name, role: 'Sandbox', index: u.index, attempt: u.attempt, phase: 'Pending', createdAt: this.now() } });
      return;
    }
    if (u.role === 'PolicyServer') {
      await this.createObject(client, Services, ns, policyServerService(u));
      const dep = policyServerDeployment(u, this.opts.operatorImage, storageOf(obj));
      dep.metadata!.labels![LABEL_ATTEMPT] = /-a(\d+)$/.exec(u.name)?.[1] ?? '0';
      await this.createObject(client, Deployments, ns, dep);
      return;
    }
    if (u.role === 'Trainer') {
      await this.createObject(client, Jobs, ns, trainerJob(u, this.opts.operatorImage, storageOf(obj)));
      return;
    }
    if (u.role === 'Verifier') {
      await this.createObject(client, Jobs, ns, verifierJob(u, this.opts.operatorImage, storageOf(obj)));
      return;
    }
    if (u.role === 'RolloutBatch' || u.role === 'EvalSuite') {
      const child = structuredClone(u.object) as unknown as KubeObject;
      child.metadata = {
        ...child.metadata,
        name: u.name,
        namespace: ns,
        ownerReferences: [{ apiVersion: obj.apiVersion!, kind: obj.kind!, name: obj.metadata.name!, uid: obj.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      };
      delete child.status;
      await this.createObject(client, EntropoResources[u.role], ns, child);
      return;
    }
    throw new Error(`${this.binding.kind}: unknown unit role ${(u as { role: string }).role}`);
  }

  /** When the policy URL is one of our policy servers, its Pods are the NetworkPolicy peer. */
  private policyServerPeer(url: string, namespace: string): { servedBy: Record<string, string> } | undefined {
    const m = /^http:\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc:\d+\/v1$/.exec(url);
    if (!m || m[2] !== namespace) return undefined;
    const d = this.opts.deployments.get(namespace, m[1]);
    if (!d) return undefined;
    return { servedBy: { 'entropo.dev/policy-server': m[1] } };
  }

  private async remove(namespace: string, s: StopAction, client: RestClient): Promise<void> {
    const del = async (r: Resource) => {
      try {
        await client.request('DELETE', resourcePath(r, namespace, s.name), { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };
    if (s.role === 'Sandbox') await del(Pods);
    else if (s.role === 'PolicyServer') {
      await del(Deployments);
      await del(Services);
    } else if (s.role === 'Trainer' || s.role === 'Verifier') await del(Jobs);
    else if (s.role === 'RolloutBatch' || s.role === 'EvalSuite') await del(EntropoResources[s.role]);
    else throw new Error(`${this.binding.kind}: cannot stop units of role ${s.role} yet`);
  }
}

