/**
 * The agent runtime as a sandbox Pod gets it (operator/workloads/sandbox-pod.ts): `npm run
 * build:sandbox` bundles `entropo sandbox` into one file, laid out as the Dockerfile lays it out
 * (<runtime>/sandbox/entropo-sandbox.mjs + <runtime>/sandbox/runners/) in a directory outside the
 * repository, with no node_modules anywhere near it. The agent and grade phases run from that
 * bundle (as in the task image), prepare and prepare-grading from the CLI (as in the operator
 * image), on a Python task of the built-in suite whose gold patch the scripted model applies: the
 * rollout is graded resolved by the bundled python runner.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadBuiltinSuite } from '../../../operator/tasks/suite.ts';
import { RUNTIME_ENTRY } from '../../../operator/workloads/sandbox-pod.ts';
import { startScriptedLLM } from '../../helpers/scripted-llm.ts';

const BIN = path.resolve('bin/entropo.js');

function run(script: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENTROPO_') && !k.startsWith('OPENAI_') && k !== 'NODE_PATH' && k !== 'NODE_OPTIONS'));
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd, env: { ...base, ENTROPO_LOG_LEVEL: 'warn', ...env }, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('the one-file sandbox bundle runs the agent and grade phases of a Python task outside the repository: resolved, graded by its own runner', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-bundle-'));
  await chmod(dir, 0o711);
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  // The runtime, as copy-runtime leaves it in the Pod.
  const runtime = path.join(dir, 'runtime');
  const entry = path.join(runtime, RUNTIME_ENTRY);
  execFileSync('npm', ['run', '--silent', 'build:sandbox', '--', `--outfile=${entry}`], { stdio: 'pipe' });
  await cp(path.resolve('operator/grading/runners'), path.join(path.dirname(entry), 'runners'), { recursive: true });
  t.deepEqual((await readdir(path.dirname(entry))).sort(), ['entropo-sandbox.mjs', 'runners']);
  const size = (await readFile(entry)).length;
  t.true(size > 100_000 && size < 20_000_000, `bundle of ${size} bytes`);
  t.false((await readFile(entry, 'utf8')).includes('@tensorflow/tfjs-core'), 'the trainer is not in the agent runtime');

  const task = (await loadBuiltinSuite({ split: 'eval' })).find((x) => x.language === 'python')!;
  const llm = await startScriptedLLM((_req, turn) =>
    turn === 0
      ? { content: 'Applying the fix.', tool_calls: [{ name: 'execute_bash', arguments: { command: `patch -p1 <<'ENTROPO_PATCH'\n${task.patch}ENTROPO_PATCH` } }] }
      : { content: 'Fixed.', tool_calls: [{ name: 'finish', arguments: { message: 'fixed' } }] },
  );
  t.teardown(() => llm.close());
  const taskFile = path.join(dir, 'task.json');
  await writeFile(taskFile, JSON.stringify(task));
  const ws = path.join(dir, 'ws');
  const hidden = path.join(dir, 'hidden');
  const identity = { ENTROPO_SAMPLE: '0', ENTROPO_RUN: 'bundle', TZ: 'UTC', PYTHONHASHSEED: '0' };

  const prepare = await run(BIN, ['sandbox', 'prepare'], { ENTROPO_TASK_FILE: taskFile, ENTROPO_WORKSPACE: ws }, process.cwd());
  t.is(prepare.code, 0, prepare.stderr);
  const agent = await run(entry, ['sandbox', 'agent'], {
    ...identity,
    ENTROPO_WORKSPACE: ws,
    ENTROPO_ENDPOINT: llm.url,
    ENTROPO_API_KEY: 'none',
    ENTROPO_MODEL: 'scripted',
    ENTROPO_LIMITS: JSON.stringify({ maxSteps: 5, timeoutSeconds: 120 }),
    ENTROPO_SANDBOX_ISOLATION: 'none',
    ENTROPO_TERMINATION_LOG: path.join(dir, 'agent-termination'),
  }, dir);
  t.is(agent.code, 0, agent.stderr);
  const prepareGrading = await run(BIN, ['sandbox', 'prepare-grading'], { ENTROPO_TASK_FILE: taskFile, ENTROPO_HIDDEN: hidden }, process.cwd());
  t.is(prepareGrading.code, 0, prepareGrading.stderr);
  const grade = await run(entry, ['sandbox', 'grade'], {
    ...identity,
    ENTROPO_WORKSPACE: ws,
    ENTROPO_HIDDEN: hidden,
    ENTROPO_STORE_URI: `file://${dir}/store`,
    ENTROPO_TERMINATION_LOG: path.join(dir, 'termination'),
  }, dir);
  t.is(grade.code, 0, grade.stderr);

  const summary = JSON.parse(await readFile(path.join(dir, 'termination'), 'utf8'));
  t.like(summary, { task: task.instance_id, sample: 0, exit: 'finished', steps: 2, resolved: true, reward: 1 });
  t.true(summary.hidden.passed >= task.FAIL_TO_PASS.length);
  t.is(summary.hidden.failed, 0);
  t.is(summary.regression.failed, 0);
  const stored = JSON.parse(await readFile(path.join(dir, 'store', summary.key), 'utf8'));
  t.is(stored.patchHash, summary.patchHash);
});
