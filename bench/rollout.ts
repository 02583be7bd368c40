/**
 * Benchmark of the rollout machinery (not a test): `npm run bench:rollout`.
 *
 * Rollouts of a scripted endpoint (test/helpers/scripted-llm.ts: a real HTTP chat-completions
 * server; the model's time is ~0) over small self-contained tasks, at several concurrencies. The
 * scripted agent does what a real one does at least once: looks at the code, applies the fix
 * with execute_bash, runs the task's tests, finishes. Every rollout is graded (evaluatePatch).
 *
 * Reported: rollouts per minute, and the sandbox overhead per rollout: work-tree setup + patch
 * + grading, against the time of the task's tests alone (the test command run once in a ready
 * tree, median of 3) — the floor of any grading.
 *
 * Flags: --rollouts N per concurrency (default 8), --concurrency 1,2,4 (default),
 * --tasks builtin|fixture (default builtin when the built-in suite loads), --isolation auto|bwrap|unshare|none.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RolloutLimits, Sampling } from '../operator/api/common.ts';
import { isSelfContained, type SelfContainedTask, type TaskRecord } from '../operator/api/records.ts';
import { runTaskTests } from '../operator/grading/evaluate.ts';
import { applyPatch, materialiseWorkTree } from '../operator/grading/worktree.ts';
import { logger } from '../operator/logging/logger.ts';
import { runBatch } from '../operator/rollout/batch.ts';
import { isSample } from '../operator/rollout/trajectory.ts';
import { Sandbox } from '../operator/rollout/sandbox/sandbox.ts';
import { defaultIsolation, isolationWorks, ISOLATIONS, type Isolation } from '../operator/rollout/sandbox/isolation.ts';
import { startScriptedLLM, type ScriptedReply } from '../test/helpers/scripted-llm.ts';
import { fixtureTask } from '../test/integration/rollout/helpers/fixture.ts';

const { values } = parseArgs({
  options: {
    rollouts: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '1,2,4' },
    tasks: { type: 'string' },
    isolation: { type: 'string', default: 'auto' },
  },
});
if (!process.env.ENTROPO_LOG_LEVEL) logger.level = 'warn';
const ROLLOUTS = Number(values.rollouts);
const CONCURRENCY = values.concurrency!.split(',').map(Number);

async function loadTasks(): Promise<{ kind: string; tasks: SelfContainedTask[] }> {
  if (values.tasks !== 'fixture') {
    try {
      const { loadBuiltinSuite } = await import('../operator/tasks/suite.ts');
      const all = (await loadBuiltinSuite({ split: 'all' })).filter(isSelfContained);
      if (all.length) return { kind: `built-in suite (${Math.min(4, all.length)} tasks)`, tasks: all.slice(0, 4) };
    } catch (e) {
      if (values.tasks === 'builtin') throw e;
      process.stderr.write(`built-in suite not loaded (${(e as Error).message.split('\n')[0]}); using the fixture task\n`);
    }
  }
  return { kind: 'fixture task (node --test, 2 tests)', tasks: [fixtureTask('calc-1'), fixtureTask('calc-2')].map((t, i) => ({ ...t, problem_statement: `${t.problem_statement} (#${i})` })) };
}

/** The scripted agent for a task: view, fix (the gold patch through execute_bash), test, finish. */
function agentFor(task: SelfContainedTask): ScriptedReply[] {
  const first = Object.keys(task.files).sort()[0];
  return [
    { content: 'Looking around.', tool_calls: [{ name: 'file_editor', arguments: { command: 'view', path: first } }] },
    { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: `git apply <<'ENTROPO_PATCH'\n${task.patch}\nENTROPO_PATCH` } }] },
    { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: task.test_command } }] },
    { content: 'Done.', tool_calls: [{ name: 'finish', arguments: {} }] },
  ];
}

