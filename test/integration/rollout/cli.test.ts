/** `entropo sandbox` and `entropo rollout` as processes, against the scripted endpoint. */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TrajectoryRecord, TERMINATION_MESSAGE_LIMIT } from '../../../operator/api/records.ts';
import { check } from '../../../operator/api/validate.ts';
import { startScriptedLLM, type Script } from '../../helpers/scripted-llm.ts';
import { fixtureTask, SOLVE_NATIVE } from './helpers/fixture.ts';

const BIN = path.resolve('bin/entropo.js');

function entropo(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function tmp(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-cli-rollout-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A stateless script (turn = assistant messages so far), so concurrent rollouts can share it. */
const byTurn: Script = (_req, turn) => SOLVE_NATIVE[turn] ?? { content: 'done' };

test('entropo sandbox: assignment from the environment, trajectory to the store, summary to the termination log', async (t) => {
  const dir = await tmp(t);
  const llm = await startScriptedLLM(byTurn);
  t.teardown(() => llm.close());
  const tasks = [fixtureTask('calc-a'), fixtureTask('calc-b')];
  await writeFile(path.join(dir, 'tasks.jsonl'), tasks.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const r = await entropo(['sandbox'], {
    ENTROPO_TASK_FILE: path.join(dir, 'tasks.jsonl'),
    ENTROPO_TASK_ID: 'calc-b',
    ENTROPO_SAMPLE: '1',
    ENTROPO_RUN: 'rb-7',
    ENTROPO_ENDPOINT: llm.url,
    ENTROPO_MODEL: 'scripted',
    ENTROPO_SAMPLING: JSON.stringify({ seed: 40, topK: 5 }),
    ENTROPO_LIMITS: JSON.stringify({ maxSteps: 10, timeoutSeconds: 60 }),
    ENTROPO_STORE_URI: `file://${dir}/store`,
    ENTROPO_TERMINATION_LOG: path.join(dir, 'termination-log'),
    ENTROPO_SOURCE: JSON.stringify({ kind: 'RolloutBatch', namespace: 'ns', name: 'rb', iteration: 0 }),
  });
  t.is(r.code, 0, r.stderr);
  const message = await readFile(path.join(dir, 'termination-log'), 'utf8');
  t.true(Buffer.byteLength(message) <= TERMINATION_MESSAGE_LIMIT);
  t.is(r.stdout.trim(), message);
  const summary = JSON.parse(message);
  t.like(summary, {
    v: 1, task: 'calc-b', sample: 1, trajectory: 'calc-b/1/rb-7', key: 'trajectories/calc-b/1-rb-7.json',
    finished: true, exit: 'finished', steps: 4, resolved: true, reward: 1,
    regression: { passed: 1, failed: 0 }, hidden: { passed: 1, failed: 0 },
  });
  const stored = JSON.parse(await readFile(path.join(dir, 'store', summary.key), 'utf8'));
  t.true(check(TrajectoryRecord, stored).ok);
  t.is(stored.patchHash, summary.patchHash);
  t.deepEqual(stored.source, { kind: 'RolloutBatch', namespace: 'ns', name: 'rb', iteration: 0 });
  t.is(llm.requests[0].body.seed, 41);
  t.is(llm.requests[0].body.top_k, 5);
});

test('entropo sandbox: a bad assignment exits 2 naming the variable; an unreadable task exits 2 with a summary', async (t) => {
  const dir = await tmp(t);
  const bad = await entropo(['sandbox', '--task-file', 'x.json', '--model', 'm', '--store', `file://${dir}`], { ENTROPO_ENDPOINT: 'not-a-url', OPENAI_BASE_URL: '' });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--endpoint \/ ENTROPO_ENDPOINT/);
  const missing = await entropo(['sandbox', '--task-file', path.join(dir, 'nope.json'), '--model', 'm', '--store', `file://${dir}`, '--endpoint', 'http://127.0.0.1:9/v1', '--termination-log', path.join(dir, 'tl')]);
  t.is(missing.code, 2);
  const summary = JSON.parse(await readFile(path.join(dir, 'tl'), 'utf8'));
  t.is(summary.exit, 'sandbox_error');
  t.regex(summary.error, /cannot read the task/);
});

test('entropo rollout: tasks x samples with concurrency, trajectories and SWE-bench predictions as JSONL, a summary table', async (t) => {
  const dir = await tmp(t);
  const llm = await startScriptedLLM(byTurn);
  t.teardown(() => llm.close());
  await writeFile(path.join(dir, 'tasks.jsonl'), [fixtureTask('calc-a'), fixtureTask('calc-b')].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const out = path.join(dir, 'out');
  const r = await entropo(['rollout', '--tasks', path.join(dir, 'tasks.jsonl'), '--endpoint', llm.url, '--model', 'scripted', '--samples', '2', '--concurrency', '2', '--out-dir', out, '--max-steps', '10', '--seed', '5']);
  t.is(r.code, 0, r.stderr);
  const trajectories = (await readFile(path.join(out, 'trajectories.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(trajectories.map((x) => x.id), ['calc-a/0/local', 'calc-a/1/local', 'calc-b/0/local', 'calc-b/1/local']);
  t.true(trajectories.every((x) => x.resolved && x.reward === 1 && check(TrajectoryRecord, x).ok));
  const preds = (await readFile(path.join(out, 'predictions.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(preds.map((p) => Object.keys(p)), [['instance_id', 'model_name_or_path', 'model_patch'], ['instance_id', 'model_name_or_path', 'model_patch']]);
  t.deepEqual(preds.map((p) => [p.instance_id, p.model_name_or_path]), [['calc-a', 'scripted'], ['calc-b', 'scripted']]);
  t.regex(preds[0].model_patch, /\+ {2}return a \+ b;/);
  t.regex((await readFile(path.join(out, 'predictions.sample-1.jsonl'), 'utf8')), /"instance_id":"calc-a"/);
  t.regex(r.stdout, /\| calc-a \| 2 \| 2 \| 100\.0% \| 2 \| 0 \| 4\.0 \|/);
  t.regex(r.stdout, /\| TOTAL \| 4 \| 4 \| 100\.0% \|/);
  t.regex(r.stdout, /4 rollouts in [\d.]+ s/);
  // seeds: base 5 + sample
  t.deepEqual([...new Set(llm.requests.map((q) => q.body.seed))].sort(), [5, 6]);
});

/** Live processes whose command line contains `marker`, from /proc. */
async function processesWith(marker: string): Promise<number> {
  let n = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const state = /^State:\s+(\S)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''))?.[1];
    if (cmd.replace(/\0/g, ' ').includes(marker) && state !== 'Z') n++;
  }
  return n;
}

test('entropo rollout stopped by SIGTERM: running commands killed, work trees removed, exit 143', async (t) => {
  const dir = await tmp(t);
  const work = path.join(dir, 'tmp');
  const fsp = await import('node:fs/promises');
  await fsp.mkdir(work, { mode: 0o1777 });
  await fsp.chmod(work, 0o1777);
  await fsp.chmod(dir, 0o755); // a sandbox user of its own must reach the work trees
  // A command that would outlive a careless runner, with a marker to find it by.
  const llm = await startScriptedLLM(() => ({ content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: 'sleep 61.234 & sleep 61.234' } }] }));
  t.teardown(() => llm.close());
  await writeFile(path.join(dir, 'tasks.jsonl'), JSON.stringify(fixtureTask()) + '\n');
  const child = spawn(process.execPath, [BIN, 'rollout', '--tasks', path.join(dir, 'tasks.jsonl'), '--endpoint', llm.url, '--model', 'scripted', '--isolation', 'none', '--no-progress', '--out-dir', path.join(dir, 'out')], {
    env: { ...process.env, TMPDIR: work, ENTROPO_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 + 15 : null))));
  const deadline = Date.now() + 60_000;
  while ((await processesWith('sleep 61.234')) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.true((await processesWith('sleep 61.234')) >= 2); // the two sleeps (and the shell running them)
  t.true((await readdir(work)).some((d) => d.startsWith('entropo-wt-')));
  child.kill('SIGTERM');
  t.is(await exited, 143);
  await new Promise((r) => setTimeout(r, 200));
  t.is(await processesWith('sleep 61.234'), 0);
  t.deepEqual((await readdir(work)).filter((d) => d.startsWith('entropo-wt-') || d.startsWith('entropo-home-')), []);
});
