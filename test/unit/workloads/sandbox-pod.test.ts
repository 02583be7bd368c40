import test from 'ava';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { sandboxPod, type SandboxPodInput, type SandboxPodEnv } from '../../../operator/workloads/sandbox-pod.ts';
import { sweBenchImage, sandboxImage } from '../../../operator/workloads/swebench.ts';
import { sandboxNetworkPolicy, egressTo } from '../../../operator/workloads/network-policy.ts';
import { dnsName, labelValue } from '../../../operator/workloads/labels.ts';

const unit = (over: Partial<SandboxPodInput> = {}): SandboxPodInput => ({
  name: 'rb1-5-a1',
  owner: { kind: 'RolloutBatch', namespace: 'team-a', name: 'rb1', uid: 'uid-1' },
  index: 5,
  taskId: 'django__django-11099',
  sample: 1,
  attempt: 1,
  tasksKey: 'rolloutbatches/team-a/rb1-uid1/tasks.jsonl',
  policy: { model: 'tiny-coder', url: 'http://policy.team-a.svc:8000/v1', apiKeySecretRef: { name: 'llm', key: 'token' } },
  sampling: { temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 4096 },
  limits: { maxSteps: 200, maxTokens: 131072, timeoutSeconds: 3600, toolTimeoutSeconds: 120, toolCallFormat: 'Native' },
  sandbox: { network: 'PolicyOnly', runAsNonRoot: true, runtimeClassName: 'gvisor', nodeSelector: { pool: 'sandbox' }, tolerations: [{ key: 'sandbox', operator: 'Exists' }], env: [{ name: 'FOO', value: 'bar' }] },
  storeUri: 'pvc://entropo-artifacts/runs',
  trajectoryKey: 'rolloutbatches/team-a/rb1-uid1/trajectories/rb1-5-a1.json',
  run: 'rb1',
  source: { kind: 'RolloutBatch', namespace: 'team-a', name: 'rb1' },
  activeDeadlineSeconds: 4500,
  queueName: 'team-a-queue',
  priorityClassName: 'low',
  ...over,
});
const env = (over: Partial<SandboxPodEnv['task']> = {}): SandboxPodEnv => ({
  operatorImage: 'entropo/operator:0.1.0',
  baseImage: 'entropo/sandbox-base:0.1.0',
  task: { format: 'swe-bench', ...over },
});
const containers = (p: V1Pod): V1Container[] => [...(p.spec!.initContainers ?? []), ...p.spec!.containers];
const byName = (p: V1Pod, n: string) => containers(p).find((c) => c.name === n)!;
const envOf = (c: V1Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

test('SWE-bench images: the published name with __ written _1776_, lower case; never the harness\'s local tag', (t) => {
  t.is(sweBenchImage('django__django-11099'), 'swebench/sweb.eval.x86_64.django_1776_django-11099:latest');
  t.is(sweBenchImage('astropy__astropy-12907'), 'swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest');
  t.is(sweBenchImage('Sympy__sympy-20590'), 'swebench/sweb.eval.x86_64.sympy_1776_sympy-20590:latest');
  const cases: [Parameters<typeof sandboxImage>[0], string | undefined, string][] = [
    [{ id: 'a__b-1', format: 'swe-bench' }, undefined, 'swebench/sweb.eval.x86_64.a_1776_b-1:latest'],
    [{ id: 'a__b-1', format: 'swe-bench', image: 'mirror/x:1' }, undefined, 'mirror/x:1'],
    [{ id: 'a__b-1', format: 'swe-bench' }, 'override:2', 'override:2'],
    [{ id: 'csv-1', format: 'self-contained' }, undefined, 'base:1'],
  ];
  for (const [task, override, want] of cases) t.is(sandboxImage(task, override, 'base:1'), want);
});

test('the sandbox Pod: name, owner, labels, hardening, limits, scheduling, Kueue, deadline', (t) => {
  const p = sandboxPod(unit(), env());
  t.is(p.metadata!.name, 'rb1-5-a1');
  t.is(p.metadata!.namespace, 'team-a');
  t.deepEqual(p.metadata!.ownerReferences, [{ apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', name: 'rb1', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
  t.like(p.metadata!.labels, {
    'app.kubernetes.io/managed-by': 'entropo-operator',
    'entropo.dev/owner': 'rb1',
    'entropo.dev/owner-kind': 'rolloutbatch',
    'entropo.dev/owner-uid': 'uid-1',
    'entropo.dev/role': 'Sandbox',
    'entropo.dev/index': '5',
    'entropo.dev/task': 'django__django-11099',
    'entropo.dev/sample': '1',
    'entropo.dev/attempt': '1',
    'kueue.x-k8s.io/queue-name': 'team-a-queue',
  });
  t.is(p.metadata!.annotations!['entropo.dev/task-id'], 'django__django-11099');
  const s = p.spec!;
  t.is(s.restartPolicy, 'Never');
  t.false(s.automountServiceAccountToken);
  t.false(s.enableServiceLinks);
  t.is(s.activeDeadlineSeconds, 4500);
  t.is(s.runtimeClassName, 'gvisor');
  t.deepEqual(s.nodeSelector, { pool: 'sandbox' });
  t.deepEqual(s.tolerations, [{ key: 'sandbox', operator: 'Exists' }]);
  t.is(s.priorityClassName, 'low');
  t.deepEqual(s.securityContext!.seccompProfile, { type: 'RuntimeDefault' });
  t.deepEqual(containers(p).map((c) => c.name), ['copy-runtime', 'prepare', 'agent', 'prepare-grading', 'grade']);
  for (const c of containers(p)) {
    t.false(c.securityContext!.allowPrivilegeEscalation, c.name);
    t.deepEqual(c.securityContext!.capabilities!.drop, ['ALL'], c.name);
    for (const r of ['cpu', 'memory', 'ephemeral-storage']) t.truthy(c.resources!.limits![r], `${c.name} limit ${r}`);
    t.is(envOf(c).TZ, 'UTC', c.name);
    t.is(envOf(c).PYTHONHASHSEED, '0', c.name);
  }
});

test('phases: images, commands, what each container sees (the agent: no task, no store; the key by valueFrom only)', (t) => {
  const p = sandboxPod(unit(), env());
  const copy = byName(p, 'copy-runtime');
  t.is(copy.image, 'entropo/operator:0.1.0');
  // Node and the sandbox bundle only, not the operator's install.
  t.deepEqual(copy.command, ['cp', '-R', '/opt/entropo/bin', '/opt/entropo/sandbox', '/entropo/']);
  const prepare = byName(p, 'prepare');
  t.deepEqual(prepare.args, ['sandbox', 'prepare']);
  t.like(envOf(prepare), { ENTROPO_TASK_KEY: 'rolloutbatches/team-a/rb1-uid1/tasks.jsonl', ENTROPO_TASK_ID: 'django__django-11099', ENTROPO_STORE_URI: 'pvc://entropo-artifacts/runs', ENTROPO_WORKSPACE: '/workspace', ENTROPO_REPO_DIR: '/testbed' });

  const agent = byName(p, 'agent');
  t.is(agent.image, 'swebench/sweb.eval.x86_64.django_1776_django-11099:latest');
  t.deepEqual(agent.command, ['/entropo/bin/node', '/entropo/sandbox/entropo-sandbox.mjs', 'sandbox', 'agent']);
  const ae = envOf(agent);
  t.like(ae, { ENTROPO_ENDPOINT: 'http://policy.team-a.svc:8000/v1', ENTROPO_MODEL: 'tiny-coder', ENTROPO_SAMPLE: '1', ENTROPO_RUN: 'rb1', FOO: 'bar' });
  t.deepEqual(ae.ENTROPO_API_KEY, { secretKeyRef: { name: 'llm', key: 'token' } });
  for (const hidden of ['ENTROPO_TASK_KEY', 'ENTROPO_TASK_FILE', 'ENTROPO_STORE_URI', 'ENTROPO_HIDDEN', 'ENTROPO_TRAJECTORY_KEY']) t.false(hidden in ae, `agent must not get ${hidden}`);
  t.deepEqual(agent.volumeMounts!.map((m) => m.name).sort(), ['runtime', 'workspace']);
  t.is(agent.terminationMessagePolicy, 'File');
  // The key never appears as text anywhere in the Pod.
  t.false(JSON.stringify(p).includes('"name":"ENTROPO_API_KEY","value"'));
  for (const c of containers(p)) if (c.name !== 'agent') t.false('ENTROPO_API_KEY' in envOf(c), `${c.name} gets no API key`);

  const pg = byName(p, 'prepare-grading');
  t.deepEqual(pg.volumeMounts!.map((m) => m.name).sort(), ['hidden', 'store']);
  const grade = byName(p, 'grade');
  t.is(grade.image, agent.image);
  t.is(grade.terminationMessagePolicy, 'File');
  t.is(grade.terminationMessagePath, '/dev/termination-log');
  t.like(envOf(grade), { ENTROPO_HIDDEN: '/hidden', ENTROPO_TRAJECTORY_KEY: 'rolloutbatches/team-a/rb1-uid1/trajectories/rb1-5-a1.json', ENTROPO_TERMINATION_LOG: '/dev/termination-log' });
  t.true(grade.volumeMounts!.find((m) => m.name === 'hidden')!.readOnly);
  t.deepEqual(p.spec!.volumes!.find((v) => v.name === 'store')!.persistentVolumeClaim, { claimName: 'entropo-artifacts' });
});

test('runAsNonRoot where the image allows: self-contained tasks yes, SWE-bench images no, off when asked', (t) => {
  const nonRoot = (p: V1Pod) => p.spec!.securityContext!.runAsNonRoot === true && byName(p, 'agent').securityContext!.runAsUser === 65532;
  t.false(nonRoot(sandboxPod(unit(), env())), 'SWE-bench /testbed is root-owned');
  const sc = sandboxPod(unit({ taskId: 'csv-1' }), env({ format: 'self-contained' }));
  t.true(nonRoot(sc));
  t.is(byName(sc, 'agent').image, 'entropo/sandbox-base:0.1.0');
  t.is(envOf(byName(sc, 'prepare')).ENTROPO_REPO_DIR, '/workspace/repo');
  t.false(nonRoot(sandboxPod(unit({ taskId: 'csv-1', sandbox: { runAsNonRoot: false } }), env({ format: 'self-contained' }))));
  // Helpers in the operator image always run as non-root.
  for (const n of ['copy-runtime', 'prepare', 'prepare-grading']) t.true(byName(sandboxPod(unit(), env()), n).securityContext!.runAsNonRoot);
  // No API key secret: no ENTROPO_API_KEY at all; s3 store: no volume.
  const bare = sandboxPod(unit({ policy: { model: 'm', url: 'http://10.0.0.5:8000/v1' }, storeUri: 's3://bucket/p', queueName: undefined }), env());
  t.false('ENTROPO_API_KEY' in envOf(byName(bare, 'agent')));
  t.falsy(bare.spec!.volumes!.find((v) => v.name === 'store'));
  t.false('kueue.x-k8s.io/queue-name' in bare.metadata!.labels!);
});

test('NetworkPolicy per batch: egress only to the endpoint (IP, Service, host name) and DNS; none without DNS; unrestricted: none', (t) => {
  const owner = { kind: 'RolloutBatch', name: 'rb1', ref: { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', name: 'rb1', uid: 'u', controller: true, blockOwnerDeletion: true } };
  const np = sandboxNetworkPolicy({ name: 'rb1-sandbox', namespace: 'team-a', owner, network: 'PolicyOnly', endpoints: ['http://policy.team-a.svc:8000/v1'], servedBy: { 'entropo.dev/role': 'PolicyServer' } })!;
  t.deepEqual(np.spec!.policyTypes, ['Ingress', 'Egress']);
  t.deepEqual(np.spec!.ingress, []);
  t.deepEqual(np.spec!.podSelector!.matchLabels, { 'entropo.dev/owner': 'rb1', 'entropo.dev/owner-kind': 'rolloutbatch', 'app.kubernetes.io/component': 'sandbox' });
  t.is(np.spec!.egress!.length, 2);
  t.deepEqual(np.spec!.egress![0], {
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } }, podSelector: { matchLabels: { 'entropo.dev/role': 'PolicyServer' } } }],
    ports: [{ protocol: 'TCP', port: 8000 }],
  });
  t.deepEqual(np.spec!.egress![1].ports, [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
  t.deepEqual(egressTo('http://10.1.2.3:8000/v1', 'x'), { to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: [{ protocol: 'TCP', port: 8000 }] });
  t.deepEqual(egressTo('https://api.example.com/v1', 'x'), { ports: [{ protocol: 'TCP', port: 443 }] });
  t.deepEqual(egressTo('http://vllm:8000/v1', 'ns1').to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ns1' } } }]);
  const none = sandboxNetworkPolicy({ name: 'n', namespace: 'x', owner, network: 'None', endpoints: ['http://10.1.2.3:8000/v1'] })!;
  t.is(none.spec!.egress!.length, 1);
  t.is(sandboxNetworkPolicy({ name: 'n', namespace: 'x', owner, network: 'Unrestricted', endpoints: [] }), undefined);
});

test('names and label values stay valid and distinct when long or unusual', (t) => {
  t.is(labelValue('django__django-11099'), 'django__django-11099');
  const long = labelValue('a'.repeat(100));
  t.true(long.length <= 63);
  t.not(long, labelValue(`${'a'.repeat(99)}b`));
  t.regex(labelValue('owner/repo#12'), /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/);
  t.is(dnsName(['rb1', 'policy']), 'rb1-policy');
  const d = dnsName(['X'.repeat(80), 'tail']);
  t.true(d.length <= 63);
  t.regex(d, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
});
