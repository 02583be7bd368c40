/**
 * The TrainingRun reconciler against a real API server, the test playing the kubelet and the
 * Deployment / Job controllers (it writes Deployment, Job and Pod status): one iteration of
 * serve checkpoint 0 -> child RolloutBatch (its sandbox Pods) -> trainer Job (progress in status,
 * summary from its Pod's termination message) -> serve checkpoint 1 -> child EvalSuite -> history
 * in status; the operator restarted while the trainer runs starts no second trainer.
 */
import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import { Deployments, EntropoResources, Jobs, Pods, resourcePath } from '../../../operator/runtime/kube/resource.ts';
import type { RestClient } from '../../../operator/runtime/kube/rest.ts';
import { adminClient, cluster, create, createNamespace, get, identity, pods, startOperator, succeed, tempStore, waitFor, type Obj } from './helpers.ts';

const TR = EntropoResources.TrainingRun;

async function available(admin: RestClient, ns: string, name: string): Promise<void> {
  const d = await admin.request<{ metadata: { generation: number } }>('GET', resourcePath(Deployments, ns, name));
  await admin.request('PATCH', resourcePath(Deployments, ns, name, 'status'), {
    body: { status: { observedGeneration: d.metadata.generation, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 } },
    contentType: 'application/merge-patch+json',
  });
}

async function deploymentNames(admin: RestClient, ns: string): Promise<string[]> {
  const l = await admin.request<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>('GET', resourcePath(Deployments, ns));
  return l.items.filter((d) => !d.metadata.deletionTimestamp).map((d) => d.metadata.name);
}

async function jobs(admin: RestClient, ns: string): Promise<{ metadata: { name: string; labels: Record<string, string> }; spec: any }[]> {
  return (await admin.request<{ items: any[] }>('GET', resourcePath(Jobs, ns))).items;
}

