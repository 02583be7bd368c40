/**
 * The real-repository fixture (test/fixtures/real-repos: toolz, pyjwt, attrs rebuilt from their PyPI
 * sdists, venvs from PyPI) through `entropo grade` and `entropo rollout` as processes: gold patches
 * resolve, empty and regression-breaking ones do not, a patch that does not apply is an error
 * instance, the agent runs the task's tests in the venv (read-only, inside bwrap, as a user of its
 * own when the runner is root), and the user's checkouts (with their untracked .venv) are left
 * exactly as they were.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TrajectoryRecord } from '../../../operator/api/records.ts';
import { check } from '../../../operator/api/validate.ts';
import { startScriptedLLM, type ScriptedReply } from '../../helpers/scripted-llm.ts';
import { buildRealRepoFixture, type RealRepoFixture } from '../../fixtures/real-repos/build.ts';

const BIN = path.resolve('bin/entropo.js');

function entropo(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn', ...env }, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function tmp(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-real-repos-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fingerprint of a checkout: HEAD, git status (untracked files included), and every file's hash outside .git. */
async function fingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  const run = (args: string[]) =>
    new Promise<string>((resolve, reject) => execFile('git', args, { cwd: dir, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } }, (e, out) => (e ? reject(e) : resolve(out))));
  h.update(await run(['rev-parse', 'HEAD']));
  h.update(await run(['status', '--porcelain', '--ignored', '--untracked-files=all']));
  h.update(await run(['for-each-ref']));
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name === '.git') continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) h.update(p).update(await readFile(p));
    }
  };
  await walk(dir);
  return h.digest('hex');
}

let fx: RealRepoFixture;
let before: Record<string, string>;

test.before(async (t) => {
  t.timeout(20 * 60_000);
  fx = await buildRealRepoFixture();
  t.log(`fixture ${fx.dir} (${fx.built ? `built in ${fx.timings.total?.toFixed(0)} s` : 'cached'})`);
  before = {};
  for (const [repo, dir] of Object.entries(fx.checkouts)) before[repo] = await fingerprint(dir);
});

test.after.always(async (t) => {
  // Every test left every checkout as it found it (the untracked .venv included).
  if (!fx) return;
  for (const [repo, dir] of Object.entries(fx.checkouts)) t.is(await fingerprint(dir), before[repo], `${repo}: the checkout changed`);
});

test('the fixture is mined as SWE-bench mines tasks: one hidden test fails before the fix, the others pass before and after', (t) => {
  t.is(fx.tasks.length, 3);
  for (const task of fx.tasks) {
    t.regex(task.base_commit, /^[0-9a-f]{40}$/);
    t.is(task.FAIL_TO_PASS.length, 1, task.instance_id);
    t.true(task.PASS_TO_PASS.length >= 20, task.instance_id);
    t.false(task.PASS_TO_PASS.includes(task.FAIL_TO_PASS[0]));
    t.true(existsSync(path.join(fx.checkouts[task.repo], '.venv', 'pyvenv.cfg')));
  }
  const jwt = fx.tasks.find((x) => x.repo === 'jpadilla/pyjwt')!;
  t.deepEqual(jwt.FAIL_TO_PASS, ['tests/test_api_jwt.py::TestJWT::test_check_issuer_list_when_valid']);
  // the new test that passes at base too is a PASS_TO_PASS test, as the harness counts it
  t.true(jwt.PASS_TO_PASS.includes('tests/test_api_jwt.py::TestJWT::test_raise_exception_issuer_not_in_list'));
});

