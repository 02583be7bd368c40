/**
 * The local executor: drives the SAME decide() functions as the operator (controllers/), with
 * units of work on this machine (units.ts) and the artifact store in a directory. Per object, a
 * loop: observe (live units, attempt records from the store, the resolved task list, verifier
 * scores) -> decide -> apply in the order decision.ts prescribes (records and writes, starts,
 * status, stops) -> wait for a unit to change or the requeue time. A TrainingRun's child
 * RolloutBatch / EvalSuite objects are driven by nested runners in the same process.
 *
 * The object and its status are saved (as `kubectl get -o yaml` shows them) under
 * local/objects/<namespace>/<kind>/<name>.yaml in the store after every status change, so a run
 * stopped by Ctrl-C resumes (`--resume`) from the records and the saved status without redoing
 * finished work: finished rollouts and trainers are records; an interrupted trainer resumes from
 * its last checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { EvalSuite, RolloutBatch, TrainingRun } from '../api/kinds.ts';
import type { TaskRecord, TrajectoryRecord } from '../api/records.ts';
import { parse } from '../api/validate.ts';
import { objectPrefix, recordKey, recordPrefix, rfc3339, type AttemptRecord, type Decision, type DecisionEvent, type Observed, type ObservedTasks, type ObservedUnit, type StoreWrite, type UnitSpec, type VerifierSummary } from '../controllers/decision.ts';
import { decideEvalSuite } from '../controllers/evalsuite.ts';
import { decideRolloutBatch } from '../controllers/rolloutbatch.ts';
import { decideTrainingRun } from '../controllers/trainingrun.ts';
import type { Logger } from '../logging/logger.ts';
import type { ArtifactStore } from '../store/store.ts';
import { formatError, loadTaskSource } from '../tasks/dataset.ts';
import { startPolicyServer, startSandbox, startTrainer, startVerifier, type LocalUnit, type UnitContext } from './units.ts';

export type AnyObject = TrainingRun | RolloutBatch | EvalSuite;
type AnyStatus = NonNullable<AnyObject['status']>;

export interface ExecutorOptions {
  store: ArtifactStore;
  log: Logger;
  isolation: UnitContext['isolation'];
  apiKey?: string;
  scratch: string;
  /** Stops every runner (Ctrl-C). */
  signal: AbortSignal;
  /** Called after every status change of any object (progress, metrics). */
  onStatus?: (runner: ObjectRunner) => void;
  /** Called for each new attempt record (metrics). */
  onRecord?: (runner: ObjectRunner, record: AttemptRecord) => void;
  /** Called for each event decide() emits. */
  onEvent?: (runner: ObjectRunner, event: DecisionEvent) => void;
  /** Seconds between reconciles when nothing happens (default 2). */
  resyncSeconds?: number;
}

/** Store key of the saved object. */
export const stateKey = (o: { kind: string; metadata: { name?: string; namespace?: string } }): string =>
  `local/objects/${o.metadata.namespace ?? 'default'}/${o.kind}/${o.metadata.name}.yaml`;

