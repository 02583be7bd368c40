/**
 * A RolloutBatch whose storage is s3:// on the real node: a real S3-compatible server (versitygw,
 * test/s3) listening on the host address the node's Pods reach, a bucket, and the credentials in a
 * Secret. The operator (this repository's CLI) reads the Secret and writes the task list, records
 * and merged trajectories to the bucket; the sandbox Pods' prepare containers read the task list
 * and their grade containers write the trajectories there (the bundled runtime with the AWS SDK),
 * with the credentials from the Secret by reference. Nothing is mounted: no PersistentVolume.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadBuiltinSuite } from '../../operator/tasks/suite.ts';
import { S3Store } from '../../operator/store/s3-store.ts';
import { startS3Server } from '../s3/server.ts';
import { nodeCluster } from './cluster.ts';
import { REPO } from './images.ts';
import { patchingEndpoint, waitFinished } from './workloads.ts';
import { waitEstablished } from '../envtest/crds.ts';

const ok = (t: { is: (a: unknown, b: unknown, m?: string) => void }, r: { status: number; stderr: string; stdout: string }, what: string) => t.is(r.status, 0, `${what}: ${r.stderr || r.stdout}`);

test('a RolloutBatch on an s3:// store runs to Succeeded on the real node: sandboxes write their trajectories to the bucket', async (t) => {
  t.timeout(20 * 60_000);
  const c = await nodeCluster();
  const ns = await c.namespace('s3');
  ok(t, c.kubectl(['apply', '--server-side', '-f', join(REPO, 'crds')]), 'crds');
  waitEstablished((args) => c.kubectl(args));

  // The S3 server on the host address (the node's Pods reach it as they reach CoreDNS there).
  const s3 = await startS3Server({ host: c.hostIP });
  t.teardown(() => s3.stop());
  await s3.createBucket('e2e-artifacts');
  const uri = `s3://e2e-artifacts/${ns}`;
  const store = new S3Store(uri, s3.settings());
  ok(t, c.kubectl(['-n', ns, 'create', 'secret', 'generic', 's3-creds', `--from-literal=AWS_ACCESS_KEY_ID=${s3.accessKeyId}`, `--from-literal=AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey}`]), 'secret');

  // The scripted endpoint: resolves the first task, finishes the second unresolved.
  const tasks = (await loadBuiltinSuite({ split: 'all' })).filter((x) => x.language === 'python').slice(0, 2);
  const endpoint = await patchingEndpoint(c, ns, tasks.slice(0, 1));

  // The operator: this repository's CLI, one namespace, no store mount (the store is the bucket).
  const logDir = mkdtempSync(join('/tmp', 'entropo-e2e-s3-'));
  t.teardown(() => rmSync(logDir, { recursive: true, force: true }));
  const logFile = join(logDir, 'operator.log');
  const log = createWriteStream(logFile);
  const op = spawn(process.execPath, ['bin/entropo.js', 'operator', '--kubeconfig', c.kubeconfigPath, '--watch-namespace', ns, '--leader-elect=false', '--metrics-bind-address', '0', '--health-probe-bind-address', '0', '--operator-image', c.images.operator, '--sandbox-base-image', c.images.taskBase], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  op.stdout!.pipe(log);
  op.stderr!.pipe(log);
  t.teardown(() => void op.kill('SIGKILL'));

  const batch = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'RolloutBatch',
    metadata: { name: 'batch', namespace: ns },
    spec: {
      policy: { name: 'scripted', endpoint: { url: endpoint } },
      tasks: { builtin: { split: 'All' }, instanceIds: tasks.map((x) => x.instance_id) },
      samplesPerTask: 1,
      parallelism: 2,
      limits: { maxSteps: 5, timeoutSeconds: 300 },
      sandbox: { resources: { requests: { cpu: '50m', memory: '128Mi', 'ephemeral-storage': '100Mi' } } },
      storage: { uri, s3: { endpoint: s3.endpoint, region: s3.region, credentialsSecretRef: { name: 's3-creds' } } },
      startDeadlineSeconds: 180,
      backoffLimit: 1,
    },
  };
  ok(t, c.kubectl(['apply', '-f', '-'], stringify(batch)), 'RolloutBatch');

  const t0 = Date.now();
  // one sandbox Pod's spec as it ran (they are deleted once recorded)
  let sandboxPod: { spec: { initContainers: { name: string; env?: { name: string; value?: string; valueFrom?: unknown }[] }[] } } | undefined;
  const capture = () => {
    if (sandboxPod) return;
    const r = c.kubectl(['-n', ns, 'get', 'pods', '-l', 'entropo.dev/role=Sandbox', '-o', 'json']);
    if (r.status === 0) sandboxPod = JSON.parse(r.stdout).items[0];
  };
  const done = await waitFinished(c, ns, 'rolloutbatch', 'batch', 12 * 60_000, capture).catch((e: Error) => {
    t.log(readFileSync(logFile, 'utf8').slice(-4000));
    throw e;
  });
  t.log(`RolloutBatch ${done.status.phase} in ${Math.round((Date.now() - t0) / 1000)} s: ${done.status.message}`);
  if (done.status.phase !== 'Succeeded') {
    t.log(c.kubectl(['-n', ns, 'get', 'events', '--field-selector', 'type=Warning', '-o', 'custom-columns=OBJ:.involvedObject.name,REASON:.reason,MSG:.message']).stdout);
    for (const k of (await store.list('')).filter((x) => x.includes('/records/'))) t.log(await store.getText(k));
  }
  t.is(done.status.phase, 'Succeeded', JSON.stringify(done.status));
  t.like(done.status.counts, { total: 2, completed: 2, failed: 0, resolved: 1 });
  // every artifact is in the bucket: the sandboxes' trajectories, the operator's records and merge
  const keys = await store.list('');
  t.is(keys.filter((k) => /\/trajectories\/[^/]+\.json$/.test(k)).length, 2, keys.join('\n'));
  t.is(keys.filter((k) => k.includes('/records/')).length, 2, keys.join('\n'));
  const lines = (await store.getText(done.status.trajectories)).trim().split('\n').map((l) => JSON.parse(l) as { taskId: string; resolved: boolean });
  t.deepEqual(lines.map((l) => l.resolved).sort(), [false, true]);
  // the sandbox Pods had the credentials by reference only
  t.truthy(sandboxPod, 'a sandbox Pod was seen while it ran');
  t.false(JSON.stringify(sandboxPod).includes(s3.secretAccessKey), 'no secret text in the Pod spec');
  const prepare = sandboxPod!.spec.initContainers.find((x) => x.name === 'prepare')!;
  t.deepEqual(prepare.env!.find((e) => e.name === 'AWS_SECRET_ACCESS_KEY')!.valueFrom, { secretKeyRef: { name: 's3-creds', key: 'AWS_SECRET_ACCESS_KEY' } });
});
