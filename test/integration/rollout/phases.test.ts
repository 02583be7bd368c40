/**
 * The sandbox's phases as separate processes (`entropo sandbox prepare | agent | prepare-grading |
 * grade`), as local mode and a sandbox Pod run them, against the scripted endpoint: the agent side
 * never sees the task record, the gold patch or the hidden tests; grading runs on a fresh copy.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startScriptedLLM, type Script } from '../../helpers/scripted-llm.ts';
import { fixtureTask, SOLVE_NATIVE } from './helpers/fixture.ts';

const BIN = path.resolve('bin/entropo.js');

function entropo(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  // Only what each phase is meant to get: no inherited ENTROPO_* variables.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENTROPO_') && !k.startsWith('OPENAI_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ENTROPO_LOG_LEVEL: 'warn', ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const byTurn =
  (replies: typeof SOLVE_NATIVE): Script =>
  (_req, turn) =>
    replies[turn] ?? { content: 'done' };

async function phases(t: { teardown(fn: () => Promise<void>): void }, script: Script, task = fixtureTask('calc-ph')) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-phases-'));
  // The agent's commands may run as a user of their own: the workspace's parents must be searchable.
  await chmod(dir, 0o711);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const llm = await startScriptedLLM(script);
  t.teardown(() => llm.close());
  const taskFile = path.join(dir, 'task.json');
  await writeFile(taskFile, JSON.stringify(task));
  const ws = path.join(dir, 'ws');
  const hidden = path.join(dir, 'hidden');
  const prepare = await entropo(['sandbox', 'prepare'], { ENTROPO_TASK_FILE: taskFile, ENTROPO_WORKSPACE: ws });
  const agent = await entropo(['sandbox', 'agent'], {
    ENTROPO_WORKSPACE: ws,
    ENTROPO_ENDPOINT: llm.url,
    ENTROPO_API_KEY: 'sk-agent-secret',
    ENTROPO_MODEL: 'scripted',
    ENTROPO_LIMITS: JSON.stringify({ maxSteps: 10, timeoutSeconds: 60 }),
    ENTROPO_SAMPLE: '2',
    ENTROPO_RUN: 'r1',
    ENTROPO_TERMINATION_LOG: path.join(dir, 'agent-termination'),
  });
  const prepareGrading = await entropo(['sandbox', 'prepare-grading'], { ENTROPO_TASK_FILE: taskFile, ENTROPO_HIDDEN: hidden });
  const grade = await entropo(['sandbox', 'grade'], {
    ENTROPO_WORKSPACE: ws,
    ENTROPO_HIDDEN: hidden,
    ENTROPO_STORE_URI: `file://${dir}/store`,
    ENTROPO_SAMPLE: '2',
    ENTROPO_RUN: 'r1',
    ENTROPO_TERMINATION_LOG: path.join(dir, 'termination'),
  });
  return { dir, ws, hidden, llm, prepare, agent, prepareGrading, grade };
}

test('four phases: view without answers, agent output, grading material without gold, graded trajectory in the store', async (t) => {
  const task = fixtureTask('calc-ph');
  const lookAround: typeof SOLVE_NATIVE = [
    { content: null, tool_calls: [{ name: 'file_editor', arguments: { command: 'view', path: '/workspace/repo/src/math.js' } }] },
    { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: 'pwd; ls /workspace/repo' } }] },
  ];
  const r = await phases(t, byTurn([...lookAround, ...SOLVE_NATIVE]), task);
  t.is(r.prepare.code, 0, r.prepare.stderr);
  t.is(r.agent.code, 0, r.agent.stderr);
  t.is(r.prepareGrading.code, 0, r.prepareGrading.stderr);
  t.is(r.grade.code, 0, r.grade.stderr);
  // The agent's view: the issue and where to work, nothing that grades.
  const viewText = await readFile(path.join(r.ws, 'task.json'), 'utf8');
  const view = JSON.parse(viewText);
  t.deepEqual(Object.keys(view).sort(), ['instance_id', 'language', 'problem_statement', 'repo', 'schema', 'test_framework', 'workTree']);
  // The work tree is shown at a fixed path, whatever the workspace's real one (the same prompt for every sample).
  t.is(view.workTree, '/workspace/repo');
  for (const secret of ['add adds', 'test/add.test.js', 'return a + b']) t.false(viewText.includes(secret), secret);
  // The workspace holds no hidden test and no gold patch anywhere.
  const all = await readdir(r.ws, { recursive: true });
  t.false(all.some((f) => f.endsWith('add.test.js')));
  // The grading material has the hidden tests but not the gold patch.
  const material = JSON.parse(await readFile(path.join(r.hidden, 'task.json'), 'utf8'));
  t.is(material.patch, '');
  t.is(material.test_patch, task.test_patch);
  // The model was told the fixed work tree; it was never sent anything of the hidden tests.
  const firstPrompt = JSON.stringify(r.llm.requests[0].body.messages);
  t.true(firstPrompt.includes('/workspace/repo'));
  t.false(firstPrompt.includes(r.ws));
  t.false(firstPrompt.includes('add adds'));
  const summary = JSON.parse(await readFile(path.join(r.dir, 'termination'), 'utf8'));
  t.like(summary, { task: 'calc-ph', sample: 2, trajectory: 'calc-ph/2/r1', exit: 'finished', resolved: true, reward: 1, hidden: { passed: 1, failed: 0 }, regression: { passed: 1, failed: 0 } });
  const stored = JSON.parse(await readFile(path.join(r.dir, 'store', summary.key), 'utf8'));
  t.is(stored.resolved, true);
  // The agent works at the fixed path: the editor and the shell both see /workspace/repo, never the real one.
  const seen = stored.messages.filter((m: { role: string }) => m.role === 'tool').map((m: { content: string }) => m.content).join('\n');
  t.regex(seen, /return a - b/);
  t.regex(seen, /\/workspace\/repo\n/);
  t.false(seen.includes(r.ws), seen);
  t.regex(stored.patch, /\+ {2}return a \+ b;/);
});

test('the agent phase refuses a task file or store, exits 2 naming the variable', async (t) => {
  const r = await entropo(['sandbox', 'agent'], { ENTROPO_WORKSPACE: '/nonexistent', ENTROPO_TASK_FILE: '/x.json', ENTROPO_ENDPOINT: 'http://127.0.0.1:1/v1', ENTROPO_MODEL: 'm' });
  t.is(r.code, 2);
  t.regex(r.stderr, /ENTROPO_TASK_FILE must not be given to the agent phase/);
});

test('an agent that cannot reach the model: agent exits 3 with its summary, grade reports no sample (3)', async (t) => {
  const r = await phases(t, () => ({ status: 400, error: 'bad request' }));
  t.is(r.agent.code, 3, r.agent.stderr);
  const agentSummary = JSON.parse(await readFile(path.join(r.dir, 'agent-termination'), 'utf8'));
  t.is(agentSummary.exit, 'model_error');
  t.is(r.grade.code, 3);
  t.like(JSON.parse(await readFile(path.join(r.dir, 'termination'), 'utf8')), { exit: 'model_error', resolved: false, reward: 0 });
});
