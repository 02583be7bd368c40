/**
 * A sandbox Pod on the real node, laid out as ARCHITECTURE.md section 3 says: an init container
 * copies the agent runtime (Node and the sandbox bundle of the operator image) into an emptyDir, and the task
 * image (the task base image: python3, pytest, git) runs `entropo sandbox` from it, against a
 * scripted OpenAI-compatible endpoint served by another Pod (test/helpers/scripted-llm.ts run by
 * Node 24 of the operator image) behind a Service reached by its DNS name. The sandbox grades the
 * patch, writes the trajectory to the store (a hostPath directory) and its summary to the
 * termination message, which the test reads back from the Pod's status.
 */
import test from 'ava';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { TrajectoryRecord, TERMINATION_MESSAGE_LIMIT } from '../../operator/api/records.ts';
import { check } from '../../operator/api/validate.ts';
import { loadBuiltinSuite } from '../../operator/tasks/suite.ts';
import { RUNTIME_ENTRY, RUNTIME_MOUNT, RUNTIME_SOURCES } from '../../operator/workloads/sandbox-pod.ts';
import type { ScriptedReply } from '../helpers/scripted-llm.ts';
import { nodeCluster } from './cluster.ts';
import { REPO } from './images.ts';

/** The endpoint Pod's program: the scripted server on 0.0.0.0:8000, replies by turn. */
const SERVE = `import { readFileSync } from 'node:fs';
import { startScriptedLLM } from './scripted-llm.mts';
const script = JSON.parse(readFileSync('/llm/script.json', 'utf8'));
const llm = await startScriptedLLM((_req, turn) => script[turn] ?? { content: 'done' }, { host: '0.0.0.0', port: 8000 });
console.log('serving', llm.url);
`;