/** Plays the Job controller and kubelet: the trainer Pod ran and left its summary; the Job completed. */
async function completeTrainer(admin: RestClient, ns: string, job: { metadata: { name: string }; spec: any }, summary: object): Promise<void> {
  const tpl = job.spec.template;
  const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${job.metadata.name}-x1`, namespace: ns, labels: tpl.metadata.labels }, spec: tpl.spec };
  await admin.request('POST', resourcePath(Pods, ns), { body: pod });
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await admin.request('PATCH', resourcePath(Pods, ns, pod.metadata!.name!, 'status'), {
    body: { status: { phase: 'Succeeded', containerStatuses: [{ name: 'train', image: 'x', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed', message: JSON.stringify(summary), startedAt: now, finishedAt: now } } }] } },
    contentType: 'application/merge-patch+json',
  });
  await admin.request('PATCH', resourcePath(Jobs, ns, job.metadata.name, 'status'), {
    body: { status: { active: 0, ready: 0, completionTime: now, succeeded: 1, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now }, { type: 'Complete', status: 'True', lastTransitionTime: now }] } },
    contentType: 'application/merge-patch+json',
  });
}

async function finishSandboxes(admin: RestClient, store: ReturnType<typeof tempStore>['store'], ns: string, n: number, owner: string): Promise<void> {
  const ps = await waitFor(`${n} sandbox Pods of ${owner}`, async () => {
    const all = (await pods(admin, ns)).filter((p) => p.metadata!.labels?.['entropo.dev/owner'] === owner);
    return all.length === n && all;
  });
  for (const p of ps) await succeed(admin, store, p, { resolved: identity(p).sample === 0 });
}

test('one iteration: policy server, rollouts, trainer Job with progress, evaluation of the new checkpoint, history in status; a restart while training trains nothing twice', async (t) => {
  const cp = await cluster(t);
  const admin = await adminClient(cp);
  t.teardown(() => admin.close());
  const ns = await createNamespace(admin, 'tr');
  const { uri, store } = tempStore();
  let op = await startOperator(t, cp, ns);
  const run: Obj = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: 'loop', namespace: ns },
    spec: {
      policy: { name: 'tiny-coder', source: 'builtin:tiny-coder' },
      iterations: 1,
      tasks: { builtin: { split: 'Train' }, limit: 1 },
      rollout: { samplesPerTask: 2, parallelism: 2 },
      preference: { algorithm: 'KTO' },
      training: { resources: { limits: { 'nvidia.com/gpu': '1' } }, nodeSelector: { accelerator: 'gpu' }, image: 'entropo.local/operator-gpu:test' },
      evaluation: { tasks: { builtin: { split: 'Eval' }, limit: 1 }, samplesPerTask: 2 },
      queueName: 'team-q',
      storage: { uri },
    },
  };
  await create(admin, TR, run);

  // checkpoint 0 served
  const c0 = await waitFor('policy server c0', async () => (await deploymentNames(admin, ns)).find((n) => n.includes('policy-c0')));
  await available(admin, ns, c0);
  // the child RolloutBatch and its sandboxes
  const rb = await waitFor('child RolloutBatch', async () => (await get(admin, ns, 'loop-it1-rollout', EntropoResources.RolloutBatch).catch(() => undefined)));
  t.is(rb.metadata.ownerReferences![0].kind, 'TrainingRun');
  t.is(rb.spec.policy.endpoint.url, `http://${c0}.${ns}.svc:8000/v1`);
  await finishSandboxes(admin, store, ns, 2, 'loop-it1-rollout');

  // the trainer Job
  const job = await waitFor('trainer Job', async () => (await jobs(admin, ns))[0]);
  t.is(job.metadata.name, 'loop-it1-train-a0');
  const c = job.spec.template.spec.containers[0];
  t.deepEqual(c.args, ['train-job']);
  t.is(c.image, 'entropo.local/operator-gpu:test');
  t.is(c.resources.limits['nvidia.com/gpu'], '1');
  t.deepEqual(job.spec.template.spec.nodeSelector, { accelerator: 'gpu' });
  t.is(job.metadata.labels['kueue.x-k8s.io/queue-name'], 'team-q');
  const assignment = JSON.parse(c.env.find((e: { name: string }) => e.name === 'ENTROPO_TRAINER_UNIT').value);
  t.is(assignment.init, 'builtin:tiny-coder');
  t.regex(assignment.checkpointKey, /checkpoints\/iter-1$/);
  t.is(assignment.trajectoriesKey, (await get(admin, ns, 'loop-it1-rollout', EntropoResources.RolloutBatch)).status!.trajectories);
  await waitFor('policy server c0 stopped while training', async () => !(await deploymentNames(admin, ns)).includes(c0));

  // progress while the trainer runs (its Pod is running)
  const tpl = job.spec.template;
  await admin.request('POST', resourcePath(Pods, ns), { body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'loop-it1-train-a0-run', namespace: ns, labels: tpl.metadata.labels }, spec: tpl.spec } });
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await admin.request('PATCH', resourcePath(Pods, ns, 'loop-it1-train-a0-run', 'status'), {
    body: { status: { phase: 'Running', containerStatuses: [{ name: 'train', image: 'x', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: now } } }] } },
    contentType: 'application/merge-patch+json',
  });
  await store.put(assignment.progressKey, JSON.stringify({ step: 3, totalSteps: 12, loss: 0.693, elapsedSeconds: 30 }));
  // a Job status change wakes the run (the progress record is read on each reconcile)
  await admin.request('PATCH', resourcePath(Jobs, ns, job.metadata.name, 'status'), { body: { status: { active: 1, startTime: now } }, contentType: 'application/merge-patch+json' });
  const training = await waitFor('progress in status', async () => {
    const o = await get(admin, ns, 'loop', TR);
    return /Training step 3\/12 loss 0\.693 ETA/.test(o.status?.progress ?? '') && o;
  });
  t.is(training.status!.history[0].phase, 'Training');

  // operator restart while training: no second trainer
  t.true(await op.stop());
  op = await startOperator(t, cp, ns);
  await new Promise((r) => setTimeout(r, 2_000));
  t.deepEqual((await jobs(admin, ns)).map((j) => j.metadata.name), ['loop-it1-train-a0'], 'nothing trained twice');
  await admin.request('DELETE', resourcePath(Pods, ns, 'loop-it1-train-a0-run'));
  await completeTrainer(admin, ns, job, { checkpoint: `${assignment.checkpointKey}/model`, steps: 12, examples: 2, loss: 0.41, entropy: 1.2, z0: 0.05, tokensPerSecond: 900, backend: 'wasm' });

  // checkpoint 1 served, then the child EvalSuite
  const c1 = await waitFor('policy server c1', async () => (await deploymentNames(admin, ns)).find((n) => n.includes('policy-c1')));
  const dep = await admin.request<any>('GET', resourcePath(Deployments, ns, c1));
  t.deepEqual(dep.spec.template.spec.containers[0].args.slice(0, 2), ['serve', '--model']);
  t.is(dep.spec.template.spec.containers[0].args[2], `store://${assignment.checkpointKey}/model`, 'serves the new checkpoint');
  await available(admin, ns, c1);
  await finishSandboxes(admin, store, ns, 2, 'loop-it1-eval');

  const done = await waitFor('Succeeded', async () => {
    const o = await get(admin, ns, 'loop', TR);
    return o.status?.phase === 'Succeeded' && o;
  }, 180_000);
  const h = done.status!.history[0];
  t.like(h, { iteration: 1, phase: 'Succeeded', rolloutBatch: 'loop-it1-rollout', trainingJob: 'loop-it1-train-a0', evalSuite: 'loop-it1-eval', rolloutResolveRate: 0.5 });
  t.like(h.training, { loss: 0.41, entropy: 1.2, z0: 0.05, examples: 2, steps: 12, backend: 'wasm' });
  t.is(h.evaluation.pass1, 0.5);
  t.is(done.status!.metrics.pass1, 0.5);
  t.is(done.status!.checkpoint, `${assignment.checkpointKey}/model`);
  t.is(done.status!.iteration, 1);
  // kubectl shows the printer columns
  const printed = cp.kubectl(['-n', ns, 'get', 'trainingruns']);
  t.is(printed.status, 0, printed.stderr);
  t.regex(printed.stdout.split('\n')[0], /PHASE\s+ITERATION/);
  t.regex(printed.stdout.split('\n')[1], /^loop\s+Succeeded\s+1/);
  await waitFor('workers stopped', async () => (await deploymentNames(admin, ns)).length === 0);
});