/** The object as `kubectl get -o yaml` shows it: apiVersion, kind, metadata, spec, status. */
export function toKubeYaml(o: AnyObject): string {
  const { apiVersion, kind, metadata, spec, status } = o as AnyObject & { status?: unknown };
  return toYaml({ apiVersion, kind, metadata, spec, ...(status ? { status } : {}) }, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Gives an object what the API server would: defaults, uid, generation, creationTimestamp. */
export function admit<T extends AnyObject>(o: T, now = Date.now()): T {
  const schema = o.kind === 'TrainingRun' ? TrainingRun : o.kind === 'RolloutBatch' ? RolloutBatch : EvalSuite;
  const v = parse<T>(schema, o, `${o.kind} ${o.metadata.name}`);
  v.metadata = {
    ...v.metadata,
    namespace: v.metadata.namespace ?? 'default',
    uid: v.metadata.uid ?? randomUUID(),
    generation: v.metadata.generation ?? 1,
    creationTimestamp: v.metadata.creationTimestamp ?? rfc3339(now),
  };
  return v;
}

const decideFor = (o: AnyObject, observed: Observed): Decision<AnyStatus> => {
  switch (o.kind) {
    case 'TrainingRun':
      return decideTrainingRun(o, observed);
    case 'RolloutBatch':
      return decideRolloutBatch(o, observed);
    case 'EvalSuite':
      return decideEvalSuite(o, observed);
  }
};

const terminal = (o: AnyObject) => o.status?.phase === 'Succeeded' || o.status?.phase === 'Failed';

/** Drives one object to the end (or until aborted). */
export class ObjectRunner {
  readonly prefix: string;
  readonly children = new Map<string, ObjectRunner>();
  readonly records = new Map<string, AttemptRecord>();
  private readonly live = new Map<string, LocalUnit>();
  private tasks?: ObservedTasks;
  private verifierScores?: Record<string, number>;
  private wakeUp?: () => void;
  private dirty = false;
  private readonly ctx: UnitContext;
  /** Called when this object's status changes (the parent's observation of a child). */
  onChange?: () => void;

  constructor(
    public obj: AnyObject,
    private readonly opts: ExecutorOptions,
    readonly parent?: ObjectRunner,
  ) {
    this.prefix = objectPrefix(obj);
    this.ctx = {
      store: opts.store,
      log: opts.log.child({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name }),
      changed: () => this.wake(),
      isolation: opts.isolation,
      ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
      scratch: opts.scratch,
    };
  }

  get log(): Logger {
    return this.ctx.log;
  }

  wake(): void {
    this.dirty = true;
    this.wakeUp?.();
  }

  /** Live units of this object (for progress). */
  liveUnits(): ObservedUnit[] {
    return [...this.live.values()].map((u) => u.observed);
  }

  async save(): Promise<void> {
    await this.opts.store.put(stateKey(this.obj), toKubeYaml(this.obj));
  }

  private async loadRecords(): Promise<void> {
    for (const key of await this.opts.store.list(recordPrefix(this.prefix))) {
      if (!key.endsWith('.json')) continue;
      try {
        const r = JSON.parse(await this.opts.store.getText(key)) as AttemptRecord;
        this.records.set(r.unit, r);
      } catch (e) {
        this.log.warn('unreadable attempt record skipped', { key, error: (e as Error).message });
      }
    }
  }

  /** Resolves the task list once; later runs read it back from the store (same index -> task). */
  private async resolveTasks(): Promise<ObservedTasks> {
    const key = `${this.prefix}/tasks.jsonl`;
    if (await this.opts.store.exists(key)) {
      const ids = (await this.opts.store.getText(key))
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as TaskRecord).instance_id);
      return { ids, key };
    }
    const o = this.obj as RolloutBatch | EvalSuite;
    try {
      const r = await loadTaskSource(o.spec.tasks, { store: this.opts.store });
      const where = o.spec.tasks.jsonl?.uri ?? (o.spec.tasks.builtin ? `builtin suite ${o.spec.tasks.builtin.suite}` : 'tasks');
      for (const e of r.errors) this.log.warn('task skipped', { error: formatError(e, where) });
      if (r.tasks.length === 0) {
        return { error: r.errors.length ? r.errors.slice(0, 3).map((e) => formatError(e, where)).join('; ') : `${where}: no task selected` };
      }
      await this.opts.store.put(key, r.tasks.map((t) => JSON.stringify(t)).join('\n') + '\n');
      return { ids: r.tasks.map((t) => t.instance_id), key };
    } catch (e) {
      return { error: `spec.tasks: ${(e as Error).message}` };
    }
  }

  private async applyWrite(w: StoreWrite): Promise<void> {
    const store = this.opts.store;
    if ('content' in w) return store.put(w.key, w.content);
    if ('concat' in w) {
      const lines: string[] = [];
      for (const k of w.concat) lines.push(JSON.stringify(JSON.parse(await store.getText(k))));
      return store.put(w.key, lines.map((l) => `${l}\n`).join(''));
    }
    const lines: string[] = [];
    for (const k of w.predictions.keys) {
      const t = JSON.parse(await store.getText(k)) as TrajectoryRecord;
      lines.push(JSON.stringify({ instance_id: t.taskId, model_name_or_path: w.predictions.model, model_patch: t.patch }));
    }
    return store.put(w.key, lines.map((l) => `${l}\n`).join(''));
  }

  private startUnit(s: UnitSpec): LocalUnit {
    switch (s.role) {
      case 'Sandbox':
        return startSandbox(s, this.ctx);
      case 'Trainer':
        return startTrainer(s, this.ctx);
      case 'PolicyServer':
        return startPolicyServer(s, this.ctx);
      case 'Verifier':
        return startVerifier(s, this.ctx);
      case 'RolloutBatch':
      case 'EvalSuite':
        return this.attachChild(new ObjectRunner(admit(s.object), this.opts, this), s.iteration);
    }
  }

  /** A child object as a unit: its observation mirrors the child's status. */
  private attachChild(child: ObjectRunner, iteration: number | undefined): LocalUnit {
    const observed: ObservedUnit = { name: child.obj.metadata.name!, role: child.obj.kind as 'RolloutBatch' | 'EvalSuite', phase: 'Pending', ...(iteration ? { iteration } : {}) };
    const sync = () => {
      const st = child.obj.status as Record<string, unknown> | undefined;
      observed.status = st ?? {};
      const p = st?.phase;
      observed.phase = p === 'Succeeded' || p === 'Failed' ? p : p ? 'Running' : 'Pending';
    };
    sync();
    child.onChange = () => {
      sync();
      this.wake();
    };
    this.children.set(observed.name, child);
    child.run().catch((e: Error) => this.log.error('child runner failed', { child: observed.name, error: e.message }));
    return {
      observed,
      stop: async () => {
        this.children.delete(observed.name);
      },
    };
  }

  /** Re-attaches the saved children of a resumed TrainingRun. */
  private async attachSavedChildren(): Promise<void> {
    const ns = this.obj.metadata.namespace ?? 'default';
    for (const kind of ['RolloutBatch', 'EvalSuite']) {
      for (const key of await this.opts.store.list(`local/objects/${ns}/${kind}`)) {
        const o = parseYaml(await this.opts.store.getText(key)) as AnyObject;
        if (o.metadata.labels?.['entropo.dev/training-run'] !== this.obj.metadata.name) continue;
        if (o.metadata.labels?.['entropo.dev/owner-uid'] !== this.obj.metadata.uid) continue;
        const iteration = Number(o.metadata.labels?.['entropo.dev/iteration']);
        this.live.set(o.metadata.name!, this.attachChild(new ObjectRunner(o, this.opts, this), iteration));
      }
    }
  }

  private observe(): Observed {
    const o: Observed = {
      now: Date.now(),
      units: [...this.live.values()].map((u) => ({ ...u.observed })),
      records: [...this.records.values()],
    };
    if (this.tasks) o.tasks = this.tasks;
    if (this.verifierScores) o.verifierScores = this.verifierScores;
    return o;
  }

  private async loadVerifierScores(): Promise<void> {
    if (this.verifierScores) return;
    const rec = [...this.records.values()].find((r) => r.role === 'Verifier' && r.outcome === 'Succeeded');
    if (!rec) return;
    const key = (rec.summary as VerifierSummary).scores;
    const doc = JSON.parse(await this.opts.store.getText(key)) as { scores: Record<string, number> };
    this.verifierScores = doc.scores;
  }

  /** Runs until the object is finished (and its units ended) or the executor is aborted. */
  async run(): Promise<AnyObject> {
    await this.loadRecords();
    if (this.obj.kind === 'TrainingRun') await this.attachSavedChildren();
    else if (!terminal(this.obj)) this.tasks = await this.resolveTasks();
    await this.save();
    const resync = (this.opts.resyncSeconds ?? 2) * 1000;
    while (!this.opts.signal.aborted) {
      this.dirty = false;
      await this.loadVerifierScores();
      if (this.obj.kind !== 'TrainingRun' && !this.tasks) this.tasks = await this.resolveTasks();
      const d = decideFor(this.obj, this.observe());
      // 1. records and writes
      for (const r of d.records) {
        await this.opts.store.put(recordKey(this.prefix, r.unit), JSON.stringify(r));
        this.records.set(r.unit, r);
        this.opts.onRecord?.(this, r);
      }
      for (const w of d.writes) await this.applyWrite(w);
      // 2. starts, suspends of children
      for (const s of d.start) {
        if (this.live.has(s.name)) continue;
        if (s.role === 'RolloutBatch' || s.role === 'EvalSuite') {
          s.object.metadata.labels = { ...s.object.metadata.labels, 'entropo.dev/owner-uid': this.obj.metadata.uid ?? '' };
        }
        this.live.set(s.name, this.startUnit(s));
      }
      for (const s of d.setSuspend ?? []) {
        const child = this.children.get(s.name);
        if (child) {
          (child.obj.spec as { suspend: boolean }).suspend = s.suspend;
          child.wake();
        }
      }
      // 3. status
      const changed = JSON.stringify(d.status) !== JSON.stringify(this.obj.status);
      if (changed) {
        (this.obj as { status?: AnyStatus }).status = d.status;
        await this.save();
        this.opts.onStatus?.(this);
        this.onChange?.();
      }
      // 4. stops
      for (const s of d.stop) {
        const u = this.live.get(s.name);
        if (!u) continue;
        this.live.delete(s.name);
        await u.stop();
      }
      for (const e of d.events) {
        this.opts.onEvent?.(this, e);
        if (e.type === 'Warning') this.log.warn(e.message, { reason: e.reason });
        else this.log.info(e.message, { reason: e.reason });
      }
      if (d.deleteObject) this.log.info('ttlSecondsAfterFinished expired (local mode keeps the results)');
      const childrenRunning = [...this.children.values()].some((c) => !terminal(c.obj) && c.obj.spec.suspend !== true);
      if (terminal(this.obj) && [...this.live.values()].every((u) => u.observed.role === 'RolloutBatch' || u.observed.role === 'EvalSuite') && !childrenRunning) break;
      if (this.dirty) continue;
      const wait = Math.min(resync, (d.requeueAfterSeconds ?? Infinity) * 1000);
      await new Promise<void>((res) => {
        const done = () => {
          clearTimeout(t);
          this.opts.signal.removeEventListener('abort', done);
          this.wakeUp = undefined;
          res();
        };
        const t = setTimeout(done, wait);
        this.opts.signal.addEventListener('abort', done, { once: true });
        this.wakeUp = done;
      });
      this.wakeUp = undefined;
    }
    return this.obj;
  }

  /** Ends every live unit of this object and its children (Ctrl-C); unrecorded work is redone on resume. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.children.values()].map((c) => c.shutdown()));
    // child objects stay known (their results); every other unit ends
    const workers = [...this.live.entries()].filter(([, u]) => u.observed.role !== 'RolloutBatch' && u.observed.role !== 'EvalSuite');
    await Promise.all(workers.map(([, u]) => u.stop().catch(() => undefined)));
    for (const [name] of workers) this.live.delete(name);
    await this.save();
  }

  /** Every runner in the tree, depth first. */
  *walk(): Generator<ObjectRunner> {
    yield this;
    for (const c of this.children.values()) yield* c.walk();
  }
}
