/**
 * The built-in suite "entropo-bugs", task by task, graded with evaluatePatch exactly as
 * rollouts are: the base state fails every FAIL_TO_PASS test and passes every PASS_TO_PASS
 * test, the gold patch resolves the task, the empty patch does not, and a patch that fixes the
 * bug but breaks something else is not resolved.
 */
import test from 'ava';
import os from 'node:os';
import { SelfContainedTask } from '../../../operator/api/records.ts';
import { check } from '../../../operator/api/validate.ts';
import { evaluatePatch } from '../../../operator/grading/evaluate.ts';
import { isPassing, parseTestLog } from '../../../operator/grading/parse.ts';
import { buildTask, loadBuiltinSuite, readLibraries, readManifest } from '../../../operator/tasks/suite.ts';

const tasks = await loadBuiltinSuite({ suite: 'entropo-bugs', split: 'all' });
// Train-task variants (renamed identifiers, shifted lines, reworded issues; operator/policy/variants.yaml).
const variants = await loadBuiltinSuite({ suite: 'entropo-bugs-variants', split: 'all' });

// At most this many test runs at once (each is a git work tree plus a test runner process).
const CONCURRENCY = Math.max(2, Math.min(4, os.availableParallelism?.() ?? 2));
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  while (running >= CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const count = <T>(xs: T[], key: (x: T) => string) => xs.reduce<Record<string, number>>((m, x) => ((m[key(x)] = (m[key(x)] ?? 0) + 1), m), {});

test('the suite: size, libraries, languages, splits and difficulties', async (t) => {
  t.true(tasks.length >= 60, `${tasks.length} tasks`);
  const byRepo = count(tasks, (x) => x.repo);
  t.true(Object.keys(byRepo).length >= 12, JSON.stringify(byRepo));
  t.true(Object.values(byRepo).every((n) => n >= 4), JSON.stringify(byRepo));
  const byLang = count(tasks, (x) => x.language);
  t.true(byLang.javascript >= 25 && byLang.python >= 25, JSON.stringify(byLang));
  t.deepEqual(Object.keys(count(tasks, (x) => x.test_framework)).sort(), ['node', 'pytest', 'unittest']);
  const bySplit = count(tasks, (x) => x.split ?? 'none');
  const trainShare = bySplit.train / tasks.length;
  t.true(trainShare > 0.55 && trainShare < 0.75, JSON.stringify(bySplit));
  for (const split of ['train', 'eval'] as const) {
    const langs = count(tasks.filter((x) => x.split === split), (x) => x.language);
    t.true(langs.javascript >= 5 && langs.python >= 5, `${split}: ${JSON.stringify(langs)}`);
  }
  const byDifficulty = count(tasks, (x) => x.difficulty ?? 'none');
  t.deepEqual(Object.keys(byDifficulty).sort(), ['easy', 'hard', 'medium']);
  t.true(byDifficulty.hard >= 6, JSON.stringify(byDifficulty));
  t.is(new Set(tasks.map((x) => x.instance_id)).size, tasks.length, 'unique ids');
  const train = await loadBuiltinSuite({ split: 'train' });
  const evalSplit = await loadBuiltinSuite({ split: 'eval' });
  t.is(train.length + evalSplit.length, tasks.length);
  t.true(train.every((x) => x.split === 'train') && evalSplit.every((x) => x.split === 'eval'));
  const manifest = await readManifest('entropo-bugs');
  t.deepEqual(Object.keys(manifest).sort(), tasks.map((x) => x.instance_id).sort(), 'manifest.json has exactly the defined tasks');
  t.log(`${tasks.length} tasks: ${JSON.stringify({ byLang, bySplit, byDifficulty, byRepo })}`);
});

test('every task is a valid SelfContainedTask whose issue does not give the fix away', (t) => {
  for (const task of tasks) {
    const r = check(SelfContainedTask, task);
    t.true(r.ok, `${task.instance_id}: ${JSON.stringify(r.ok ? '' : r.errors)}`);
    t.true(task.FAIL_TO_PASS.length >= 1 && task.PASS_TO_PASS.length >= 5, task.instance_id);
    t.true(task.patch.startsWith('diff --git ') && task.test_patch.includes('new file mode'), task.instance_id);
    t.is(task.FAIL_TO_PASS.filter((id) => task.PASS_TO_PASS.includes(id)).length, 0, task.instance_id);
    // The lines the gold patch adds must not appear in the issue text.
    const added = task.patch
      .split('\n')
      .filter((l) => l.startsWith('+') && !l.startsWith('+++'))
      .map((l) => l.slice(1).trim())
      .filter((l) => l.length >= 12);
    for (const line of added) t.false(task.problem_statement.includes(line), `${task.instance_id} issue contains the fix: ${line}`);
    t.true(task.problem_statement.length > 200, `${task.instance_id}: issue too short`);
  }
});

test('the variant suite: one eval-split variant per listed train task, with a reworded issue and shifted lines', (t) => {
  t.true(variants.length >= 4, `${variants.length} variants`);
  for (const v of variants) {
    const original = tasks.find((x) => `${x.instance_id}-variant` === v.instance_id);
    t.truthy(original, `${v.instance_id} varies a task of entropo-bugs`);
    t.is(original!.split, 'train');
    t.is(v.split, 'eval');
    t.not(v.problem_statement, original!.problem_statement);
    t.not(v.patch, original!.patch, `${v.instance_id}: the gold patch differs (lines shifted, names changed)`);
  }
});

for (const task of [...tasks, ...variants]) {
  test(`${task.instance_id}: base fails FAIL_TO_PASS, gold resolves, empty patch does not`, async (t) => {
    const [base, gold] = await Promise.all([limited(() => evaluatePatch(task, '')), limited(() => evaluatePatch(task, task.patch))]);
    t.true(base.applied);
    t.false(base.resolved, base.log);
    t.is(base.reward, 0);
    t.deepEqual(base.hidden.passed, [], 'every FAIL_TO_PASS test fails at the base state');
    t.deepEqual(base.regression.failed, [], 'every PASS_TO_PASS test passes at the base state');

    t.true(gold.applied, gold.applyError);
    t.is(gold.applyMethod, 'git-apply');
    t.true(gold.resolved, gold.log.slice(-4000));
    t.is(gold.reward, 1);
    // PASS_TO_PASS is complete: every test that passes with the gold patch is listed.
    const output = gold.log.slice(gold.log.indexOf('----- test output -----'));
    // (The canary tests grading adds to the hidden test file are not the task's.)
    const canary = /entropo[ _]canary|EntropoCanary/i;
    const passing = [...parseTestLog(task.test_framework, output)].filter(([id, s]) => isPassing(s) && !canary.test(id)).map(([id]) => id);
    t.regex(gold.log, /canary tests \(nonce [0-9a-f]+\) in /);
    t.deepEqual(passing.sort(), [...task.FAIL_TO_PASS, ...task.PASS_TO_PASS].sort());
  });
}

test('patches that fix the bug but break another feature are graded not resolved', async (t) => {
  const [libs, manifest] = await Promise.all([readLibraries('entropo-bugs'), readManifest('entropo-bugs')]);
  const sample = libs.flatMap((lib) => lib.def.tasks.filter((d) => d.regression_break).map((d) => buildTask(lib, d, manifest[d.id])));
  t.true(sample.length >= 10, `${sample.length} tasks with a regression-breaking patch`);
  t.true(new Set(sample.map((s) => s.language)).size === 2);
  const results = await Promise.all(sample.map((task) => limited(async () => [task, await evaluatePatch(task, task.regression_break_patch as string)] as const)));
  for (const [task, r] of results) {
    t.true(r.applied, `${task.instance_id}: ${r.applyError}`);
    t.deepEqual(r.hidden.failed, [], `${task.instance_id}: the bug is fixed`);
    t.true(r.regression.failed.length > 0, `${task.instance_id}: a PASS_TO_PASS test breaks`);
    t.false(r.resolved, task.instance_id);
    t.is(r.reward, 0);
  }
});
