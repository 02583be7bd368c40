/**
 * The red team against the sandbox (issue 11 items 10-13), through whole rollouts with the scripted
 * endpoint and the real sandbox: an agent that hunts for the task files, the suite, the hidden tests,
 * the API key and the future of a SWE-bench checkout finds nothing, and nothing it starts outlives
 * it. Then the same attacks through the sandbox's phases as separate processes.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RolloutLimits, Sampling } from '../../../operator/api/common.ts';
import type { SweBenchTask, TrajectoryRecord } from '../../../operator/api/records.ts';
import { git, materialiseWorkTree } from '../../../operator/grading/worktree.ts';
import { runRolloutDetailed } from '../../../operator/rollout/rollout.ts';
import { isolationWorks } from '../../../operator/rollout/sandbox/isolation.ts';
import { Sandbox } from '../../../operator/rollout/sandbox/sandbox.ts';
import { suiteRoot } from '../../../operator/tasks/suite.ts';
import { startScriptedLLM, type Script, type ScriptedReply } from '../../helpers/scripted-llm.ts';
import { fixtureTask, SOLVE_NATIVE } from './helpers/fixture.ts';

const SAMPLING: Sampling = { temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 1024, seed: 1 };
const LIMITS: RolloutLimits = { maxSteps: 12, maxTokens: 65536, timeoutSeconds: 90, toolTimeoutSeconds: 20, toolCallFormat: 'Native' };
const bash = (command: string): ScriptedReply => ({ content: null, tool_calls: [{ name: 'execute_bash', arguments: { command } }] });
const byTurn =
  (replies: ScriptedReply[]): Script =>
  (_req, turn) =>
    replies[turn] ?? { content: 'done', tool_calls: [{ name: 'finish', arguments: {} }] };

/** Every tool observation of a trajectory, joined. */
const observations = (tr: TrajectoryRecord): string =>
  tr.messages
    .filter((m) => m.role === 'tool')
    .map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
    .join('\n');

const HAS_BWRAP = isolationWorks('bwrap', process.getuid?.() === 0 ? 250_000 : undefined);

test('10. bwrap shows the agent only the work tree, the runtime and the tools: no suite, no task file, no hidden tests', async (t) => {
  t.true(HAS_BWRAP, 'bubblewrap is needed here (.ci/apt-packages.txt lists it)');
  const task = fixtureTask('leak-10');
  // The task file on disk, as local mode keeps it, and the suite in the checkout.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-leak10-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const taskFile = path.join(dir, 'tasks.jsonl');
  await writeFile(taskFile, JSON.stringify(task));
  await chmod(dir, 0o755);
  const suiteYaml = path.join(suiteRoot(), 'entropo-bugs', 'lru-cache', 'entropo-tasks.yaml');
  const llm = await startScriptedLLM(
    byTurn([
      bash(`find / -xdev \\( -name 'entropo-tasks.yaml' -o -name 'tasks.jsonl' -o -name 'add.test.js' \\) 2>/dev/null | head; echo FIND-DONE`),
      bash(`cat ${taskFile} ${suiteYaml} 2>&1 | head -3; ls /work /root ${dir} 2>&1 | head`),
      ...SOLVE_NATIVE,
    ]),
  );
  t.teardown(() => llm.close());
  const out = await runRolloutDetailed({
    task,
    sample: 0,
    run: 'leak',
    model: 'scripted',
    endpoint: { baseURL: llm.url, maxRetries: 0 },
    sampling: SAMPLING,
    limits: LIMITS,
    sandbox: { isolation: 'bwrap' },
  });
  const seen = observations(out.trajectory);
  t.regex(seen, /FIND-DONE/);
  t.notRegex(seen, /entropo-tasks\.yaml\n|tasks\.jsonl\n|add\.test\.js/);
  t.false(seen.includes("test('add adds'"), 'hidden test text');
  t.false(seen.includes('"test_patch"'), 'task record');
  t.regex(seen, /No such file or directory/);
  // The agent still did its job in its tree, and grading (outside the sandbox) worked.
  t.true(out.trajectory.resolved, out.gradingLog);
});

