/**
 * The CRDs on a real kube-apiserver, driven with the real kubectl: examples apply, invalid
 * manifests are rejected naming the field, explain / get show descriptions and columns, status
 * is written only through /status, and the experiment fields freeze once a run has started.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { testCluster } from '../helpers/cluster.ts';
import { INVALID_CASES, PARITY_CASES, baseTrainingRun } from '../fixtures/api/invalid-cases.ts';

const GROUP = 'entropo.dev';
const VERSION = 'v1alpha1';

test.after.always(async () => (await testCluster()).stop());

const json = (o: unknown) => JSON.stringify(o);

test('every example in manifests/examples is accepted by kubectl apply --server-side', async (t) => {
  const c = await testCluster();
  const ns = await c.namespace('examples');
  const files = readdirSync('manifests/examples').filter((f) => f.endsWith('.yaml'));
  t.true(files.length >= 4);
  for (const f of files) {
    const r = c.kubectl(['apply', '--server-side', '-n', ns, '-f', `manifests/examples/${f}`]);
    t.is(r.status, 0, `${f}: ${r.stderr}`);
    t.regex(r.stdout, /serverside-applied/);
  }
  const got = c.kubectl(['get', 'entropo', '-n', ns, '-o', 'name']);
  t.is(got.stdout.trim().split('\n').length, files.length, 'the entropo category lists every example');
});

// One namespace and one kubectl call per case; the API server's message must name the field.
for (const c of INVALID_CASES) {
  test(`the API server rejects: ${c.name}`, async (t) => {
    const cluster = await testCluster();
    const ns = await cluster.namespace('invalid');
    const r = cluster.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], json(c.object));
    t.not(r.status, 0, `accepted: ${json(c.object)}`);
    // kube-apiserver names fields as spec.selection.pipeline[0].type
    t.true(r.stderr.includes(c.field), `message does not name ${c.field}: ${r.stderr}`);
  });
}

// The same table runs through entropo validate's decision in test/unit/api/manifests.test.ts.
for (const c of PARITY_CASES) {
  test(`the API server decides as entropo validate: ${c.name}`, async (t) => {
    const cluster = await testCluster();
    const ns = await cluster.namespace('parity');
    const r = cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-n', ns, '-f', '-'], c.yaml);
    if (c.valid) t.is(r.status, 0, r.stderr);
    else {
      t.not(r.status, 0, `accepted: ${c.yaml}`);
      t.true(r.stderr.includes(c.field!), `message does not name ${c.field}: ${r.stderr}`);
    }
  });
}

test('kubectl explain documents the API', async (t) => {
  const c = await testCluster();
  const zeta = c.kubectl(['explain', 'trainingrun.spec.preference.zeta']);
  t.is(zeta.status, 0, zeta.stderr);
  t.regex(zeta.stdout, /inverse temperature of the implicit reward/);
  const sel = c.kubectl(['explain', 'evalsuite.spec.selection.pipeline.type']);
  t.regex(sel.stdout, /VerifierThreshold/);
  const rb = c.kubectl(['explain', 'rb.spec.sandbox.runtimeClassName']);
  t.regex(rb.stdout, /gVisor/);
  // defaults and bounds are in the descriptions, which is what explain shows
  const temp = c.kubectl(['explain', 'evs.spec.sampling.temperature']);
  t.regex(temp.stdout, /Default 0\.7; 0 to 2\./);
  const topP = c.kubectl(['explain', 'trun.spec.rollout.sampling.topP']);
  t.regex(topP.stdout, /Default 0\.8; > 0 and <= 1\./);
});

test('kubectl get shows the printer columns; short names and the category work', async (t) => {
  const c = await testCluster();
  const ns = await c.namespace('columns');
  const tr = { ...baseTrainingRun(), metadata: { name: 'cols' } };
  t.is(c.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], json(tr)).status, 0);
  const patch = json({ status: { phase: 'Running', iteration: 1, progress: '1/2 Training step 3/12', metrics: { pass1: 0.25, bestAtN: 0.5 } } });
  const p = c.kubectl(['patch', 'trun', 'cols', '-n', ns, '--subresource=status', '--type=merge', '-p', patch]);
  t.is(p.status, 0, p.stderr);
  const get = c.kubectl(['get', 'trun', '-n', ns]);
  t.is(get.status, 0, get.stderr);
  const [header, row] = get.stdout.trim().split('\n');
  t.deepEqual(header.split(/\s+/), ['NAME', 'PHASE', 'ITERATION', 'PROGRESS', 'PASS@1', 'BEST@N', 'AGE']);
  t.regex(row, /^cols\s+Running\s+1\s+1\/2 Training step 3\/12\s+0\.25\s+0\.5\s+\d+s$/);
  const wide = c.kubectl(['get', 'trun', '-n', ns, '-o', 'wide']).stdout.trim().split('\n');
  t.deepEqual(wide[0].split(/\s+/), ['NAME', 'PHASE', 'ITERATION', 'PROGRESS', 'PASS@1', 'BEST@N', 'OF', 'ALGORITHM', 'ENTROPY', 'AGE']);
  t.regex(wide[1], /\s2\s+KTO\s/);
  t.is(c.kubectl(['get', 'trainingruns.entropo.dev', 'cols', '-n', ns, '-o', 'name']).stdout.trim(), 'trainingrun.entropo.dev/cols');
  t.regex(c.kubectl(['get', 'evalsuites', '-n', ns]).stderr, /No resources found/);
  t.regex(c.kubectl(['get', 'evs', '-n', ns]).stderr, /No resources found/);
  // tr (Tekton TaskRun) and es (ECK Elasticsearch) are left to those projects.
  for (const taken of ['tr', 'es']) t.regex(c.kubectl(['get', taken, '-n', ns]).stderr, /doesn't have a resource type/);
});

test('condition types follow metav1.Condition\'s pattern; phase is only a summary of them', async (t) => {
  const c = await testCluster();
  const ns = await c.namespace('conditions');
  const tr = { ...baseTrainingRun(), metadata: { name: 'cond' } };
  t.is(c.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], json(tr)).status, 0);
  const cond = (type: string) => ({ type, status: 'True', reason: 'Started', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' });
  const bad = c.kubectl(['patch', 'trun', 'cond', '-n', ns, '--subresource=status', '--type=merge', '-p', json({ status: { conditions: [cond('not a type')] } })]);
  t.not(bad.status, 0);
  t.regex(bad.stderr, /status\.conditions\[0\]\.type/);
  const good = c.kubectl(['patch', 'trun', 'cond', '-n', ns, '--subresource=status', '--type=merge', '-p', json({ status: { phase: 'Running', conditions: [cond('Running'), cond('example.com/Custom')] } })]);
  t.is(good.status, 0, good.stderr);
  const wait = c.kubectl(['wait', 'trun/cond', '-n', ns, '--for=condition=Running', '--timeout=30s']);
  t.is(wait.status, 0, wait.stderr);
});

test('status is written only through /status; the main resource ignores it', async (t) => {
  const c = await testCluster();
  const ns = await c.namespace('status');
  const api = c.kc.makeApiClient(k8s.CustomObjectsApi);
  const body = { ...baseTrainingRun(), metadata: { name: 'st' }, status: { phase: 'Succeeded' } };
  const created = (await api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: 'trainingruns', body })) as any;
  t.is(created.status, undefined, 'status in a create is dropped');
  t.is(created.metadata.generation, 1);

  // An update of the main resource that changes status: status is ignored.
  created.status = { phase: 'Failed' };
  const updated = (await api.replaceNamespacedCustomObject({
    group: GROUP, version: VERSION, namespace: ns, plural: 'trainingruns', name: 'st', body: created,
  })) as any;
  t.is(updated.status, undefined);

  // Through /status it is written, and spec changes sent there are ignored.
  updated.status = { phase: 'Running', iteration: 1 };
  updated.spec.iterations = 7;
  const viaStatus = (await api.replaceNamespacedCustomObjectStatus({
    group: GROUP, version: VERSION, namespace: ns, plural: 'trainingruns', name: 'st', body: updated,
  })) as any;
  t.is(viaStatus.status.phase, 'Running');
  t.is(viaStatus.spec.iterations, 2);
  t.is(viaStatus.metadata.generation, 1, 'a status write does not bump generation');
});

test('experiment fields are immutable once the run has started; suspend is not', async (t) => {
  const c = await testCluster();
  const ns = await c.namespace('immutable');
  const tr = { ...baseTrainingRun(), metadata: { name: 'imm' } };
  t.is(c.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], json(tr)).status, 0);
  // While Pending (no status) the spec may change.
  t.is(c.kubectl(['patch', 'trun', 'imm', '-n', ns, '--type=merge', '-p', json({ spec: { preference: { zeta: 0.12 } } })]).status, 0);
  t.is(c.kubectl(['patch', 'trun', 'imm', '-n', ns, '--subresource=status', '--type=merge', '-p', json({ status: { phase: 'Running' } })]).status, 0);
  const change = c.kubectl(['patch', 'trun', 'imm', '-n', ns, '--type=merge', '-p', json({ spec: { preference: { zeta: 0.2 } } })]);
  t.not(change.status, 0);
  t.regex(change.stderr, /spec\.preference is immutable once the run has started/);
  t.regex(change.stderr, /spec\.preference: Invalid value/, 'the error names the field, not <nil>');
  t.notRegex(change.stderr, /<nil>/);
  const suspend = c.kubectl(['patch', 'trun', 'imm', '-n', ns, '--type=merge', '-p', json({ spec: { suspend: true } })]);
  t.is(suspend.status, 0, suspend.stderr);
  const zeta = c.kubectl(['get', 'trun', 'imm', '-n', ns, '-o', 'jsonpath={.spec.preference.zeta} {.spec.suspend}']);
  t.is(zeta.stdout, '0.12 true', 'nothing already stored was lost');
});

test('the API server applies the schema defaults (paper values)', async (t) => {
  const c = await testCluster();
  const ns = await c.namespace('defaults');
  const tr = { ...baseTrainingRun(), metadata: { name: 'def' } };
  t.is(c.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], json(tr)).status, 0);
  const got = JSON.parse(c.kubectl(['get', 'trun', 'def', '-n', ns, '-o', 'json']).stdout);
  t.is(got.spec.preference.zeta, 0.11);
  t.is(got.spec.preference.gamma, 0.1);
  t.is(got.spec.preference.kto.referencePoint, 'Exact');
  t.is(got.spec.rollout.sampling.temperature, 0.7);
  t.is(got.spec.rollout.sampling.topK, 20);
  t.is(got.spec.training.lora.rank, 8);
  t.deepEqual(got.spec.evaluation.selection, { seed: 0 }, 'an unset pipeline stays unset (resolved by whether a verifier is set)');
  t.is(got.spec.startDeadlineSeconds, 300);
});
