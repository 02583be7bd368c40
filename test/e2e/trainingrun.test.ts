/**
 * The main job, as a user runs it: the operator installed in the cluster from crds/ and
 * manifests/install/ (its own ServiceAccount, the image built from the repository, the artifact
 * claim mounted at --store-mount), then `kubectl apply` of a small TrainingRun of the built-in
 * tiny policy. The operator serves checkpoint 0 (`entropo serve` Deployment + Service), runs the
 * child RolloutBatch's sandbox Pods against it, trains (`entropo train-job` in a Job: EntroPO-KTO
 * with tfjs on CPU), serves checkpoint 1 and evaluates it with the child EvalSuite; the run ends
 * Succeeded with its history, training figures and evaluation metrics in status, the checkpoint
 * in the store, and nothing left running; the same spec run in local mode (`entropo run --local`)
 * at the same time gives the same results within sampling noise.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { nodeCluster } from './cluster.ts';
import { REPO } from './images.ts';
import { waitEstablished } from '../envtest/crds.ts';
import { diagnose, hostStore, STORE_CLAIM, waitFinished } from './workloads.ts';

const SYSTEM = 'entropo-system';

test('kubectl apply of a TrainingRun: the operator in the cluster serves, rolls out, trains, evaluates; Succeeded with history, metrics and a checkpoint', async (t) => {
  t.timeout(30 * 60_000);
  const c = await nodeCluster();
  const ok = (r: { status: number; stderr: string; stdout: string }, what: string) => t.is(r.status, 0, `${what}: ${r.stderr || r.stdout}`);
  const ns = await c.namespace('train');
  // The operator watches every namespace: uninstall it so that it reconciles no later test's objects.
  t.teardown(() => void c.kubectl(['delete', '--ignore-not-found', '--wait=true', '--timeout=120s', '-f', join(REPO, 'manifests', 'install')]));

  // 1. Install as the README says, with the store claim mounted into the operator Pod.
  ok(c.kubectl(['apply', '--server-side', '-f', join(REPO, 'crds')]), 'apply crds');
  waitEstablished((args) => c.kubectl(args));
  ok(c.kubectl(['apply', '-f', '-'], stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM } })), 'namespace');
  const { dir: store, cleanup } = hostStore(c, [SYSTEM, ns], 'entropo-e2e-train-store-');
  t.teardown(cleanup);
  ok(c.kubectl(['apply', '--server-side', '-f', join(REPO, 'manifests', 'install')]), 'apply manifests/install');
  const patch = [
    { op: 'replace', path: '/spec/replicas', value: 1 },
    { op: 'replace', path: '/spec/template/spec/containers/0/image', value: c.images.operator },
    { op: 'add', path: '/spec/template/spec/containers/0/args/-', value: `--sandbox-base-image=${c.images.taskBase}` },
    { op: 'add', path: '/spec/template/spec/volumes', value: [{ name: 'artifacts', persistentVolumeClaim: { claimName: STORE_CLAIM } }] },
    { op: 'add', path: '/spec/template/spec/containers/0/volumeMounts', value: [{ name: 'artifacts', mountPath: '/artifacts' }] },
  ];
  ok(c.kubectl(['-n', SYSTEM, 'patch', 'deploy/entropo-operator', '--type=json', '-p', JSON.stringify(patch)]), 'mount the store');
  ok(c.kubectl(['-n', SYSTEM, 'rollout', 'status', 'deploy/entropo-operator', '--timeout=240s']), 'operator rollout');

  // 2. The TrainingRun: 2 train tasks x 2 samples, one iteration, evaluation N = 2 on one task.
  const tasks = ['lru-overwrite-leaks-size', 'mx-rank-misses-later-pivot'];
  const small = { requests: { cpu: '50m', memory: '128Mi', 'ephemeral-storage': '100Mi' }, limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '2Gi' } };
  // The spec, as a user writes it once; the cluster run adds where its Pods run and store.
  const spec = {
    policy: { name: 'tiny-coder', source: 'builtin:tiny-coder' },
    iterations: 1,
    tasks: { builtin: { suite: 'entropo-bugs', split: 'Train' }, instanceIds: tasks },
    rollout: {
      samplesPerTask: 2,
      parallelism: 4,
      sampling: { seed: 1, maxTokensPerTurn: 384 },
      limits: { maxSteps: 8, maxTokens: 4096, timeoutSeconds: 300, toolTimeoutSeconds: 60 },
    },
    preference: { algorithm: 'KTO', zeta: 0.11, gamma: 0.1 },
    // Pinned on both sides: the e2e image has no native backend (test/e2e/images.ts NATIVE_STAGE),
    // while the host may train on tfjs-node (scripts/install-tfjs-node.sh): like for like.
    training: { method: 'LoRA', learningRate: 2e-3, batchSize: 2, maxSequenceLength: 1024, backend: 'Wasm' },
    evaluation: { tasks: { builtin: { suite: 'entropo-bugs', split: 'Train' }, instanceIds: [tasks[0]] }, samplesPerTask: 2 },
  };
  const run = {
    apiVersion: 'entropo.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: 'tiny', namespace: ns },
    spec: {
      ...spec,
      rollout: { ...spec.rollout, sandbox: { resources: small } },
      training: { ...spec.training, resources: { requests: { cpu: '100m', memory: '1Gi' }, limits: { cpu: '2', memory: '6Gi' } } },
      serving: { resources: { requests: { cpu: '100m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } } },
      storage: { uri: `pvc://${STORE_CLAIM}` },
    },
  };
  // The same spec in local mode (`entropo run --local`), beside the cluster run.
  const local = mkdtempSync(join(tmpdir(), 'entropo-e2e-local-'));
  t.teardown(() => rmSync(local, { recursive: true, force: true }));
  writeFileSync(join(local, 'tiny.yaml'), stringify({ apiVersion: 'entropo.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'tiny' }, spec }));
  const localRun = new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['bin/entropo.js', 'run', join(local, 'tiny.yaml'), '--local', '--store', join(local, 'store'), '--no-progress', '--metrics-port', '-1'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
  const t0 = Date.now();
  ok(c.kubectl(['apply', '-f', '-'], stringify(run)), 'kubectl apply TrainingRun');
  const seen = new Set<string>();
  const done = await waitFinished(c, ns, 'trainingrun', 'tiny', 25 * 60_000, (o) => {
    const p = o.status?.progress;
    if (p && !seen.has(p)) {
      seen.add(p);
      t.log(`${Math.round((Date.now() - t0) / 1000)} s: ${p}`);
    }
  }).catch((e: Error) => {
    t.log(diagnose(c, ns, store));
    throw e;
  });
  t.log(`TrainingRun ${done.status.phase} in ${Math.round((Date.now() - t0) / 1000)} s`);
  if (done.status.phase !== 'Succeeded') t.log(diagnose(c, ns, store));
  t.is(done.status.phase, 'Succeeded', JSON.stringify(done.status));
  t.is(done.status.iteration, 1);
  t.is(done.status.observedGeneration, 1);

  // 3. What it did, from status: one iteration of rollouts, training and evaluation.
  const h = done.status.history?.[0];
  t.truthy(h, JSON.stringify(done.status));
  t.is(h.iteration, 1);
  t.true(h.rolloutResolveRate >= 0 && h.rolloutResolveRate <= 1, JSON.stringify(h));
  t.is(h.training.examples, 4, 'the 4 rollouts are the training examples (KTO)');
  t.true(h.training.tokensPerSecond > 0);
  t.deepEqual(h.evaluation.passAtK.map((x: { k: number }) => x.k), [1, 2]);
  // The children, as kubectl shows them: the rollouts of checkpoint 0, the evaluation of checkpoint 1.
  const rb = JSON.parse(c.kubectl(['-n', ns, 'get', 'rolloutbatch', h.rolloutBatch, '-o', 'json']).stdout);
  t.like(rb.status, { phase: 'Succeeded', counts: { total: 4, completed: 4 } });
  t.is(rb.metadata.ownerReferences[0].kind, 'TrainingRun');
  const es = JSON.parse(c.kubectl(['-n', ns, 'get', 'evalsuite', h.evalSuite, '-o', 'json']).stdout);
  t.like(es.status, { phase: 'Succeeded', counts: { total: 2, completed: 2 } });
  t.is(done.status.training.examples, 4, JSON.stringify(done.status.training));
  t.true(Number.isFinite(done.status.training.loss), 'a finite training loss');
  const m = done.status.metrics;
  t.true(m.pass1 >= 0 && m.pass1 <= 1, JSON.stringify(m));
  t.true(m.bestAtN >= 0 && m.bestAtN <= 1);
  t.true(m.passAtN >= m.pass1);

  // 4. The checkpoint is in the store, as a model directory the policy server loaded.
  const ckpt = join(store, done.status.checkpoint);
  t.true(existsSync(ckpt), `checkpoint ${done.status.checkpoint} in the store`);
  const files = readdirSync(ckpt, { recursive: true }) as string[];
  t.true(files.some((f) => f.endsWith('.safetensors')), files.join(' '));
  t.truthy(parse(readFileSync(join(ckpt, files.find((f) => f.endsWith('config.json'))!), 'utf8')), 'config.json');

  // 5. Nothing left running: sandboxes deleted, policy servers and trainer Pods gone.
  // The run's status is written before its last policy server is deleted: give that a moment.
  let left: string[] = [];
  for (let i = 0; i < 90; i++) {
    left = JSON.parse(c.kubectl(['-n', ns, 'get', 'pods', '-o', 'json']).stdout)
      .items.filter((p: { status: { phase: string } }) => p.status.phase === 'Running' || p.status.phase === 'Pending')
      .map((p: { metadata: { name: string } }) => p.metadata.name);
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  t.deepEqual(left, [], 'no Pod left running');
  // 6. The same spec in local mode gives the same results within sampling noise.
  const lr = await localRun;
  t.is(lr.code, 0, lr.out.slice(-3000));
  const localStatus = parse(readFileSync(join(local, 'store', 'local', 'objects', 'default', 'TrainingRun', 'tiny.yaml'), 'utf8')).status;
  const lh = localStatus.history[0];
  t.log(`cluster vs local: resolve ${h.rolloutResolveRate} / ${lh.rolloutResolveRate}, loss ${h.training.loss.toFixed(4)} / ${lh.training.loss.toFixed(4)}, pass@1 ${m.pass1} / ${localStatus.metrics.pass1}, best@N ${m.bestAtN} / ${localStatus.metrics.bestAtN}`);
  t.is(localStatus.phase, 'Succeeded');
  t.is(lh.training.examples, h.training.examples, 'the same number of training examples');
  t.true(Math.abs(lh.rolloutResolveRate - h.rolloutResolveRate) <= 0.5, 'rollout resolve rates within sampling noise (4 samples)');
  t.true(Math.abs(lh.training.loss - h.training.loss) <= 0.1, 'training losses within noise');
  t.true(Math.abs(localStatus.metrics.pass1 - m.pass1) <= 0.5, 'evaluation pass@1 within sampling noise (2 samples)');

  const columns = c.kubectl(['-n', ns, 'get', 'trainingrun', 'tiny']).stdout;
  t.regex(columns, /Succeeded/);
  t.log(columns.trim());
});