test('entropo grade: gold resolved; empty, regression-breaking and non-applying patches not; the harness reports and summary', async (t) => {
  const dir = await tmp(t);
  const preds = fx.tasks.flatMap((task) => [
    { instance_id: task.instance_id, model_name_or_path: 'org/gold', model_patch: task.patch },
    { instance_id: task.instance_id, model_name_or_path: 'empty', model_patch: '' },
    { instance_id: task.instance_id, model_name_or_path: 'breaking', model_patch: fx.regressionPatches[task.instance_id] },
  ]);
  // one that cannot apply, and one of a task the file does not have
  preds.push({ instance_id: fx.tasks[0].instance_id, model_name_or_path: 'garbled', model_patch: 'diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n' });
  preds.push({ instance_id: 'no-such-task', model_name_or_path: 'org/gold', model_patch: 'x' });
  await writeFile(path.join(dir, 'preds.jsonl'), preds.map((p) => JSON.stringify(p)).join('\n') + '\n{"broken json\n');
  const out = path.join(dir, 'out');
  const r = await entropo(['grade', '--predictions', path.join(dir, 'preds.jsonl'), '--tasks', fx.tasksFile, '--environments', fx.environmentsFile, '--out-dir', out, '--run-id', 'r1', '--max-workers', '3', '--no-progress']);
  t.is(r.code, 1, r.stderr); // the garbled patch is an error instance
  t.regex(r.stderr, /preds\.jsonl:12: not valid JSON/);
  t.regex(r.stderr, /no task no-such-task/);
  const summary = async (model: string) => JSON.parse(await readFile(path.join(out, `${model}.r1.json`), 'utf8'));
  const ids = fx.tasks.map((x) => x.instance_id).sort();
  t.like(await summary('org__gold'), { total_instances: 3, submitted_instances: 3, completed_instances: 3, resolved_instances: 3, unresolved_instances: 0, empty_patch_instances: 0, error_instances: 0, schema_version: 2 });
  t.deepEqual((await summary('org__gold')).resolved_ids, ids);
  t.like(await summary('empty'), { completed_instances: 0, resolved_instances: 0, empty_patch_instances: 3, error_instances: 0 });
  t.like(await summary('breaking'), { completed_instances: 3, resolved_instances: 0, unresolved_instances: 3, error_instances: 0 });
  t.like(await summary('garbled'), { total_instances: 3, submitted_instances: 1, error_instances: 1, completed_instances: 0 });
  t.deepEqual((await summary('garbled')).incomplete_ids.length, 2);
  for (const task of fx.tasks) {
    const base = path.join(out, 'logs', 'run_evaluation', 'r1');
    const gold = JSON.parse(await readFile(path.join(base, 'org__gold', task.instance_id, 'report.json'), 'utf8'))[task.instance_id];
    t.like(gold, { patch_exists: true, patch_successfully_applied: true, resolved: true });
    t.deepEqual(gold.tests_status.FAIL_TO_PASS, { success: task.FAIL_TO_PASS, failure: [] });
    t.is(gold.tests_status.PASS_TO_PASS.success.length, task.PASS_TO_PASS.length);
    t.regex(await readFile(path.join(base, 'org__gold', task.instance_id, 'test_output.txt'), 'utf8'), /passed/);
    const breaking = JSON.parse(await readFile(path.join(base, 'breaking', task.instance_id, 'report.json'), 'utf8'))[task.instance_id];
    t.false(breaking.resolved);
    t.deepEqual(breaking.tests_status.FAIL_TO_PASS.success, task.FAIL_TO_PASS, `${task.instance_id}: the wrong fix still passes the hidden test`);
    t.true(breaking.tests_status.PASS_TO_PASS.failure.length >= 1, `${task.instance_id}: a regression test fails`);
    t.false(existsSync(path.join(base, 'empty', task.instance_id)));
  }
  const garbled = path.join(out, 'logs', 'run_evaluation', 'r1', 'garbled', fx.tasks[0].instance_id);
  t.false(existsSync(path.join(garbled, 'report.json')));
  t.regex(await readFile(path.join(garbled, 'run_instance.log'), 'utf8'), /Patch Apply Failed/);
});

/** The patch of sample s: 0 gold, 1 none (the agent gives up), 2 regression-breaking. */
const patchFor = (task: RealRepoFixture['tasks'][number], sample: number): string | undefined => (sample === 0 ? task.patch : sample === 2 ? fx.regressionPatches[task.instance_id] : undefined);

