/**
 * `entropo run FILE --local`: the real CLI and the real local executor (sandbox phases, grading,
 * store) against the scripted endpoint; the same decide() functions the operator uses.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { EvalSuite, RolloutBatch } from '../../../operator/api/kinds.ts';
import { check } from '../../../operator/api/validate.ts';
import { runLocal } from '../../../operator/local/run.ts';
import { objectPrefix } from '../../../operator/controllers/decision.ts';
import { startScriptedLLM, type Script } from '../../helpers/scripted-llm.ts';
import { fixtureTask, SOLVE_NATIVE } from '../rollout/helpers/fixture.ts';
import { replayStatus, comparable } from '../../helpers/executor-contract.ts';

const BIN = path.resolve('bin/entropo.js');

/** Deterministic per rollout: an even seed (seed + sample) solves the task, an odd one gives up. */
const bySeed =
  (delayMs = 0): Script =>
  (req, turn) =>
    req.body.seed % 2 === 0 ? { ...(SOLVE_NATIVE[turn] ?? { content: 'done' }), delayMs } : { content: 'I give up.', tool_calls: [{ name: 'finish', arguments: {} }], delayMs };

async function setup(t: { teardown(fn: () => Promise<void>): void }, script: Script, kind: 'RolloutBatch' | 'EvalSuite' = 'RolloutBatch', extra = '') {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const llm = await startScriptedLLM(script);
  t.teardown(() => llm.close());
  await writeFile(path.join(dir, 'tasks.jsonl'), [fixtureTask('calc-a'), fixtureTask('calc-b')].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const file = path.join(dir, `${kind}.yaml`);
  await writeFile(
    file,
    `apiVersion: entropo.dev/v1alpha1
kind: ${kind}
metadata:
  name: demo
spec:
  policy: {name: scripted, endpoint: {url: "${llm.url}"}}
  tasks: {jsonl: {uri: "file://${dir}/tasks.jsonl", format: SelfContained}}
  samplesPerTask: 2
  parallelism: 2
  sampling: {seed: 10}
  limits: {maxSteps: 8, timeoutSeconds: 60}
${extra}`,
  );
  return { dir, llm, file, store: path.join(dir, 'store') };
}

function entropo(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      onStderr?.(stderr, child);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('entropo run --local: a RolloutBatch to Succeeded; status YAML as kubectl shows it, counts in range, artifacts in the store', async (t) => {
  const s = await setup(t, bySeed());
  const r = await entropo(['run', s.file, '--local', '--store', s.store, '--metrics-port', '0']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /RolloutBatch demo: Succeeded/);
  t.regex(r.stdout, /demo\s+Succeeded\s+4\s+4\s+0\s+0\s+2\s+50\.0%/);
  t.regex(r.stderr, /metrics: http:\/\/127\.0\.0\.1:\d+\/metrics/);
  const yamlPath = /status \(as kubectl get -o yaml\): (\S+)/.exec(r.stdout)![1];
  const obj = parseYaml(await readFile(yamlPath, 'utf8'));
  t.deepEqual(Object.keys(obj), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  t.true(check(RolloutBatch, obj).ok, 'the saved object validates against the CRD schema');
  t.like(obj.status, { phase: 'Succeeded', completedIndexes: '0-3', resolveRate: 0.5, counts: { total: 4, completed: 4, failed: 0, resolved: 2, finished: 4 } });
  t.is(obj.metadata.generation, 1);
  t.regex(obj.metadata.uid, /^[0-9a-f-]{36}$/);
  const lines = (await readFile(path.join(s.store, obj.status.trajectories), 'utf8')).trim().split('\n');
  t.is(lines.length, 4);
  t.deepEqual(lines.map((l) => JSON.parse(l).resolved), [true, false, true, false]);
  const preds = (await readFile(path.join(s.store, obj.status.predictions), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(preds.map((p) => p.instance_id), ['calc-a', 'calc-b']);
  t.regex(preds[0].model_patch, /return a \+ b;/);

  // a rerun of the same file finds the finished run: it says so, shows its result and how to run
  // it again, and runs nothing (as `kubectl apply` of an object that exists)
  const requests = s.llm.requests.length;
  const again = await entropo(['run', s.file, '--local', '--store', s.store, '--metrics-port', '-1', '--no-progress']);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /RolloutBatch default\/demo already ran to Succeeded .*; nothing was run/);
  t.regex(again.stdout, /--fresh .* another metadata\.name.* remove /);
  t.regex(again.stdout, /demo\s+Succeeded\s+4\s+4\s+0\s+0\s+2\s+50\.0%/);
  t.is(s.llm.requests.length, requests, 'nothing was rerun');
  t.is(parseYaml(await readFile(yamlPath, 'utf8')).metadata.uid, obj.metadata.uid, 'the saved run is kept');
  // --fresh starts a new run under the same name
  const fresh = await entropo(['run', s.file, '--local', '--store', s.store, '--metrics-port', '-1', '--no-progress', '--fresh']);
  t.is(fresh.code, 0, fresh.stderr);
  t.true(s.llm.requests.length > requests);
  t.not(parseYaml(await readFile(yamlPath, 'utf8')).metadata.uid, obj.metadata.uid);
});

test('entropo run --local: an EvalSuite gets selection and pass@k / best@N from the same decide() as the operator (contract)', async (t) => {
  const s = await setup(t, bySeed(), 'EvalSuite');
  const r = await runLocal({ file: s.file, store: s.store, resume: false, metricsPort: -1, progress: false, isolation: 'auto', out: () => undefined });
  const st = r.object.status as NonNullable<EvalSuite['status']>;
  t.is(st.phase, 'Succeeded');
  t.true(check(EvalSuite, r.object).ok);
  t.like(st.metrics, { pass1: 0.5, passAtN: 1, bestAtN: 1, oracleGap: 0, selectionAccuracy: 1, finishedRate: 1 });
  t.is(st.metrics!.distinctPatchesPerTask, 2, 'the fix and the empty patch');
  t.deepEqual(st.selections!.map((x) => [x.task, x.selected, x.resolved]), [
    ['calc-a', 'calc-a/0/demo', true],
    ['calc-b', 'calc-b/0/demo', true],
  ]);
  t.true(Object.keys(st.decidedBy!).length > 0);
  const sel = (await readFile(path.join(s.store, st.results!), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.is(sel.length, 2);
  // contract: the records the executor stored, fed to decide() with no live unit, give the same status
  const replay = await replayStatus(r.object as EvalSuite, r.storeRoot);
  t.deepEqual(comparable(replay), comparable(st));
});

test('entropo run --local: Ctrl-C stops cleanly; --resume finishes without redoing finished rollouts and gives the uninterrupted result', async (t) => {
  const reference = await setup(t, bySeed(300));
  const whole = await runLocal({ file: reference.file, store: reference.store, resume: false, metricsPort: -1, progress: false, isolation: 'auto', out: () => undefined });
  const s = await setup(t, bySeed(300), 'RolloutBatch');
  let sent = false;
  const first = await entropo(['run', s.file, '--local', '--store', s.store, '--metrics-port', '-1'], (err, child) => {
    // interrupt once two rollouts are done
    if (!sent && /rollouts 2\/4/.test(err)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  t.true(sent, first.stderr);
  t.is(first.code, 130, first.stderr);
  t.regex(first.stdout, /interrupted: RolloutBatch demo is Running; continue with: entropo run .* --local --resume/);
  const requestsBefore = s.llm.requests.length;
  const again = await entropo(['run', s.file, '--local', '--store', s.store]);
  t.is(again.code, 2, 'an unfinished run is not silently replaced');
  t.regex(again.stderr, /unfinished run .* --resume/);
  const resumed = await entropo(['run', s.file, '--local', '--store', s.store, '--resume', '--metrics-port', '-1', '--no-progress']);
  t.is(resumed.code, 0, resumed.stderr);
  const yamlPath = /status \(as kubectl get -o yaml\): (\S+)/.exec(resumed.stdout)![1];
  const saved = parseYaml(await readFile(yamlPath, 'utf8'));
  const st = saved.status;
  t.deepEqual(comparable(st, objectPrefix(saved)), comparable(whole.object.status!, objectPrefix(whole.object)));
  // the two finished rollouts were not redone: the resumed run asked only for the others
  const solvedTurns = SOLVE_NATIVE.length;
  t.true(s.llm.requests.length - requestsBefore <= 2 * solvedTurns, `resume made ${s.llm.requests.length - requestsBefore} requests`);
  t.is(st.counts.retries, 0, 'an interruption is not a retry');
});

test('entropo run --local: bad input names the file, the document and the field; nothing runs', async (t) => {
  const s = await setup(t, bySeed(), 'RolloutBatch', '  preference: {}\n');
  const r = await entropo(['run', s.file, '--local', '--store', s.store]);
  t.is(r.code, 2);
  t.regex(r.stderr, new RegExp(`${s.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(document 1\\)`));
  t.regex(r.stderr, /spec\.preference/);
  t.is(s.llm.requests.length, 0);
  const cluster = await entropo(['run', s.file]);
  t.is(cluster.code, 2);
  t.regex(cluster.stderr, /only --local .* kubectl apply -f/);
});

test('entropo run --local: an external endpoint that cannot be reached or does not serve the model is one clear error before anything runs', async (t) => {
  const s = await setup(t, bySeed());
  // unreachable (e.g. a cluster Service name, or a server that is down): exit 2 at once, no rollout
  const down = s.file.replace(/\.yaml$/, '-down.yaml');
  await writeFile(down, (await readFile(s.file, 'utf8')).replace(s.llm.url, 'http://127.0.0.1:1/v1'));
  const r = await entropo(['run', down, '--local', '--store', s.store, '--metrics-port', '-1']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /spec\.policy\.endpoint: the endpoint http:\/\/127\.0\.0\.1:1\/v1 cannot be reached/);
  // reachable, but spec.policy.name is not a model it serves
  const other = s.file.replace(/\.yaml$/, '-other.yaml');
  await writeFile(other, (await readFile(s.file, 'utf8')).replace('name: scripted,', 'name: not-served,'));
  const m = await entropo(['run', other, '--local', '--store', s.store, '--metrics-port', '-1']);
  t.is(m.code, 2, m.stderr);
  t.regex(m.stderr, /does not serve model "not-served"; it serves: "scripted" \(set spec\.policy\.name to one of them\)/);
  t.notRegex(m.stderr, /--model/, 'run has no --model option');
  t.is(s.llm.requests.length, 0, 'no chat completion was requested');
});
