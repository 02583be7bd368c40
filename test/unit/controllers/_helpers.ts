/** Builders for decide() tables: objects through the API's own validation, observations by hand. */
import { parse } from '../../../operator/api/validate.ts';
import { EvalSuite, RolloutBatch, TrainingRun } from '../../../operator/api/kinds.ts';
import type { RolloutSummary } from '../../../operator/api/records.ts';
import type { AttemptRecord, Decision, Observed, ObservedUnit, SandboxUnit } from '../../../operator/controllers/decision.ts';
import { normalisedPatchHash } from '../../../operator/selection/patch.ts';

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const sec = (s: number) => T0 + s * 1000;

type Obj = Record<string, unknown>;

export function batch(spec: Obj = {}, meta: Obj = {}, status?: Obj): RolloutBatch {
  return parse<RolloutBatch>(
    RolloutBatch,
    {
      apiVersion: 'entropo.dev/v1alpha1',
      kind: 'RolloutBatch',
      metadata: { name: 'rb', namespace: 'ns', generation: 1, uid: 'u-1', ...meta },
      spec: { policy: { name: 'm', endpoint: { url: 'http://llm:8000/v1' } }, tasks: { builtin: { split: 'Train' } }, samplesPerTask: 2, parallelism: 2, ...spec },
      ...(status ? { status } : {}),
    },
    'test batch',
  );
}

export function suite(spec: Obj = {}, meta: Obj = {}, status?: Obj): EvalSuite {
  return parse<EvalSuite>(
    EvalSuite,
    {
      apiVersion: 'entropo.dev/v1alpha1',
      kind: 'EvalSuite',
      metadata: { name: 'es', namespace: 'ns', generation: 1, uid: 'u-2', ...meta },
      spec: { policy: { name: 'm', endpoint: { url: 'http://llm:8000/v1' } }, tasks: { builtin: { split: 'Eval' } }, samplesPerTask: 2, parallelism: 4, ...spec },
      ...(status ? { status } : {}),
    },
    'test suite',
  );
}

export function run(spec: Obj = {}, meta: Obj = {}, status?: Obj): TrainingRun {
  return parse<TrainingRun>(
    TrainingRun,
    {
      apiVersion: 'entropo.dev/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'tr', namespace: 'ns', generation: 1, uid: 'u-3', ...meta },
      spec: { policy: { name: 'tiny', source: 'builtin:tiny-coder' }, tasks: { builtin: { split: 'Train' } }, iterations: 2, ...spec },
      ...(status ? { status } : {}),
    },
    'test run',
  );
}

export function summary(task: string, sample: number, o: Partial<RolloutSummary> & { patch?: string } = {}): RolloutSummary {
  const { patch, ...rest } = o;
  return {
    v: 1,
    task,
    sample,
    trajectory: `${task}/${sample}/rb`,
    key: `k/${task}/${sample}.json`,
    finished: true,
    exit: 'finished',
    steps: 5,
    tokens: 900,
    seconds: 3,
    patchHash: normalisedPatchHash(patch ?? ''),
    regression: { passed: 3, failed: 0 },
    hidden: { passed: 1, failed: 0 },
    resolved: false,
    reward: 0,
    ...rest,
  };
}

/** The observation of a started sandbox unit. */
export function live(u: SandboxUnit, o: Partial<ObservedUnit> = {}): ObservedUnit {
  return { name: u.name, role: 'Sandbox', index: u.index, attempt: u.attempt, phase: 'Running', createdAt: T0, startedAt: T0, ...o };
}

export function observed(o: Partial<Observed> = {}): Observed {
  return { now: T0, units: [], records: [], tasks: { ids: ['a', 'b', 'c'], key: 'tasks.jsonl' }, ...o };
}

/**
 * Plays an executor faithfully: applies the decision (records, starts, stops) to the world and
 * returns the next observation. `finish` maps a live unit to its end (or undefined: still running).
 */
export function step<S>(d: Decision<S>, world: Observed, now: number, finish: (u: ObservedUnit) => Partial<ObservedUnit> | undefined = () => undefined): Observed {
  const records: AttemptRecord[] = [...world.records.filter((r) => !d.records.some((x) => x.unit === r.unit)), ...d.records];
  const stopped = new Set(d.stop.map((s) => s.name));
  const units: ObservedUnit[] = world.units.filter((u) => !stopped.has(u.name));
  for (const s of d.start) {
    const base: ObservedUnit = { name: s.name, role: s.role, phase: 'Running', createdAt: now, startedAt: now };
    if (s.role === 'Sandbox') Object.assign(base, { index: s.index, attempt: s.attempt });
    if (s.role === 'PolicyServer') Object.assign(base, { checkpoint: s.checkpoint, attempt: s.attempt, ready: true, endpoint: `http://${s.name}:8000/v1` });
    if (s.role === 'Trainer') Object.assign(base, { iteration: s.iteration, attempt: s.attempt });
    if (s.role === 'Verifier') Object.assign(base, { attempt: s.attempt });
    if (s.role === 'RolloutBatch' || s.role === 'EvalSuite') Object.assign(base, { iteration: s.iteration, status: {} });
    units.push(base);
  }
  const next = units.map((u) => {
    const f = finish(u);
    return f ? { ...u, ...f } : u;
  });
  return { ...world, now, units: next, records };
}
