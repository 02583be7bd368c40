/**
 * The operator killed (SIGKILL, a real `entropo operator` process) at random points of a batch,
 * while the test plays the kubelet and finishes sandbox Pods at random times: whatever instant
 * the operator dies at (creating Pods, between storing a summary and deleting its Pod, writing
 * status), the batch ends with the same status as an undisturbed one, every unit has exactly one
 * attempt (no duplicate Pod, no retry), one stored record, and no Pod is left behind.
 */
import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import { mulberry32 } from '../../../operator/util/random.ts';
import { readyz, startOperator as startOperatorProcess, type OperatorProcess } from '../runtime/helpers.ts';
import { adminClient, cluster, create, createNamespace, get, identity, pods, RB, rolloutBatch, succeed, tempStore, waitFor } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGKILL of the operator at 6 random points of an 8-rollout batch: same final status, one attempt and one record per unit, no Pod left', async (t) => {
  t.timeout(8 * 60_000);
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'kill');
  const { uri, store } = tempStore();
  const random = mulberry32(20261129);
  const args = ['--watch-namespace', ns, '--leader-elect=false', '--operator-image', 'entropo.local/operator:test', '--sandbox-base-image', 'entropo.local/task-base:test'];

  await create(admin, RB, rolloutBatch(ns, 'killed', uri, { tasks: { builtin: { split: 'All' }, limit: 4 }, samplesPerTask: 2, parallelism: 3 }));

  // Every sandbox Pod ever seen, by name (the names carry the attempt: <batch>-<index>-a<attempt>).
  const seen = new Map<string, V1Pod>();
  const finished = new Set<string>();
  let stop = false;
  // The kubelet: polls the Pods, finishes one at random now and then (even indexes resolve).
  const kubelet = (async () => {
    while (!stop) {
      for (const p of await pods(admin, ns).catch(() => [] as V1Pod[])) seen.set(p.metadata!.name!, p);
      const open = [...seen.values()].filter((p) => !finished.has(p.metadata!.name!));
      const live = new Set((await pods(admin, ns).catch(() => [] as V1Pod[])).map((p) => p.metadata!.name!));
      const candidates = open.filter((p) => live.has(p.metadata!.name!));
      if (candidates.length && random() < 0.5) {
        const p = candidates[Math.floor(random() * candidates.length)];
        finished.add(p.metadata!.name!);
        await succeed(admin, store, p, { resolved: identity(p).index % 2 === 0 }).catch(() => finished.delete(p.metadata!.name!));
      }
      await sleep(100 + random() * 400);
    }
  })();

  // The killer: 6 lives of 0.2-3 s each after the operator is ready (caches synced, reconciling),
  // SIGKILL at the end of each.
  const kills: number[] = [];
  for (let life = 0; life < 6; life++) {
    const op: OperatorProcess = await startOperatorProcess(t, cp, args);
    await waitFor('operator ready', async () => (await readyz(op.healthPort)) === 200, 60_000, 100);
    const ms = Math.round(200 + random() * 2800);
    await sleep(ms);
    op.child.kill('SIGKILL');
    await op.exited;
    kills.push(ms);
  }
  t.log(`killed ${kills.join(', ')} ms after ready; Pods finished by then: ${finished.size} of 8`);

  // The last life runs to the end.
  await startOperatorProcess(t, cp, args);
  const done = await waitFor(
    'Succeeded',
    async () => {
      const o = await get(admin, ns, 'killed');
      return o.status?.phase === 'Succeeded' && o;
    },
    180_000,
    250,
  );
  stop = true;
  await kubelet;

  t.like(done.status!.counts, { total: 8, completed: 8, resolved: 4, failed: 0, retries: 0 });
  t.is(done.status!.resolveRate, 0.5);
  // One attempt per unit: every Pod ever seen is attempt 0, one per index.
  const names = [...seen.keys()].sort();
  t.true(names.every((n) => n.endsWith('-a0')), names.join(' '));
  t.deepEqual(names.map((n) => identity(seen.get(n)!).index).sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  // One record per unit, each the Succeeded outcome with the summary the kubelet wrote.
  const prefix = done.status!.records as string;
  const records = await store.list(prefix);
  t.is(records.length, 8, records.join(' '));
  for (const k of records) {
    const r = JSON.parse(await store.getText(k));
    t.is(r.outcome, 'Succeeded', k);
    t.is(r.summary.resolved, r.index % 2 === 0, k);
  }
  // Nothing left behind; the merged trajectories hold the 8 rollouts.
  await waitFor('no Pod left', async () => (await pods(admin, ns)).length === 0, 180_000);
  t.is((await store.getText(done.status!.trajectories)).trim().split('\n').length, 8);
});
