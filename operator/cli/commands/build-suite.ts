/**
 * Computes a built-in suite's manifest (FAIL_TO_PASS / PASS_TO_PASS of every task) by running
 * the library's tests: at the base state without the hidden tests, at the base state with them,
 * and with the gold patch and them. Writes operator/tasks/suite/<suite>/manifest.json.
 *
 *   entropo build-suite [suite] [--jobs N] [--only id,id]
 *
 * Fails (exit 1) when a task is not a proper bug-fix task: no hidden test fails at base and
 * passes with gold, an existing test already catches the bug, or the gold patch breaks a test.
 */
import type { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SelfContainedTask } from '../../api/records.ts';
import { isPassing, type ParsedLog } from '../../grading/parse.ts';
import { runTaskTests } from '../../grading/evaluate.ts';
import { applyPatch, materialiseWorkTree } from '../../grading/worktree.ts';
import { buildTask, DEFAULT_SUITE, MANIFEST_FILE, readLibraries, readManifest, suiteRoot, type ManifestEntry } from '../../tasks/suite.ts';
import { tailChars } from '../../util/text.ts';

async function runAt(task: SelfContainedTask, patches: string[]): Promise<{ parsed: ParsedLog; output: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `entropo-suite-${task.instance_id}-`));
  try {
    await materialiseWorkTree(task, dir);
    for (const p of patches) {
      const r = await applyPatch(dir, p);
      if (!r.applied) throw new Error(`${task.instance_id}: patch did not apply: ${r.error}`);
    }
    const run = await runTaskTests(task, dir, 120);
    return { parsed: run.parsed, output: run.exec.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Test lists of one task, or the reasons it is not a proper task. */
export async function computeLists(task: SelfContainedTask): Promise<{ entry?: ManifestEntry; problems: string[] }> {
  const [visible, base, gold] = await Promise.all([runAt(task, []), runAt(task, [task.test_patch]), runAt(task, [task.patch, task.test_patch])]);
  const problems: string[] = [];
  const existing = new Set(visible.parsed.keys());
  const F2P: string[] = [];
  const P2P: string[] = [];
  for (const [id, s] of gold.parsed) {
    const before = base.parsed.get(id);
    if (isPassing(s) && !isPassing(before)) F2P.push(id);
    else if (isPassing(s) && isPassing(before)) P2P.push(id);
    else problems.push(`test ${id} does not pass with the gold patch (${s})`);
  }
  for (const id of F2P) if (existing.has(id)) problems.push(`existing test ${id} already catches the bug`);
  for (const [id, s] of visible.parsed) if (!isPassing(s) && !F2P.includes(id)) problems.push(`existing test ${id} fails at base (${s})`);
  if (F2P.length === 0) problems.push('no hidden test fails at base and passes with the gold patch');
  if (problems.length) problems.push(`--- gold run output ---\n${tailChars(gold.output, 3000)}`);
  return { entry: problems.length ? undefined : { FAIL_TO_PASS: F2P.sort(), PASS_TO_PASS: P2P.sort() }, problems };
}

async function pool<T>(items: T[], jobs: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

/** Recomputes the manifest of a suite (all tasks, or only some); returns the number of tasks that are not proper. */
export async function buildSuite(suite: string, jobs: number, only?: Set<string>): Promise<number> {
  const libs = await readLibraries(suite);
  const tasks = libs.flatMap((lib) => lib.def.tasks.filter((t) => !only || only.has(t.id)).map((t) => buildTask(lib, t)));
  const manifest = await readManifest(suite);
  if (!only) for (const k of Object.keys(manifest)) if (!tasks.some((t) => t.instance_id === k)) delete manifest[k];
  let failed = 0;
  const started = Date.now();
  await pool(tasks, jobs, async (task) => {
    const { entry, problems } = await computeLists(task);
    if (entry) {
      manifest[task.instance_id] = entry;
      console.log(`ok   ${task.instance_id}: FAIL_TO_PASS ${entry.FAIL_TO_PASS.length}, PASS_TO_PASS ${entry.PASS_TO_PASS.length}`);
    } else {
      failed++;
      delete manifest[task.instance_id];
      console.log(`FAIL ${task.instance_id}:\n  ${problems.join('\n  ')}`);
    }
  });
  const sorted = Object.fromEntries(Object.keys(manifest).sort().map((k) => [k, manifest[k]]));
  await writeFile(path.join(suiteRoot(), suite, MANIFEST_FILE), `${JSON.stringify(sorted, null, 1)}\n`);
  console.log(`${tasks.length - failed}/${tasks.length} tasks ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return failed;
}

export function registerBuildSuite(program: Command): void {
  program
    .command('build-suite')
    .description("compute a built-in suite's manifest.json (FAIL_TO_PASS / PASS_TO_PASS) by running its tests at base and with the gold patch")
    .argument('[suite]', 'suite name', DEFAULT_SUITE)
    .option('--jobs <n>', 'tasks run at once', String(Math.max(2, os.cpus().length)))
    .option('--only <ids>', 'comma-separated task ids (others keep their manifest entry)')
    .action(async (suite: string, opts: { jobs: string; only?: string }) => {
      const jobs = Number(opts.jobs);
      if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs: expected a positive integer, got ${JSON.stringify(opts.jobs)}`);
      const failed = await buildSuite(suite, jobs, opts.only ? new Set(opts.only.split(',')) : undefined);
      if (failed) process.exitCode = 1;
    });
}