test('entropo rollout on SWE-bench tasks from checkouts: the agent runs the tests in the read-only venv; gold resolved, empty and regression-breaking not', async (t) => {
  const dir = await tmp(t);
  const testFile = (task: RealRepoFixture['tasks'][number]) => task.FAIL_TO_PASS[0].split('::')[0];
  // The agent: (1) runs the task's tests with the environment's python and tries to write into the venv,
  // (2) applies the patch of its sample (sample = seed with --seed 0), (3) finishes.
  const llm = await startScriptedLLM((req, turn): ScriptedReply => {
    const prompt = String(req.body.messages[1].content);
    const task = fx.tasks.find((x) => prompt.includes(x.problem_statement.split('\n')[0]))!;
    const sample = req.body.seed as number;
    if (turn === 0) {
      return { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: `id -u; echo "venv=$VIRTUAL_ENV"; touch "$VIRTUAL_ENV/probe" 2>/dev/null && echo WRITABLE || echo READONLY; python -m pytest -q -p no:cacheprovider ${testFile(task)} 2>&1 | tail -3` } }] };
    }
    const patch = patchFor(task, sample);
    if (turn === 1 && patch) {
      return { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: `cat > /tmp/fix.diff <<'ENTROPO_EOF'\n${patch}ENTROPO_EOF\ngit apply /tmp/fix.diff && echo APPLIED` } }] };
    }
    return { content: 'Done.', tool_calls: [{ name: 'finish', arguments: { message: 'done' } }] };
  });
  t.teardown(() => llm.close());
  const out = path.join(dir, 'out');
  const r = await entropo([
    'rollout', '--tasks', fx.tasksFile, '--environments', fx.environmentsFile, '--endpoint', llm.url, '--model', 'scripted',
    '--samples', '3', '--seed', '0', '--concurrency', '3', '--max-steps', '6', '--tool-timeout', '300', '--out-dir', out, '--no-progress',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(llm.modelListRequests, 1);
  const trajectories: TrajectoryRecord[] = (await readFile(path.join(out, 'trajectories.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.is(trajectories.length, 9);
  for (const tr of trajectories) {
    t.true(check(TrajectoryRecord, tr).ok);
    const task = fx.tasks.find((x) => x.instance_id === tr.taskId)!;
    const first = String(tr.messages.find((m) => m.role === 'tool')?.content);
    t.regex(first, /READONLY/, `${tr.id}: the venv must be read-only in the sandbox`);
    // a root runner gives the agent's commands a user of their own
    if (process.getuid?.() === 0) t.not(first.trim().split('\n')[0], '0', tr.id);
    t.regex(first, new RegExp(`venv=${fx.checkouts[task.repo].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\.venv`), tr.id);
    // the agent ran the repository's own tests with the environment's interpreter: the hidden test is not there yet
    t.regex(first, /\d+ passed/, `${tr.id}: ${first}`);
    t.is(tr.exitReason, 'finished', tr.id);
    if (tr.sample === 0) {
      t.true(tr.resolved, `${tr.id}: gold must resolve (${tr.error ?? ''})`);
      t.is(tr.hidden.passed.length, 1);
      t.is(tr.regression.passed.length, task.PASS_TO_PASS.length);
    } else if (tr.sample === 1) {
      t.is(tr.patch, '', tr.id);
      t.false(tr.resolved);
    } else {
      t.false(tr.resolved, tr.id);
      t.deepEqual(tr.hidden.passed, task.FAIL_TO_PASS, tr.id);
      t.true(tr.regression.failed.length >= 1, tr.id);
    }
  }
  // The gold patch comes back as the agent's patch, byte for byte (as git diff prints it).
  const gold = trajectories.filter((x) => x.sample === 0);
  for (const g of gold) t.is(g.patch, fx.tasks.find((x) => x.instance_id === g.taskId)!.patch);
  t.regex(r.stdout, /\| TOTAL \| 9 \| 3 \| 33\.3% \|/);

  // entropo evaluate over these rollouts: the default pipeline (no verifier) drops the regression-breaking
  // sample (Regression AllPass), then prefers the gold one for its extra step (Steps Most).
  const evalDir = path.join(dir, 'eval');
  const ev = await entropo(['evaluate', path.join(out, 'trajectories.jsonl'), '--out-dir', evalDir]);
  t.is(ev.code, 0, ev.stderr);
  t.regex(ev.stdout, /pipeline Finished -> Regression -> Steps/);
  t.regex(ev.stdout, /\| pass@1 \| 33\.3% \|/);
  t.regex(ev.stdout, /\| best@N \| 100\.0% \|/);
  t.regex(ev.stdout, /\| 2 \| 66\.7% \| 66\.7% \| rank \|/);
  const evaluation = JSON.parse(await readFile(path.join(evalDir, 'evaluation.json'), 'utf8'));
  t.like(evaluation.metrics, { passAtN: 1, bestAtN: 1, oracleGap: 0, distinctPatchesPerTask: 3, selectionAccuracy: 1 });
  t.deepEqual(evaluation.decidedBy, { Steps: 3 });
  for (const sel of evaluation.selections) {
    t.regex(sel.selected, /\/0\/local$/);
    t.deepEqual(sel.steps.map((x: { step: string; before: number; after: number }) => [x.step, x.before, x.after]), [['Finished', 3, 3], ['Regression', 3, 2], ['Steps', 2, 1]]);
    t.regex(sel.explanation, /2\. Regression: 3 -> 2 \(2 of 3 pass every existing test\)/);
  }
  const selected = (await readFile(path.join(evalDir, 'predictions.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(selected.map((p) => p.model_patch).sort(), fx.tasks.map((x) => x.patch).sort());
  // and the selected predictions grade as resolved
  const g = await entropo(['grade', '--predictions', path.join(evalDir, 'predictions.jsonl'), '--tasks', fx.tasksFile, '--environments', fx.environmentsFile, '--out-dir', path.join(dir, 'graded'), '--no-progress']);
  t.is(g.code, 0, g.stderr);
  t.regex(g.stdout, /scripted: 3 instances, 3 submitted, 3 completed, 3 resolved, 0 unresolved, 0 empty patch, 0 error/);
});

test('entropo rollout refuses SWE-bench tasks whose checkout nobody names, before any rollout', async (t) => {
  const llm = await startScriptedLLM([]);
  t.teardown(() => llm.close());
  const dir = await tmp(t);
  const r = await entropo(['rollout', '--tasks', fx.tasksFile, '--endpoint', llm.url, '--model', 'scripted', '--out-dir', path.join(dir, 'out'), '--no-progress']);
  t.is(r.code, 2);
  for (const task of fx.tasks) t.regex(r.stderr, new RegExp(`task ${task.instance_id}: no checkout of ${task.repo} ${task.version}`));
  t.is(llm.requests.length, 0);
});
