/**
 * The EvalSuite reconciler against a real API server (the test writes Pod status): N samples per
 * task in its own sandbox Pods, hybrid selection from the summaries (no verifier configured: the
 * verifier steps are skipped), pass@1 / pass@k / best@N / oracle gap and per-task selections in
 * status, the selected predictions in the store.
 */
import test from 'ava';
import { sumCounter } from '../../../operator/metrics/registry.ts';
import { adminClient, cluster, create, createNamespace, ES, get, identity, pods, startOperator, succeed, tempStore, waitFor, type Obj } from './helpers.ts';

test('N = 4 over 2 tasks: selection results, pass@k, best@N and oracle gap in status; selected predictions in the store', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'es');
  const { uri, store } = tempStore();
  const op = await startOperator(t, cp, ns);
  const suite: Obj = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'EvalSuite',
    metadata: { name: 'eval', namespace: ns },
    spec: {
      policy: { name: 'scripted', endpoint: { url: 'http://10.0.0.9:8000/v1' } },
      tasks: { builtin: { split: 'Eval' }, limit: 2 },
      samplesPerTask: 4,
      parallelism: 8,
      storage: { uri },
    },
  };
  await create(admin, ES, suite);
  const all = await waitFor('8 sandbox Pods', async () => {
    const ps = await pods(admin, ns);
    return ps.length === 8 && ps;
  });
  // Task 0: samples 1 and 3 resolve; sample 3 takes the most steps (the paper's last step picks it;
  // the selector never sees which resolved).
  // Task 1: nothing resolves.
  for (const p of all) {
    const id = identity(p);
    const taskIndex = Math.floor(id.index / 4);
    const resolved = taskIndex === 0 && (id.sample === 1 || id.sample === 3);
    await succeed(admin, store, p, { resolved, steps: 3 + id.sample, patch: `patch ${taskIndex}/${id.sample}\n` });
  }
  const es = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'eval', ES);
    return o.status?.phase === 'Succeeded' && o;
  }, 180_000);
  const s = es.status!;
  t.like(s.counts, { total: 8, completed: 8, resolved: 2, failed: 0 });
  t.is(s.metrics.pass1, 2 / 8);
  t.is(s.metrics.passAtN, 0.5, 'one of two tasks has a resolved candidate');
  t.is(s.metrics.bestAtN, 0.5, 'the selector picks the resolved, longest candidate of task 0');
  t.is(s.metrics.oracleGap, 0);
  t.deepEqual(s.metrics.passAtK.map((x: { k: number }) => x.k), [1, 2, 3, 4]);
  t.is(s.selections.length, 2);
  const sel0 = s.selections.find((x: { task: string }) => x.task === identity(all[0]).task);
  t.truthy(sel0);
  t.true(sel0.resolved);
  t.is(sel0.survivors[0], 4);
  t.truthy(s.predictions);
  const preds = (await store.getText(s.predictions)).trim().split('\n').map((l) => JSON.parse(l));
  t.is(preds.length, 2, 'one selected prediction per task');
  t.true(preds.some((p: { model_patch: string }) => p.model_patch === 'patch 0/3\n'), 'the picked patch of task 0 (most steps among the resolved)');
  t.true(Buffer.byteLength(JSON.stringify(es)) < 64 * 1024, 'the object stays small');
  t.is(await sumCounter(op.registry, 'entropo_best_at_n', (l) => l.name === 'eval'), 0.5);
  t.deepEqual(await pods(admin, ns), []);
});

test('with a verifier: a verifier Job scores the trajectories, its scores (keyed by trajectory id) drive the selection', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'es');
  const { uri, store } = tempStore();
  await startOperator(t, cp, ns);
  await create(admin, ES, {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'EvalSuite',
    metadata: { name: 'ver', namespace: ns },
    spec: {
      policy: { name: 'scripted', endpoint: { url: 'http://10.0.0.9:8000/v1' } },
      tasks: { builtin: { split: 'Eval' }, limit: 1 },
      samplesPerTask: 4,
      parallelism: 4,
      verifier: { model: { name: 'judge', endpoint: { url: 'http://10.0.0.8:8000/v1', apiKeySecretRef: { name: 'judge', key: 'token' } } } },
      selection: { pipeline: [{ type: 'Finished' }, { type: 'Regression', mode: 'AllPass' }, { type: 'VerifierThreshold', threshold: 0.01 }, { type: 'Steps', order: 'Most' }] },
      storage: { uri },
    },
  });
  const all = await waitFor('4 sandbox Pods', async () => {
    const ps = await pods(admin, ns);
    return ps.length === 4 && ps;
  });
  // Only sample 0 resolves, and it has the FEWEST steps: without the verifier the paper's
  // pipeline (most steps) would pick another; the verifier's scores keep only sample 0.
  for (const p of all) await succeed(admin, store, p, { resolved: identity(p).sample === 0, steps: 10 - identity(p).sample });
  const job = await waitFor('verifier Job', async () => (await admin.request<{ items: any[] }>('GET', `/apis/batch/v1/namespaces/${ns}/jobs`)).items[0]);
  const c = job.spec.template.spec.containers[0];
  t.deepEqual(c.args.slice(0, 2), ['verifier', 'score']);
  t.true(c.args.includes('--endpoint') && c.args.includes('judge'));
  t.deepEqual(c.env.find((e: { name: string }) => e.name === 'OPENAI_API_KEY').valueFrom, { secretKeyRef: { name: 'judge', key: 'token' } });
  // the Job reads and writes through the store (any backend): --store <uri> --out-key <key>
  t.is(c.args[c.args.indexOf('--store') + 1], uri);
  const scoresKey = c.args[c.args.indexOf('--out-key') + 1] as string;
  const lines = all.map((p) => JSON.stringify({ id: `${identity(p).task}/${identity(p).sample}/run`, taskId: identity(p).task, score: identity(p).sample === 0 ? 0.9 : 0.001 }));
  await store.put(scoresKey, lines.join('\n') + '\n');
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await admin.request('PATCH', `/apis/batch/v1/namespaces/${ns}/jobs/${job.metadata.name}/status`, {
    body: { status: { startTime: now, completionTime: now, succeeded: 1, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now }, { type: 'Complete', status: 'True', lastTransitionTime: now }] } },
    contentType: 'application/merge-patch+json',
  });
  const es = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'ver', ES);
    return o.status?.phase === 'Succeeded' && o;
  }, 180_000);
  t.is(es.status!.metrics.bestAtN, 1, 'the verifier kept the resolved candidate');
  t.is(es.status!.verifierScores, scoresKey);
  t.is(es.status!.selections[0].selected, `${identity(all.find((p) => identity(p).sample === 0)!).task}/0/run`);
});
