/**
 * `entropo run --local` on an s3:// store (a real S3-compatible server, test/s3): the saved status,
 * the task list, attempt records and trajectories all go to the bucket through the store
 * interface; nothing is written to the --store directory.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { S3Store } from '../../../operator/store/s3-store.ts';
import { startScriptedLLM, type Script } from '../../helpers/scripted-llm.ts';
import { startS3Server } from '../../s3/server.ts';
import { fixtureTask, SOLVE_NATIVE } from '../rollout/helpers/fixture.ts';

/** An even seed (seed + sample) solves the task, an odd one gives up. */
const bySeed: Script = (req, turn) => (req.body.seed % 2 === 0 ? (SOLVE_NATIVE[turn] ?? { content: 'done' }) : { content: 'I give up.', tool_calls: [{ name: 'finish', arguments: {} }] });

test('entropo run --local with spec.storage s3://: status, records and trajectories in the bucket, credentials from the environment', async (t) => {
  const s3 = await startS3Server();
  t.teardown(() => s3.stop());
  await s3.createBucket('local-runs');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-run-s3-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const llm = await startScriptedLLM(bySeed);
  t.teardown(() => llm.close());
  await writeFile(path.join(dir, 'tasks.jsonl'), [fixtureTask('calc-a'), fixtureTask('calc-b')].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const file = path.join(dir, 'batch.yaml');
  await writeFile(
    file,
    `apiVersion: entropo.dev/v1alpha1
kind: RolloutBatch
metadata:
  name: demo
spec:
  policy: {name: scripted, endpoint: {url: "${llm.url}"}}
  tasks: {jsonl: {uri: "file://${dir}/tasks.jsonl", format: SelfContained}}
  samplesPerTask: 2
  parallelism: 2
  sampling: {seed: 10}
  limits: {maxSteps: 8, timeoutSeconds: 60}
  storage:
    uri: s3://local-runs/team
    s3: {endpoint: "${s3.endpoint}", region: ${s3.region}}
`,
  );
  const localDir = path.join(dir, 'store');
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve('bin/entropo.js'), 'run', file, '--local', '--store', localDir, '--metrics-port', '-1', '--no-progress'], {
      env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn', AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /RolloutBatch demo: Succeeded/);
  const statusAt = /status \(as kubectl get -o yaml\): (\S+)/.exec(r.stdout)![1];
  t.true(statusAt.startsWith('s3://local-runs/team/'), statusAt);
  const store = new S3Store('s3://local-runs/team', s3.settings());
  const obj = parseYaml(await store.getText(statusAt.slice('s3://local-runs/team/'.length)));
  t.like(obj.status, { phase: 'Succeeded', counts: { total: 4, completed: 4, failed: 0, resolved: 2 } });
  const lines = (await store.getText(obj.status.trajectories)).trim().split('\n');
  t.deepEqual(lines.map((l) => JSON.parse(l).resolved), [true, false, true, false]);
  t.is((await store.list('')).filter((k) => k.includes('/records/')).length, 4, 'one attempt record per sandbox');
  const local = await readdir(localDir, { recursive: true }).catch(() => [] as string[]);
  t.deepEqual(local.filter((f) => f.endsWith('.json') || f.endsWith('.jsonl') || f.endsWith('.yaml')), [], 'nothing in the --store directory');
});
