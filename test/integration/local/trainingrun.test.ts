/**
 * `entropo run --local` of a small TrainingRun with the built-in tiny coder policy: 2 tasks x 2
 * samples, 1 iteration, a handful of training steps, N = 2 evaluation. Real policy server, agent
 * loop, sandbox, grader, trainer (tfjs) and selection; the operator's decide() functions.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TrainingRun } from '../../../operator/api/kinds.ts';
import { check } from '../../../operator/api/validate.ts';
import { decideTrainingRun } from '../../../operator/controllers/trainingrun.ts';
import type { ObservedUnit } from '../../../operator/controllers/decision.ts';
import { runLocal } from '../../../operator/local/run.ts';
import { storedObservation, comparable } from '../../helpers/executor-contract.ts';

const TASKS = ['lru-overwrite-leaks-size', 'mb-allocate-zero-ratio-gets-cents'];

test('a TrainingRun of the built-in tiny coder runs to Succeeded; its status is in range and is what decide() gives from the stored results', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-run-tr-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tr.yaml');
  await writeFile(
    file,
    `apiVersion: entropo.dev/v1alpha1
kind: TrainingRun
metadata:
  name: small
spec:
  policy: {name: tiny-coder, source: "builtin:tiny-coder"}
  iterations: 1
  tasks:
    builtin: {split: Train}
    instanceIds: [${TASKS.join(', ')}]
  rollout:
    samplesPerTask: 2
    parallelism: 2
    sampling: {seed: 3, maxTokensPerTurn: 384}
    limits: {maxSteps: 8, maxTokens: 4096, timeoutSeconds: 300}
  preference: {algorithm: KTO}
  training: {method: LoRA, learningRate: 0.002, batchSize: 2, maxSequenceLength: 1024}
  evaluation:
    tasks:
      builtin: {split: Train}
      instanceIds: [${TASKS.join(', ')}]
    samplesPerTask: 2
`,
  );
  let metricsUrl = '';
  let scraped = '';
  const r = await runLocal({
    file,
    store: path.join(dir, 'store'),
    resume: false,
    metricsPort: 0,
    progress: false,
    isolation: 'auto',
    out: () => undefined,
    onMetrics: (url) => (metricsUrl = url),
    onStatusChange: (runner) => {
      // scrape /metrics once while the run is going
      if (!scraped && runner.obj.kind === 'RolloutBatch' && runner.obj.status?.phase === 'Succeeded') {
        scraped = 'pending';
        void fetch(metricsUrl).then(async (res) => (scraped = await res.text()));
      }
    },
  });
  const run = r.object as TrainingRun;
  const st = run.status!;
  t.is(st.phase, 'Succeeded', st.message);
  t.true(check(TrainingRun, run).ok, 'the status validates against the CRD schema');
  t.is(st.iteration, 1);
  t.is(st.history!.length, 1);
  const h = st.history![0];
  t.is(h.phase, 'Succeeded');
  t.true(h.rolloutResolveRate! >= 0 && h.rolloutResolveRate! <= 1);
  t.true(Number.isFinite(h.training!.loss!), 'a training loss');
  t.true(h.training!.examples! >= 1 && h.training!.examples! <= 4, `${h.training!.examples} examples from 4 rollouts`);
  t.true(h.training!.entropy! > 0);
  const ev = h.evaluation!;
  for (const k of ['pass1', 'passAtN', 'bestAtN'] as const) t.true(ev[k]! >= 0 && ev[k]! <= 1, `${k} ${ev[k]}`);
  t.true(ev.passAtN! >= ev.pass1! - 1e-12, 'pass@N >= pass@1');
  t.true(Math.abs(ev.oracleGap! - (ev.passAtN! - ev.bestAtN!)) < 1e-12);
  t.true(ev.distinctPatchesPerTask! >= 1 && ev.distinctPatchesPerTask! <= 2);
  t.deepEqual(st.metrics, ev);
  t.true(existsSync(path.join(r.storeRoot, st.checkpoint!, 'config.json')), 'checkpoint 1 is a servable model');
  t.regex(scraped, /entropo_rollouts_total\{kind="RolloutBatch",outcome="(resolved|unresolved)"\} [1-4]\n/);
  t.regex(scraped, /entropo_resolve_rate\{kind="RolloutBatch",namespace="default",name="small-it1-rollout"\} (0|0\.5|1|0\.25|0\.75)\n/);
  // contract: the children's final statuses and the trainer's records, fed to decide() with no status, give the same status
  const obs = await storedObservation(run, r.storeRoot);
  for (const kind of ['RolloutBatch', 'EvalSuite'] as const) {
    const name = kind === 'RolloutBatch' ? h.rolloutBatch! : h.evalSuite!;
    const child = parseYaml(await readFile(path.join(r.storeRoot, 'local/objects/default', kind, `${name}.yaml`), 'utf8'));
    obs.units.push({ name, role: kind, iteration: 1, phase: child.status.phase, status: child.status } satisfies ObservedUnit);
  }
  const replay = decideTrainingRun({ ...run, status: undefined }, obs);
  const strip = (s: object) => {
    const c = comparable(s) as { history?: { startTime?: string; completionTime?: string }[] };
    for (const x of c.history ?? []) {
      delete x.startTime;
      delete x.completionTime;
    }
    return c;
  };
  t.deepEqual(strip(replay.status), strip(st));
  t.deepEqual(replay.start, [], 'nothing would be started again');
});
