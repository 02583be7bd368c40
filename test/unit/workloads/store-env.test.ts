import test, { type ExecutionContext } from 'ava';
import type { V1Container, V1EnvVar, V1PodSpec } from '@kubernetes/client-node';
import { storeEnv, storeEndpoint } from '../../../operator/workloads/store-env.ts';
import { sandboxPod } from '../../../operator/workloads/sandbox-pod.ts';
import { trainerJob } from '../../../operator/workloads/trainer-job.ts';
import { policyServerDeployment } from '../../../operator/workloads/policy-server.ts';
import { verifierJob } from '../../../operator/workloads/verifier-job.ts';

const storage = { uri: 's3://team-bucket/runs', s3: { endpoint: 'http://s3.storage.svc:9000', region: 'eu-west-1', forcePathStyle: true, credentialsSecretRef: { name: 's3-creds' } } };
const owner = { kind: 'RolloutBatch', namespace: 'team-a', name: 'rb1', uid: 'uid-1' };
const SECRET_TEXT = /AKIA|secret-value/;

test('storeEnv: settings as values, credentials by secretKeyRef (session token optional), nothing for pvc:// and file://', (t) => {
  t.deepEqual(storeEnv({ uri: 'pvc://claim' }), []);
  t.deepEqual(storeEnv({ uri: 'file:///x', s3: storage.s3 }), []);
  t.deepEqual(storeEnv(undefined), []);
  t.deepEqual(storeEnv(storage), [
    { name: 'AWS_ENDPOINT_URL_S3', value: 'http://s3.storage.svc:9000' },
    { name: 'AWS_REGION', value: 'eu-west-1' },
    { name: 'ENTROPO_S3_FORCE_PATH_STYLE', value: 'true' },
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_ACCESS_KEY_ID' } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_SECRET_ACCESS_KEY' } } },
    { name: 'AWS_SESSION_TOKEN', valueFrom: { secretKeyRef: { name: 's3-creds', key: 'AWS_SESSION_TOKEN', optional: true } } },
  ]);
  // no Secret: the default chain (IRSA, workload identity), no credential variables
  t.deepEqual(storeEnv({ uri: 's3://b-1' }), []);
  t.is(storeEndpoint(storage), 'http://s3.storage.svc:9000');
  t.is(storeEndpoint({ uri: 's3://b-1', s3: { region: 'eu-west-1' } }), 'https://s3.eu-west-1.amazonaws.com');
  t.is(storeEndpoint({ uri: 'pvc://claim' }), undefined);
});

const envOf = (c: V1Container): Record<string, V1EnvVar> => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));
function checkStoreContainer(t: ExecutionContext, c: V1Container, what: string): void {
  const env = envOf(c);
  t.is(env.AWS_ENDPOINT_URL_S3?.value, 'http://s3.storage.svc:9000', what);
  t.deepEqual(env.AWS_SECRET_ACCESS_KEY?.valueFrom, { secretKeyRef: { name: 's3-creds', key: 'AWS_SECRET_ACCESS_KEY' } }, what);
  t.is(env.AWS_SECRET_ACCESS_KEY?.value, undefined, what);
}
const noStoreVolume = (spec: V1PodSpec) => !(spec.volumes ?? []).some((v) => v.persistentVolumeClaim);

test('every workload that opens an s3:// store gets its settings by reference; the agent container gets none; no secret text in any spec', (t) => {
  const pod = sandboxPod(
    {
      name: 'rb1-0-a0', owner, index: 0, taskId: 't1', sample: 0, attempt: 0, tasksKey: 'k/tasks.jsonl',
      policy: { model: 'm', url: 'http://p:8000/v1' },
      sampling: { temperature: 1, topP: 1, topK: -1, maxTokensPerTurn: 16 },
      limits: { maxSteps: 1, maxTokens: 100, timeoutSeconds: 60, toolTimeoutSeconds: 10, toolCallFormat: 'Native' },
      sandbox: {}, storeUri: storage.uri, trajectoryKey: 'k/t.json', run: 'rb1', source: { kind: 'RolloutBatch', namespace: 'team-a', name: 'rb1' }, activeDeadlineSeconds: 100,
    },
    { operatorImage: 'op:1', baseImage: 'base:1', task: { format: 'self-contained' }, storage },
  );
  const all = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers];
  for (const n of ['prepare', 'prepare-grading', 'grade']) checkStoreContainer(t, all.find((c) => c.name === n)!, n);
  const agent = envOf(all.find((c) => c.name === 'agent')!);
  t.false(Object.keys(agent).some((k) => k.startsWith('AWS_')), 'the agent never gets store credentials');
  t.true(noStoreVolume(pod.spec!));

  const job = trainerJob(
    { name: 'tr-1', owner: { ...owner, kind: 'TrainingRun' }, iteration: 1, attempt: 0, trajectoriesKey: 'k/t.jsonl', init: 'builtin:tiny-coder', reference: 'builtin:tiny-coder', preference: {} as never, training: {} as never, storeUri: storage.uri, checkpointKey: 'k/ckpt', progressKey: 'k/p.json' },
    'op:1',
    storage,
  );
  checkStoreContainer(t, job.spec!.template.spec!.containers[0], 'trainer');
  t.true(noStoreVolume(job.spec!.template.spec!));

  const dep = policyServerDeployment({ name: 'ps-c1', owner: { ...owner, kind: 'TrainingRun' }, checkpoint: 1, model: 'm', source: 'store://k/ckpt/model', storeUri: storage.uri, replicas: 1 }, 'op:1', storage);
  checkStoreContainer(t, dep.spec!.template.spec!.containers[0], 'policy server');

  const v = verifierJob({ name: 'v-0', owner: { ...owner, kind: 'EvalSuite' }, attempt: 0, model: { name: 'v', source: 'store://k/verifier/model' }, storeUri: storage.uri, inputKey: 'evalsuites/ns/e/verifier/input.jsonl', outputKey: 'evalsuites/ns/e/verifier/scores.jsonl' }, 'op:1', storage);
  const vc = v.spec!.template.spec!.containers[0];
  checkStoreContainer(t, vc, 'verifier');
  t.deepEqual(vc.args, ['verifier', 'score', 'evalsuites/ns/e/trajectories', '--verifier', 'store://k/verifier/model', '--store', 's3://team-bucket/runs', '--out-key', 'evalsuites/ns/e/verifier/scores.jsonl']);

  for (const spec of [pod, job, dep, v]) t.notRegex(JSON.stringify(spec), SECRET_TEXT);
});
