import test from 'ava';
import { resolveSandboxInputs, defaultTrajectoryKey, keySegment, sandboxEnv } from '../../../operator/rollout/assignment.ts';
import { pickTask } from '../../../operator/rollout/pod-entry.ts';

const env = {
  ENTROPO_TASK_FILE: '/tasks/t.jsonl',
  ENTROPO_TASK_ID: 'x-1',
  ENTROPO_SAMPLE: '3',
  ENTROPO_RUN: 'rb-1',
  ENTROPO_ENDPOINT: 'http://policy:8000/v1',
  ENTROPO_MODEL: 'qwen',
  ENTROPO_SAMPLING: '{"temperature":0.5,"seed":7}',
  ENTROPO_LIMITS: '{"maxSteps":30,"toolCallFormat":"Text"}',
  ENTROPO_STORE_URI: 'pvc://data/runs',
  ENTROPO_API_KEY: 'secret',
  ENTROPO_SOURCE: '{"kind":"RolloutBatch","namespace":"ns","name":"rb","iteration":2}',
};

test('assignment from environment variables, with the spec defaults applied', (t) => {
  const a = resolveSandboxInputs({}, env);
  t.deepEqual(a.task, { file: '/tasks/t.jsonl' });
  t.is(a.taskId, 'x-1');
  t.is(a.sample, 3);
  t.is(a.run, 'rb-1');
  t.is(a.apiKey, 'secret');
  t.deepEqual(a.sampling, { temperature: 0.5, topP: 0.8, topK: 20, maxTokensPerTurn: 4096, seed: 7 });
  t.deepEqual(a.limits, { maxSteps: 30, maxTokens: 131072, timeoutSeconds: 3600, toolTimeoutSeconds: 120, toolCallFormat: 'Text' });
  t.deepEqual(a.source, { kind: 'RolloutBatch', namespace: 'ns', name: 'rb', iteration: 2 });
  t.is(a.terminationLog, '/dev/termination-log');
  t.is(a.isolation, 'auto');
  t.is(a.repoDir, '/testbed');
});

test('options win over variables', (t) => {
  const a = resolveSandboxInputs({ sample: '0', model: 'other', terminationLog: '/tmp/x', isolation: 'none' }, env);
  t.is(a.sample, 0);
  t.is(a.model, 'other');
  t.is(a.terminationLog, '/tmp/x');
  t.is(a.isolation, 'none');
});

test('errors name the option and variable at fault', (t) => {
  t.throws(() => resolveSandboxInputs({}, { ...env, ENTROPO_TASK_KEY: 'k' }), { message: /exactly one of --task-file \/ ENTROPO_TASK_FILE or --task-key/ });
  t.throws(() => resolveSandboxInputs({}, { ...env, ENTROPO_ENDPOINT: 'policy:8000' }), { message: /--endpoint \/ ENTROPO_ENDPOINT/ });
  t.throws(() => resolveSandboxInputs({}, { ...env, ENTROPO_SAMPLING: '{"temperature": 5}' }), { message: /--sampling \/ ENTROPO_SAMPLING: \/?temperature/ });
  t.throws(() => resolveSandboxInputs({}, { ...env, ENTROPO_LIMITS: '{oops' }), { message: /ENTROPO_LIMITS: not valid JSON/ });
  t.throws(() => resolveSandboxInputs({}, { ...env, ENTROPO_SAMPLE: '-1' }), { message: /ENTROPO_SAMPLE: expected a non-negative integer/ });
  t.throws(() => resolveSandboxInputs({}, { ...env, ENTROPO_SANDBOX_ISOLATION: 'docker' }), { message: /auto, bwrap, unshare, none/ });
});

test('trajectory keys are valid store keys', (t) => {
  t.is(defaultTrajectoryKey('django__django-11099', 2, 'rb/1'), 'trajectories/django__django-11099/2-rb_1.json');
  t.is(keySegment('..'), '_');
  t.is(keySegment('../etc'), '__etc');
  t.is(keySegment(''), '_');
});

const task = (id: string) => ({
  instance_id: id, repo: 'r', problem_statement: 'p', language: 'python', files: { 'a.py': '' }, patch: '', test_patch: '',
  test_command: 'pytest', test_framework: 'pytest', FAIL_TO_PASS: [], PASS_TO_PASS: [],
});

test('pickTask: one JSON record (even pretty-printed), or one of a JSONL file by id', (t) => {
  t.is(pickTask(JSON.stringify(task('a'), null, 2), undefined, 'f').instance_id, 'a');
  const jsonl = [task('a'), task('b')].map((x) => JSON.stringify(x)).join('\n');
  t.is(pickTask(jsonl, 'b', 'f').instance_id, 'b');
  t.throws(() => pickTask(jsonl, undefined, 'f'), { message: /holds 2 tasks/ });
  t.throws(() => pickTask(jsonl, 'c', 'f'), { message: /no task c/ });
});

test('sandboxEnv is the inverse of resolveSandboxInputs (what a Pod builder sets is what the Pod reads)', (t) => {
  const a = resolveSandboxInputs({}, env);
  const back = Object.fromEntries(sandboxEnv({ ...a, trajectoryKey: 'trajectories/x-1/3-rb-1.json', isolation: 'none', gradingTimeoutSeconds: 600 }).map((e) => [e.name, e.value]));
  t.false('ENTROPO_API_KEY' in back);
  t.deepEqual(resolveSandboxInputs({}, { ...back, ENTROPO_API_KEY: 'secret' }), { ...a, trajectoryKey: 'trajectories/x-1/3-rb-1.json', isolation: 'none', gradingTimeoutSeconds: 600 });
});