test('a sandbox Pod of the built-in suite runs entropo sandbox against an endpoint Pod by DNS name, grades, stores the trajectory, reports in its termination message', async (t) => {
  const c = await nodeCluster();
  const ns = await c.namespace('sandbox');
  const ok = (r: { status: number; stderr: string; stdout: string }, what: string) => t.is(r.status, 0, `${what}: ${r.stderr || r.stdout}`);

  // A Python task of the built-in suite; the scripted agent applies its gold patch with bash, then finishes.
  const task = (await loadBuiltinSuite({ split: 'eval' })).find((x) => x.language === 'python')!;
  const script: ScriptedReply[] = [
    { content: 'Applying the fix.', tool_calls: [{ name: 'execute_bash', arguments: { command: `patch -p1 <<'ENTROPO_PATCH'\n${task.patch}ENTROPO_PATCH` } }] },
    { content: 'Fixed.', tool_calls: [{ name: 'finish', arguments: { message: 'fixed' } }] },
  ];
  const store = mkdtempSync('/tmp/entropo-e2e-store-');
  chmodSync(store, 0o777);
  t.teardown(() => rmSync(store, { recursive: true, force: true }));

  const configMap = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
  const docs = [
    configMap('task', { 'task.json': JSON.stringify(task) }),
    configMap('llm', {
      'scripted-llm.mts': readFileSync(join(REPO, 'test', 'helpers', 'scripted-llm.ts'), 'utf8'),
      'serve.mts': SERVE,
      'script.json': JSON.stringify(script),
    }),
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'llm', labels: { app: 'llm' } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'llm',
            image: c.images.operator,
            command: ['/opt/entropo/bin/node', '/llm/serve.mts'],
            ports: [{ containerPort: 8000 }],
            readinessProbe: { tcpSocket: { port: 8000 }, periodSeconds: 1 },
            volumeMounts: [{ name: 'llm', mountPath: '/llm' }],
          },
        ],
        volumes: [{ name: 'llm', configMap: { name: 'llm' } }],
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'llm' }, spec: { selector: { app: 'llm' }, ports: [{ port: 8000, targetPort: 8000 }] } },
  ];
  ok(c.kubectl(['-n', ns, 'apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n')), 'endpoint');
  await c.waitForPodReady(ns, 'llm', 120_000);

  const sandbox = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'sandbox' },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      securityContext: { runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      initContainers: [
        {
          name: 'runtime',
          image: c.images.operator,
          command: ['cp', '-R', ...RUNTIME_SOURCES, `${RUNTIME_MOUNT}/`],
          volumeMounts: [{ name: 'runtime', mountPath: '/entropo' }],
        },
      ],
      containers: [
        {
          name: 'sandbox',
          image: c.images.taskBase,
          command: [`${RUNTIME_MOUNT}/bin/node`, `${RUNTIME_MOUNT}/${RUNTIME_ENTRY}`, 'sandbox'],
          env: [
            { name: 'PATH', value: '/entropo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
            { name: 'HOME', value: '/tmp' },
            { name: 'ENTROPO_TASK_FILE', value: '/task/task.json' },
            { name: 'ENTROPO_ENDPOINT', value: `http://llm.${ns}.svc.cluster.local:8000/v1` },
            { name: 'ENTROPO_API_KEY', value: 'none' },
            { name: 'ENTROPO_MODEL', value: 'scripted' },
            { name: 'ENTROPO_RUN', value: 'e2e' },
            { name: 'ENTROPO_LIMITS', value: JSON.stringify({ maxSteps: 10, timeoutSeconds: 300 }) },
            { name: 'ENTROPO_STORE_URI', value: 'file:///store' },
            { name: 'ENTROPO_SOURCE', value: JSON.stringify({ kind: 'RolloutBatch', namespace: ns, name: 'e2e', iteration: 0 }) },
          ],
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          volumeMounts: [
            { name: 'runtime', mountPath: '/entropo', readOnly: true },
            { name: 'task', mountPath: '/task', readOnly: true },
            { name: 'store', mountPath: '/store' },
          ],
        },
      ],
      volumes: [
        { name: 'runtime', emptyDir: {} },
        { name: 'task', configMap: { name: 'task' } },
        { name: 'store', hostPath: { path: store, type: 'Directory' } },
      ],
    },
  };
  const t0 = Date.now();
  ok(c.kubectl(['-n', ns, 'apply', '-f', '-'], stringify(sandbox)), 'sandbox Pod');
  const pod = await c.waitForPodPhase(ns, 'sandbox', ['Succeeded', 'Failed'], 300_000);
  const logs = await c.podLogs(ns, 'sandbox', 'sandbox').catch((e: Error) => e.message);
  const initLogs = await c.podLogs(ns, 'sandbox', 'runtime').catch((e: Error) => e.message);
  t.log(`sandbox Pod ${pod.status?.phase} in ${Date.now() - t0} ms`);
  t.is(pod.status?.phase, 'Succeeded', `init: ${JSON.stringify(pod.status?.initContainerStatuses)} ${initLogs.slice(-1000)}\nsandbox: ${logs.slice(-3000)}`);

  // The summary, from the Pod's status (what the operator reads).
  const message = pod.status?.containerStatuses?.find((s) => s.name === 'sandbox')?.state?.terminated?.message ?? '';
  t.true(Buffer.byteLength(message) <= TERMINATION_MESSAGE_LIMIT);
  const summary = JSON.parse(message);
  t.like(summary, { task: task.instance_id, sample: 0, finished: true, exit: 'finished', steps: 2, resolved: true, reward: 1 });
  t.is(summary.hidden.failed, 0);
  t.true(summary.hidden.passed >= task.FAIL_TO_PASS.length);
  t.is(summary.regression.failed, 0);

  // The trajectory, from the store.
  const stored = JSON.parse(readFileSync(join(store, summary.key), 'utf8'));
  t.true(check(TrajectoryRecord, stored).ok);
  t.is(stored.patchHash, summary.patchHash);
  t.deepEqual(stored.source, { kind: 'RolloutBatch', namespace: ns, name: 'e2e', iteration: 0 });
  t.true(stored.messages.some((m: { role: string; content?: string }) => m.role === 'tool'));
});