async function testsAlone(task: SelfContainedTask): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-bench-tests-'));
  try {
    await materialiseWorkTree(task, dir);
    await applyPatch(dir, task.patch);
    await applyPatch(dir, task.test_patch);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push((await runTaskTests(task, dir, 300)).exec.seconds);
    return times.sort((a, b) => a - b)[1];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const f = (x: number, d = 2) => x.toFixed(d);

const { kind, tasks } = await loadTasks();
const byStatement = new Map(tasks.map((t) => [t.problem_statement, agentFor(t)]));
const llm = await startScriptedLLM((req, turn) => {
  const user = String(req.body.messages?.[1]?.content ?? '');
  for (const [statement, script] of byStatement) if (user.includes(statement)) return script[turn] ?? { content: 'done' };
  return { content: 'unknown task' };
});
const sampling: Sampling = { temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 1024 };
const limits: RolloutLimits = { maxSteps: 10, maxTokens: 131072, timeoutSeconds: 300, toolTimeoutSeconds: 120, toolCallFormat: 'Native' };

const alone = new Map<string, number>();
for (const t of tasks) alone.set(t.instance_id, await testsAlone(t));
const testsAloneMean = mean([...alone.values()]);

interface Row { label: string; c: number; n: number; wall: number; perMin: number; setup: number; diff: number; grading: number; agent: number; resolved: number; errors: number; isolation: string }
const rows: Row[] = [];
const iso = values.isolation as Isolation | 'auto';
const resolvedIso = iso === 'auto' ? defaultIsolation(process.getuid?.() === 0 ? 250_000 : undefined) : iso;
const plan: { c: number; isolation: Isolation | 'auto'; label: string }[] = CONCURRENCY.map((c) => ({ c, isolation: iso, label: resolvedIso }));
if (resolvedIso !== 'none') plan.push({ c: 1, isolation: 'none', label: 'none' });

for (const p of plan) {
  const chosen: TaskRecord[] = Array.from({ length: ROLLOUTS }, (_, i) => tasks[i % tasks.length]);
  const r = await runBatch({ tasks: chosen, samples: 1, concurrency: p.c, run: 'bench', model: 'scripted', endpoint: { baseURL: llm.url }, sampling, limits, sandbox: { isolation: p.isolation } });
  rows.push({
    label: p.label,
    c: p.c,
    n: r.trajectories.length,
    wall: r.seconds,
    perMin: (60 * r.trajectories.length) / r.seconds,
    setup: mean(r.phases.map((x) => x.setupSeconds)),
    diff: mean(r.phases.map((x) => x.diffSeconds)),
    grading: mean(r.phases.map((x) => x.gradingSeconds)),
    agent: mean(r.phases.map((x) => x.agentSeconds)),
    resolved: r.trajectories.filter((t) => t.resolved).length,
    errors: r.trajectories.filter((t) => !isSample(t)).length,
    isolation: p.label,
  });
  process.stderr.write(`concurrency ${p.c} (${p.label}): ${r.trajectories.length} rollouts in ${f(r.seconds)} s\n`);
}
await llm.close();

/** Cost of one command in the sandbox (`true`, mean of 20), per isolation mode that works here. */
const perCommand: { isolation: Isolation; ms: number }[] = [];
for (const mode of ISOLATIONS) {
  if (!isolationWorks(mode, process.getuid?.() === 0 ? 250_000 : undefined)) continue;
  const sb = await Sandbox.create(tasks[0], { isolation: mode });
  try {
    await sb.exec('true', 10);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await sb.exec('true', 10);
    perCommand.push({ isolation: mode, ms: Number(process.hrtime.bigint() - t0) / 1e6 / 20 });
  } finally {
    await sb.dispose();
  }
}

const base = rows[0];
console.log(`## Rollout benchmark\n`);
console.log(`${kind}; ${os.cpus().length} CPUs; Node ${process.version}; scripted endpoint (4 turns: view, apply fix, run tests, finish); every rollout graded.`);
console.log(`Tests alone (test command once in a ready tree, median of 3, mean over tasks): ${f(testsAloneMean, 3)} s.\n`);
console.log('| isolation | concurrency | rollouts | resolved | no sample | wall s | rollouts/min | x vs first row | setup s | patch s | grading s | agent s | (setup+patch+grading) / tests alone |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const overhead = (r.setup + r.diff + r.grading) / testsAloneMean;
  console.log(`| ${r.isolation} | ${r.c} | ${r.n} | ${r.resolved} | ${r.errors} | ${f(r.wall)} | ${f(r.perMin, 1)} | ${f(r.perMin / base.perMin)} | ${f(r.setup, 3)} | ${f(r.diff, 3)} | ${f(r.grading, 3)} | ${f(r.agent, 3)} | ${f(overhead)} |`);
}
console.log('\nsetup: work tree (files, git init + commit, chown); patch: git diff against the base; grading: a clean copy, patch, hidden tests, the test command;');
console.log('agent: the 4 turns, including one run of the task\'s tests inside the sandbox.');
console.log(`\nOne command (\`true\`) in the sandbox, mean of 20: ${perCommand.map((p) => `${p.isolation} ${f(p.ms, 1)} ms`).join(', ')}.`);
