/**
 * The executor contract: whatever executor ran an object (local processes, Pods), the attempt
 * records it stored, fed to the same decide() with no live unit, give the same status. An
 * executor test runs an object, then compares comparable(its status) with
 * comparable(await replayStatus(object, storeRoot)). Timestamps and condition times are left out
 * (the clock differs); everything counted or computed stays in.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { EvalSuite, RolloutBatch, TrainingRun } from '../../operator/api/kinds.ts';
import type { AttemptRecord, Observed } from '../../operator/controllers/decision.ts';
import { objectPrefix, recordPrefix } from '../../operator/controllers/decision.ts';
import { decideEvalSuite } from '../../operator/controllers/evalsuite.ts';
import { decideRolloutBatch } from '../../operator/controllers/rolloutbatch.ts';
import type { TaskRecord } from '../../operator/api/records.ts';

type Sandboxed = RolloutBatch | EvalSuite;

/** Reads the records and the resolved task list of an object from a directory store. */
export async function storedObservation(o: Sandboxed | TrainingRun, storeRoot: string, now = Date.now()): Promise<Observed> {
  const prefix = objectPrefix(o);
  const dir = path.join(storeRoot, recordPrefix(prefix));
  const records: AttemptRecord[] = [];
  for (const f of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (f.endsWith('.json')) records.push(JSON.parse(await readFile(path.join(dir, f), 'utf8')) as AttemptRecord);
  }
  const obs: Observed = { now, units: [], records };
  if (o.kind !== 'TrainingRun') {
    const key = `${prefix}/tasks.jsonl`;
    const ids = (await readFile(path.join(storeRoot, key), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as TaskRecord).instance_id);
    obs.tasks = { ids, key };
  }
  const scores = records.find((r) => r.role === 'Verifier' && r.outcome === 'Succeeded');
  if (scores) obs.verifierScores = JSON.parse(await readFile(path.join(storeRoot, (scores.summary as { scores: string }).scores), 'utf8')).scores;
  return obs;
}

/** The status decide() gives a fresh copy of the object (no status) from the stored records alone. */
export async function replayStatus(o: Sandboxed, storeRoot: string): Promise<NonNullable<Sandboxed['status']>> {
  const obs = await storedObservation(o, storeRoot);
  const fresh = { ...o, status: undefined } as Sandboxed;
  return o.kind === 'RolloutBatch' ? decideRolloutBatch(fresh as RolloutBatch, obs).status : decideEvalSuite(fresh as EvalSuite, obs).status;
}

/**
 * A status without clock-dependent fields; with `prefix` (objectPrefix of its object), store keys
 * are written relative to it, so two runs of the same spec (different uids) compare equal.
 */
export function comparable(status: object, prefix?: string): Record<string, unknown> {
  const { startTime: _s, completionTime: _c, conditions, ...rest } = status as Record<string, unknown> & { conditions?: { type: string; status: string; reason: string }[] };
  const out = { ...rest, conditions: (conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason })).sort((a, b) => a.type.localeCompare(b.type)) };
  if (!prefix) return out;
  return JSON.parse(JSON.stringify(out).split(prefix).join('<prefix>')) as Record<string, unknown>;
}
