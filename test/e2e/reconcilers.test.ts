/**
 * The RolloutBatch and EvalSuite reconcilers on the real node: `entropo operator` (this
 * repository, watching one namespace) creates real sandbox Pods (copy-runtime -> prepare -> agent
 * -> prepare-grading -> grade, in the operator and task base images built from the repository)
 * against a scripted OpenAI-compatible endpoint served by a Pod behind a Service; the artifact
 * store is a PersistentVolume (hostPath) claimed as `entropo-artifacts`, mounted by the sandboxes
 * and, at --store-mount, by the operator. Checks the counts, resolve rate and selection results in
 * status, and that a sandbox whose image cannot be pulled is retried and then counted as failed
 * (no sample), not as unresolved.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadBuiltinSuite } from '../../operator/tasks/suite.ts';
import { nodeCluster } from './cluster.ts';
import { REPO } from './images.ts';
import { waitEstablished } from '../envtest/crds.ts';
import { diagnose, hostStore, patchingEndpoint, waitFinished } from './workloads.ts';

const ok = (t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { status: number; stderr: string; stdout: string }, what: string) => t.is(r.status, 0, `${what}: ${r.stderr || r.stdout}`);

test('RolloutBatch 3 tasks x 2 and EvalSuite N = 4 run to Succeeded with real sandbox Pods; a missing image is retried, then no sample', async (t) => {
  t.timeout(30 * 60_000);
  const c = await nodeCluster();
  const ns = await c.namespace('rec');
  ok(t, c.kubectl(['apply', '--server-side', '-f', join(REPO, 'crds')]), 'crds');
  waitEstablished((args) => c.kubectl(args));

  // The store: a hostPath PersistentVolume bound to the claim the specs name.
  const { dir: store, cleanup } = hostStore(c, [ns], 'entropo-e2e-rec-store-');
  t.teardown(cleanup);

  // The scripted endpoint: resolves the first two tasks, finishes the third unresolved.
  const tasks = (await loadBuiltinSuite({ split: 'all' })).filter((x) => x.language === 'python').slice(0, 3);
  const endpoint = await patchingEndpoint(c, ns, tasks.slice(0, 2));

  // The operator: this repository's CLI, one namespace, the store at its mount point. umask 0:
  // directories it creates in the store must stay writable by the sandboxes' non-root uid.
  const log = createWriteStream(join(store, '..', `${ns}-operator.log`));
  const op = spawn('/bin/sh', ['-c', `umask 000; exec "${process.execPath}" bin/entropo.js operator --kubeconfig "${c.kubeconfigPath}" --watch-namespace ${ns} --leader-elect=false --metrics-bind-address 0 --health-probe-bind-address 0 --operator-image ${c.images.operator} --sandbox-base-image ${c.images.taskBase} --store-mount ${store}`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  op.stdout!.pipe(log);
  op.stderr!.pipe(log);
  t.teardown(() => void op.kill('SIGKILL'));

  const common = {
    policy: { name: 'scripted', endpoint: { url: endpoint } },
    limits: { maxSteps: 5, timeoutSeconds: 300 },
    sandbox: { resources: { requests: { cpu: '50m', memory: '128Mi', 'ephemeral-storage': '100Mi' } } },
    storage: { uri: 'pvc://entropo-artifacts' },
    // Generous: on a busy 2-core node a Pod may wait a while for its turn (the missing image: 60 s,
    // time for the set-up containers to run and the kubelet to report ErrImagePull).
    startDeadlineSeconds: 180,
    backoffLimit: 1,
  };
  const objects = [
    { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', metadata: { name: 'batch', namespace: ns }, spec: { ...common, tasks: { builtin: { split: 'All' }, instanceIds: tasks.map((x) => x.instance_id) }, samplesPerTask: 2, parallelism: 3 } },
    { apiVersion: 'entropo.dev/v1alpha1', kind: 'EvalSuite', metadata: { name: 'suite', namespace: ns }, spec: { ...common, tasks: { builtin: { split: 'All' }, instanceIds: [tasks[0].instance_id, tasks[2].instance_id] }, samplesPerTask: 4, parallelism: 3 } },
    { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', metadata: { name: 'noimage', namespace: ns }, spec: { ...common, tasks: { builtin: { split: 'All' }, instanceIds: [tasks[0].instance_id] }, samplesPerTask: 1, startDeadlineSeconds: 60, sandbox: { ...common.sandbox, image: 'entropo.local/does-not-exist:1' } } },
  ];
  ok(t, c.kubectl(['apply', '-f', '-'], objects.map((d) => stringify(d)).join('---\n')), 'objects');

  const t0 = Date.now();
  const batch = await waitFinished(c, ns, 'rolloutbatch', 'batch', 15 * 60_000).catch((e: Error) => {
    t.log(readFileSync(join(store, '..', `${ns}-operator.log`), 'utf8').slice(-4000));
    throw e;
  });
  t.log(`RolloutBatch ${batch.status.phase} in ${Math.round((Date.now() - t0) / 1000)} s: ${batch.status.message}`);
  if (batch.status.phase !== 'Succeeded') t.log(diagnose(c, ns, store));
  t.is(batch.status.phase, 'Succeeded', JSON.stringify(batch.status));
  t.like(batch.status.counts, { total: 6, completed: 6, failed: 0, resolved: 4 });
  t.is(batch.status.resolveRate, 4 / 6);
  const lines = readFileSync(join(store, batch.status.trajectories), 'utf8').trim().split('\n');
  t.is(lines.length, 6);

  const suite = await waitFinished(c, ns, 'evalsuite', 'suite', 15 * 60_000);
  t.is(suite.status.phase, 'Succeeded', JSON.stringify(suite.status));
  t.like(suite.status.counts, { total: 8, completed: 8, resolved: 4 });
  t.like(suite.status.metrics, { pass1: 0.5, passAtN: 0.5, bestAtN: 0.5, oracleGap: 0 });
  t.is(suite.status.selections.length, 2);
  t.true(suite.status.selections.find((s: { task: string }) => s.task === tasks[0].instance_id).resolved);

  const lost = await waitFinished(c, ns, 'rolloutbatch', 'noimage', 5 * 60_000);
  t.is(lost.status.phase, 'Failed');
  t.like(lost.status.counts, { total: 1, completed: 0, failed: 1, retries: 1, resolved: 0 });
  t.is(lost.status.resolveRate, undefined, 'no sample: not a resolve rate of 0');
  const events = JSON.parse(c.kubectl(['-n', ns, 'get', 'events', '-o', 'json']).stdout).items as { reason: string; message: string; involvedObject: { name: string } }[];
  t.true(events.some((e) => e.involvedObject.name === 'noimage' && e.reason === 'SandboxFailed' && /ErrImagePull|ImagePullBackOff/.test(e.message)), 'the image-pull failure is an Event');
  // The operator writes status before it deletes finished Pods: the last one goes a moment later.
  let left: string[] = [];
  for (let i = 0; i < 60; i++) {
    left = JSON.parse(c.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=entropo-operator', '-o', 'json']).stdout).items.map((p: { metadata: { name: string } }) => p.metadata.name);
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  t.deepEqual(left, [], 'every sandbox Pod deleted once recorded');
});