test('12. a SWE-bench checkout keeps no future: no later commit, tag, branch, remote ref, reflog or stash', async (t) => {
  const fx = fixtureTask('calc-future');
  const repo = await mkdtemp(path.join(os.tmpdir(), 'entropo-future-'));
  t.teardown(() => rm(repo, { recursive: true, force: true }));
  const base = await materialiseWorkTree(fx, repo);
  // The future: the fix committed, tagged, on a branch, in a remote-tracking ref, then HEAD moved back.
  await writeFile(path.join(repo, 'src/math.js'), fx.files['src/math.js'].replace('a - b', 'a + b'));
  for (const args of [['commit', '-qam', 'the fix'], ['tag', 'v2.0'], ['branch', 'fixed'], ['update-ref', 'refs/remotes/origin/main', 'HEAD'], ['checkout', '-q', base]]) {
    t.is((await git(repo, args)).code, 0, args.join(' '));
  }
  const future = (await git(repo, ['rev-parse', 'fixed'])).output.trim();
  const swe: SweBenchTask = {
    instance_id: 'calc__future-1', repo: 'calc/calc', base_commit: base, problem_statement: fx.problem_statement,
    patch: fx.patch, test_patch: fx.test_patch, FAIL_TO_PASS: fx.FAIL_TO_PASS, PASS_TO_PASS: fx.PASS_TO_PASS,
    test_command: fx.test_command, test_framework: 'node',
  };
  const probe = `git log --all --oneline; git tag; git branch -a; git reflog --all | head; git stash list; git cat-file -t ${future} 2>&1; git rev-parse HEAD`;
  for (const mode of ['clone', 'in place'] as const) {
    const sandbox = mode === 'clone' ? await Sandbox.create(swe, { repoDir: repo, inPlace: false, isolation: 'none' }) : await Sandbox.open(repo, { historyBase: base, isolation: 'none' });
    try {
      const r = await sandbox.exec(probe, 30);
      t.false(r.output.includes(future.slice(0, 7)), `${mode}: ${r.output}`);
      t.notRegex(r.output, /v2\.0|fixed|origin|the fix/, mode);
      t.regex(r.output, /could not get object info|Not a valid object name|fatal/i, mode);
      t.true(r.output.includes(base), mode);
    } finally {
      await sandbox.dispose();
    }
  }
});

test('12. grading too: a candidate whose code looks up the fix in a later commit at test time finds none', async (t) => {
  const fx = fixtureTask('calc-future-grading');
  const repo = await mkdtemp(path.join(os.tmpdir(), 'entropo-future-g-'));
  t.teardown(() => rm(repo, { recursive: true, force: true }));
  const base = await materialiseWorkTree(fx, repo);
  await writeFile(path.join(repo, 'src/math.js'), fx.files['src/math.js'].replace('a - b', 'a + b'));
  for (const args of [['commit', '-qam', 'the fix'], ['branch', 'fixed'], ['checkout', '-q', base]]) t.is((await git(repo, args)).code, 0);
  const swe: SweBenchTask = {
    instance_id: 'calc__future-2', repo: 'calc/calc', base_commit: base, problem_statement: fx.problem_statement,
    patch: fx.patch, test_patch: fx.test_patch, FAIL_TO_PASS: fx.FAIL_TO_PASS, PASS_TO_PASS: fx.PASS_TO_PASS,
    test_command: fx.test_command, test_framework: 'node',
  };
  // The "solution": at import, take src/math.js from the newest commit of any ref and use its add.
  const cheat = [
    "import { execSync } from 'node:child_process';",
    'let future = "";',
    "try { future = execSync('for c in $(git rev-list --all); do git show $c:src/math.js; done', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }); } catch {}",
    "export const add = future.includes('return a + b') ? (a, b) => a + b : (a, b) => a - b;",
  ].join('\n');
  const llm = await startScriptedLLM(
    byTurn([{ content: null, tool_calls: [{ name: 'file_editor', arguments: { command: 'str_replace', path: 'src/math.js', old_str: 'export function add(a, b) {\n  return a - b;\n}', new_str: cheat } }] }]),
  );
  t.teardown(() => llm.close());
  const out = await runRolloutDetailed({
    task: swe,
    sample: 0,
    run: 'leak',
    model: 'scripted',
    endpoint: { baseURL: llm.url, maxRetries: 0 },
    sampling: SAMPLING,
    limits: LIMITS,
    sandbox: { repoDir: repo, inPlace: false },
  });
  t.regex(out.trajectory.patch, /git rev-list --all/);
  t.false(out.trajectory.resolved, out.gradingLog);
  t.deepEqual(out.trajectory.hidden.passed, []);
});

