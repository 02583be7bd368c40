import test from 'ava';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import { observeSandboxPod, parseTerminationMessage } from '../../../operator/workloads/pod-state.ts';

const T0 = '2026-11-29T10:00:00Z';
const summary = { v: 1, task: 't1', sample: 0, trajectory: 't1/0/rb', key: 'k', finished: true, exit: 'finished', steps: 3, tokens: 10, seconds: 1, patchHash: 'h', regression: { passed: 1, failed: 0 }, hidden: { passed: 1, failed: 0 }, resolved: true, reward: 1 };
const waiting = (name: string, reason: string, message = `${reason} details`): V1ContainerStatus => ({ name, image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message } } });
const running = (name: string): V1ContainerStatus => ({ name, image: 'i', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date('2026-11-29T10:00:05Z') } } });
const done = (name: string, exitCode: number, message?: string, reason = exitCode === 0 ? 'Completed' : 'Error'): V1ContainerStatus => ({
  name, image: 'i', imageID: '', ready: false, restartCount: 0,
  state: { terminated: { exitCode, reason, ...(message !== undefined ? { message } : {}), startedAt: new Date('2026-11-29T10:00:05Z'), finishedAt: new Date('2026-11-29T10:01:00Z') } },
});
const pod = (status: V1Pod['status'], meta: Partial<NonNullable<V1Pod['metadata']>> = {}): V1Pod => ({ metadata: { name: 'p', creationTimestamp: new Date(T0), ...meta }, status });

const cases: [string, V1Pod, Record<string, unknown>][] = [
  ['just created', pod({ phase: 'Pending' }), { phase: 'Pending', createdAt: Date.parse(T0) }],
  ['unschedulable', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] }), { phase: 'Pending', reason: 'Unschedulable', message: '0/1 nodes are available' }],
  ['task image missing (agent init container)', pod({ phase: 'Pending', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 0), waiting('agent', 'ImagePullBackOff', 'Back-off pulling image "nope:1"')] }), { phase: 'Pending', reason: 'ImagePullBackOff', message: 'container agent: Back-off pulling image "nope:1"' }],
  ['ErrImagePull', pod({ phase: 'Pending', initContainerStatuses: [waiting('copy-runtime', 'ErrImagePull')] }), { phase: 'Pending', reason: 'ErrImagePull' }],
  ['missing Secret', pod({ phase: 'Pending', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 0), waiting('agent', 'CreateContainerConfigError', 'secret "llm" not found')] }), { phase: 'Pending', reason: 'CreateContainerConfigError' }],
  ['set-up still running is not started', pod({ phase: 'Pending', initContainerStatuses: [running('copy-runtime')] }), { phase: 'Pending' }],
  ['agent running', pod({ phase: 'Pending', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 0), running('agent')] }), { phase: 'Running', startedAt: Date.parse('2026-11-29T10:00:05Z') }],
  ['graded', pod({ phase: 'Succeeded', containerStatuses: [done('grade', 0, JSON.stringify(summary))] }), { phase: 'Succeeded', exitCode: 0, summary, finishedAt: Date.parse('2026-11-29T10:01:00Z') }],
  ['graded, no message', pod({ phase: 'Succeeded', containerStatuses: [done('grade', 0)] }), { phase: 'Succeeded', summaryError: 'missing' }],
  ['graded, garbage message', pod({ phase: 'Succeeded', containerStatuses: [done('grade', 0, '{"v":1,')] }), { phase: 'Succeeded' }],
  ['agent exit 3 (model error)', pod({ phase: 'Failed', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 0), done('agent', 3, JSON.stringify({ ...summary, exit: 'model_error' }))] }), { phase: 'Failed', reason: 'NoSample', exitCode: 3, infrastructure: true, summary: { ...summary, exit: 'model_error' } }],
  ['grade exit 3', pod({ phase: 'Failed', containerStatuses: [done('grade', 3, '')] }), { phase: 'Failed', reason: 'NoSample', exitCode: 3, summaryError: 'missing' }],
  ['exit 2', pod({ phase: 'Failed', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 2, 'ENTROPO_TASK_ID: no task x')] }), { phase: 'Failed', reason: 'InvalidAssignment', exitCode: 2, infrastructure: false }],
  ['copy-runtime exit 2 is infrastructure, not an invalid assignment', pod({ phase: 'Failed', initContainerStatuses: [done('copy-runtime', 2, 'cp: cannot create regular file')] }), { phase: 'Failed', reason: 'Error', exitCode: 2, infrastructure: true, message: 'container copy-runtime exited 2: cp: cannot create regular file' }],
  ['prepare exit 3 keeps the reason from its log', pod({ phase: 'Failed', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 3, 'entropo sandbox prepare: cannot prepare the workspace /workspace: EACCES')] }), { phase: 'Failed', reason: 'NoSample', exitCode: 3, message: 'container prepare exited 3 (no sample): entropo sandbox prepare: cannot prepare the workspace /workspace: EACCES' }],
  ['crash', pod({ phase: 'Failed', containerStatuses: [done('grade', 1, 'TypeError: x')] }), { phase: 'Failed', reason: 'Error', exitCode: 1, infrastructure: true, message: 'container grade exited 1: TypeError: x' }],
  ['OOM', pod({ phase: 'Failed', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 0), done('agent', 137, '', 'OOMKilled')] }), { phase: 'Failed', reason: 'OOMKilled', exitCode: 137, infrastructure: true }],
  ['evicted', pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: ephemeral-storage.' }), { phase: 'Failed', reason: 'Evicted', infrastructure: true, message: 'The node was low on resource: ephemeral-storage.' }],
  ['deadline', pod({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' }), { phase: 'Failed', reason: 'DeadlineExceeded', infrastructure: true }],
  ['being deleted', pod({ phase: 'Running', initContainerStatuses: [done('copy-runtime', 0), done('prepare', 0), running('agent')] }, { deletionTimestamp: new Date('2026-11-29T10:02:00Z') }), { phase: 'Running', terminating: true }],
];

for (const [name, p, want] of cases) {
  test(`pod state: ${name}`, (t) => {
    t.like(observeSandboxPod(p), want);
  });
}

test('garbage termination message is reported with the parse error; an empty one as missing', (t) => {
  const r = observeSandboxPod(pod({ phase: 'Succeeded', containerStatuses: [done('grade', 0, '{"v":1,')] }));
  t.regex(r.summaryError!, /^not JSON/);
  t.deepEqual(parseTerminationMessage('  '), { summaryError: 'missing' });
});