test('13. processes that outlive the agent (setsid nohup) are dead before grading', async (t) => {
  const marker = `93.${process.pid}${Date.now() % 100000}`;
  const llm = await startScriptedLLM(byTurn([bash(`setsid nohup sleep ${marker} >/dev/null 2>&1 & disown; echo started`), ...SOLVE_NATIVE]));
  t.teardown(() => llm.close());
  const modes = (['bwrap', 'unshare', 'none'] as const).filter((m) => isolationWorks(m, process.getuid?.() === 0 ? 250_000 : undefined));
  for (const isolation of modes) {
    const out = await runRolloutDetailed({
      task: fixtureTask('leak-13'),
      sample: 0,
      run: 'leak',
      model: 'scripted',
      endpoint: { baseURL: llm.url, maxRetries: 0 },
      sampling: SAMPLING,
      limits: LIMITS,
      sandbox: { isolation },
    });
    t.true(out.trajectory.resolved, `${isolation}: ${out.trajectory.error}`);
    const alive: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      if (cmd === `sleep\0${marker}\0` && !/^\d+ \(.*\) Z/.test(stat)) alive.push(pid);
    }
    t.deepEqual(alive, [], `${isolation}: the agent's background process survived`);
  }
  t.true(modes.length >= 2, `isolation modes tried: ${modes.join(', ')}`);
});

const BIN = path.resolve('bin/entropo.js');
function entropo(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ENTROPO_') && !k.startsWith('OPENAI_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ENTROPO_LOG_LEVEL: 'warn', ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('11. the agent phase (its own process): no API key in any /proc environ it can read, no task path, no hidden volume', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-leak11-'));
  await chmod(dir, 0o711);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const task = fixtureTask('leak-11');
  const taskFile = path.join(dir, 'task.json');
  await writeFile(taskFile, JSON.stringify(task));
  const ws = path.join(dir, 'ws');
  const hidden = path.join(dir, 'hidden');
  t.is((await entropo(['sandbox', 'prepare'], { ENTROPO_TASK_FILE: taskFile, ENTROPO_WORKSPACE: ws })).code, 0);
  t.is((await entropo(['sandbox', 'prepare-grading'], { ENTROPO_TASK_FILE: taskFile, ENTROPO_HIDDEN: hidden })).code, 0);
  const llm = await startScriptedLLM(
    byTurn([
      bash('for p in /proc/[0-9]*; do tr "\\0" "\\n" < $p/environ 2>/dev/null; done | sort -u; echo ENV-DONE; env'),
      bash(`cat /proc/$PPID/cmdline 2>&1 | tr "\\0" " "; ls ${hidden} ${dir} 2>&1; cat ${taskFile} 2>&1 | head -c 300`),
      ...SOLVE_NATIVE,
    ]),
  );
  t.teardown(() => llm.close());
  const agent = await entropo(['sandbox', 'agent'], {
    ENTROPO_WORKSPACE: ws,
    ENTROPO_ENDPOINT: llm.url,
    ENTROPO_API_KEY: 'sk-very-secret-agent-key',
    ENTROPO_MODEL: 'scripted',
    ENTROPO_LIMITS: JSON.stringify(LIMITS),
    ENTROPO_TERMINATION_LOG: path.join(dir, 'agent-termination'),
  });
  t.is(agent.code, 0, agent.stderr);
  const handOff = JSON.parse(await readFile(path.join(ws, 'out', 'agent.json'), 'utf8'));
  const seen = observations(handOff.record);
  t.regex(seen, /ENV-DONE/);
  t.false(seen.includes('sk-very-secret-agent-key'), 'API key readable by the agent');
  t.false(seen.includes(taskFile) && !/No such file|Permission denied/.test(seen), 'task file readable');
  t.false(seen.includes("test('add adds'"), 'hidden test text');
  t.false(seen.includes('"test_patch"'), 'task record');
  // Grading still works from the hidden volume.
  const grade = await entropo(['sandbox', 'grade'], { ENTROPO_WORKSPACE: ws, ENTROPO_HIDDEN: hidden, ENTROPO_STORE_URI: `file://${dir}/store`, ENTROPO_TERMINATION_LOG: path.join(dir, 'termination') });
  t.is(grade.code, 0, grade.stderr);
  t.like(JSON.parse(await readFile(path.join(dir, 'termination'), 'utf8')), { resolved: true, reward: 1 });
});
