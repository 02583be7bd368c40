/**
 * Built-in task suites shipped in the repository (operator/tasks/suite/<suite>/). A suite is a
 * set of small, real libraries; each library directory holds the library's correct sources and
 * its own tests, plus `entropo-tasks.yaml` describing bug-fix tasks:
 *
 *   library, language, test_framework, test_command, hidden_dir
 *   tasks: [{ id, split, difficulty, issue, bug: [{file, find, replace}], hidden, regression_break? }]
 *
 * A task's base state is the library with its bug edits applied (find -> replace, each `find`
 * occurring exactly once); the gold patch is the reverse (base -> correct sources); the
 * test_patch adds the hidden test file. FAIL_TO_PASS / PASS_TO_PASS come from the suite's
 * manifest.json, which `entropo build-suite` computes by running the tests at
 * the base state and with the gold patch (SWE-bench's definition: FAIL_TO_PASS fail before and
 * pass after; PASS_TO_PASS pass before and after).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { SelfContainedTask, TestFramework } from '../api/records.ts';
import { unifiedDiff } from './diff.ts';
import { headChars } from '../util/text.ts';

export const DEFAULT_SUITE = 'entropo-bugs';
export const TASKS_FILE = 'entropo-tasks.yaml';
export const MANIFEST_FILE = 'manifest.json';

export interface BugEdit {
  file: string;
  find: string;
  replace: string;
}

export interface TaskDefinition {
  id: string;
  split: 'train' | 'eval';
  difficulty: 'easy' | 'medium' | 'hard';
  /** The issue as a user reports it: symptoms, reproduction, expected vs actual. */
  issue: string;
  /** Edits that introduce the bug into the correct sources. */
  bug: BugEdit[];
  /** Text of the hidden test file (added by test_patch). */
  hidden: string;
  /** Optional edits on top of the gold fix that break an existing test (used to test grading). */
  regression_break?: BugEdit[];
}

export interface LibraryDefinition {
  library: string;
  language: 'python' | 'javascript';
  test_framework: TestFramework;
  test_command: string;
  /** Directory of the hidden test file: <hidden_dir>/<prefix><id><suffix>. */
  hidden_dir: string;
  tasks: TaskDefinition[];
}

export interface Library {
  def: LibraryDefinition;
  /** The library's correct sources and tests: relative path -> text. */
  files: Record<string, string>;
}

export interface ManifestEntry {
  FAIL_TO_PASS: string[];
  PASS_TO_PASS: string[];
}
export type SuiteManifest = Record<string, ManifestEntry>;

/** Where the suites live: $ENTROPO_SUITE_DIR, next to this module, or the checkout's sources (from dist/). */
export function suiteRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    process.env.ENTROPO_SUITE_DIR,
    path.join(here, 'suite'),
    path.join(here, '..', '..', '..', 'operator', 'tasks', 'suite'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`built-in task suites not found (looked in ${candidates.join(', ')})`);
  return found;
}

export async function listSuites(): Promise<string[]> {
  const entries = await readdir(suiteRoot(), { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

const IGNORED = new Set(['__pycache__', 'node_modules', '.pytest_cache', TASKS_FILE]);

async function readTree(root: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (IGNORED.has(e.name) || e.name.endsWith('.pyc')) continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, await readTree(root, p));
    else if (e.isFile()) out[p] = await readFile(path.join(root, p), 'utf8');
  }
  return out;
}

/** Reads every library of a suite (sorted by name). */
export async function readLibraries(suite = DEFAULT_SUITE): Promise<Library[]> {
  const dir = path.join(suiteRoot(), suite);
  if (!existsSync(dir)) throw new Error(`unknown built-in suite ${JSON.stringify(suite)} (have: ${(await listSuites()).join(', ')})`);
  const libs: Library[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const libDir = path.join(dir, e.name);
    const def = YAML.parse(await readFile(path.join(libDir, TASKS_FILE), 'utf8')) as LibraryDefinition;
    libs.push({ def, files: await readTree(libDir) });
  }
  return libs;
}

export async function readManifest(suite = DEFAULT_SUITE): Promise<SuiteManifest> {
  const file = path.join(suiteRoot(), suite, MANIFEST_FILE);
  return existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as SuiteManifest) : {};
}

const indentOf = (l: string) => /^[ \t]*/.exec(l)![0];

/** Removes the indentation common to the non-blank lines. */
function dedent(lines: string[]): string[] {
  const ind = lines.filter((l) => l.trim() !== '').map((l) => indentOf(l).length);
  const n = ind.length ? Math.min(...ind) : 0;
  return lines.map((l) => l.slice(Math.min(n, indentOf(l).length)));
}

/**
 * Finds `find` in text: verbatim, or else as whole lines whose indentation differs from the
 * source by a constant prefix (so YAML block scalars can hold code without its indentation).
 * Returns every match as [start, end, replacement].
 */
function locate(text: string, find: string, replace: string): [number, number, string][] {
  const hits: [number, number, string][] = [];
  for (let at = text.indexOf(find); at >= 0; at = text.indexOf(find, at + 1)) hits.push([at, at + find.length, replace]);
  if (hits.length || !find.includes('\n')) return hits;
  const want = dedent(find.replace(/\n$/, '').split('\n'));
  const lines = text.split('\n');
  const offsets: number[] = [];
  lines.reduce((o, l) => (offsets.push(o), o + l.length + 1), 0);
  for (let i = 0; i + want.length <= lines.length; i++) {
    const pre = indentOf(lines[i]);
    const ok = want.every((w, k) => (w === '' ? lines[i + k].trim() === '' : lines[i + k] === pre + w));
    if (!ok) continue;
    const end = offsets[i + want.length - 1] + lines[i + want.length - 1].length + (find.endsWith('\n') ? 1 : 0);
    const repl = dedent(replace.replace(/\n$/, '').split('\n'))
      .map((l) => (l === '' ? l : pre + l))
      .join('\n');
    hits.push([offsets[i], end, replace === '' ? '' : repl + (replace.endsWith('\n') ? '\n' : '')]);
  }
  return hits;
}

/**
 * Applies edits; each `find` must occur exactly once in its file (verbatim, or as whole lines
 * up to a constant indentation, see locate). Pure.
 */
export function applyEdits(files: Record<string, string>, edits: readonly BugEdit[], what: string): Record<string, string> {
  const out = { ...files };
  for (const [i, e] of edits.entries()) {
    const text = out[e.file];
    if (text === undefined) throw new Error(`${what}: edit ${i} names missing file ${e.file}`);
    const hits = locate(text, e.find, e.replace);
    if (hits.length === 0) throw new Error(`${what}: edit ${i}: text to find not in ${e.file}: ${JSON.stringify(headChars(e.find, 60))}`);
    if (hits.length > 1) throw new Error(`${what}: edit ${i}: text to find occurs ${hits.length} times in ${e.file}`);
    const [start, end, repl] = hits[0];
    out[e.file] = text.slice(0, start) + repl + text.slice(end);
  }
  return out;
}

/** The hidden test file's path for a task. */
export function hiddenTestPath(def: LibraryDefinition, taskId: string): string {
  const slug = taskId.replace(/^[^-]+-/, '').replace(/[^A-Za-z0-9]+/g, def.language === 'python' ? '_' : '-');
  return def.language === 'python' ? `${def.hidden_dir}/test_issue_${slug}.py` : `${def.hidden_dir}/issue-${slug}.test.js`;
}

/**
 * Builds one self-contained task (pure). Without a manifest entry the test lists are empty
 * (the suite builder computes them).
 */
export function buildTask(lib: Library, t: TaskDefinition, lists?: ManifestEntry): SelfContainedTask & { regression_break_patch?: string } {
  const what = `${lib.def.library}/${t.id}`;
  const base = applyEdits(lib.files, t.bug, what);
  const changed = [...new Set(t.bug.map((e) => e.file))].sort();
  const patch = changed.map((f) => unifiedDiff(f, base[f], lib.files[f])).join('');
  const hiddenPath = hiddenTestPath(lib.def, t.id);
  if (lib.files[hiddenPath] !== undefined) throw new Error(`${what}: hidden test path ${hiddenPath} exists in the library`);
  const task: SelfContainedTask & { regression_break_patch?: string } = {
    instance_id: t.id,
    repo: lib.def.library,
    problem_statement: t.issue.trim() + '\n',
    language: lib.def.language,
    files: base,
    patch,
    test_patch: unifiedDiff(hiddenPath, null, t.hidden),
    test_command: lib.def.test_command,
    test_framework: lib.def.test_framework,
    FAIL_TO_PASS: lists?.FAIL_TO_PASS ?? [],
    PASS_TO_PASS: lists?.PASS_TO_PASS ?? [],
    split: t.split,
    difficulty: t.difficulty,
  };
  if (t.regression_break) {
    const broken = applyEdits(lib.files, t.regression_break, `${what} regression_break`);
    const files = [...new Set([...changed, ...t.regression_break.map((e) => e.file)])].sort();
    task.regression_break_patch = files.map((f) => unifiedDiff(f, base[f], broken[f])).join('');
  }
  return task;
}

export interface BuiltinSuiteOptions {
  suite?: string;
  split?: 'train' | 'eval' | 'all';
}

const cache = new Map<string, Promise<SelfContainedTask[]>>();

/**
 * The tasks of a built-in suite as SelfContainedTask records (all libraries, in library then
 * definition order), filtered by split. Throws when a task has no manifest entry.
 */
export function loadBuiltinSuite(opts: BuiltinSuiteOptions = {}): Promise<SelfContainedTask[]> {
  const suite = opts.suite ?? DEFAULT_SUITE;
  let all = cache.get(suite);
  if (!all) {
    all = (async () => {
      const [libs, manifest] = await Promise.all([readLibraries(suite), readManifest(suite)]);
      const tasks: SelfContainedTask[] = [];
      for (const lib of libs) {
        for (const t of lib.def.tasks) {
          const lists = manifest[t.id];
          if (!lists) throw new Error(`suite ${suite}: task ${t.id} has no entry in ${MANIFEST_FILE}; run entropo build-suite`);
          const { regression_break_patch: _unused, ...task } = buildTask(lib, t, lists);
          tasks.push(task);
        }
      }
      return tasks;
    })();
    all.catch(() => cache.delete(suite));
    cache.set(suite, all);
  }
  const split = opts.split ?? 'all';
  return all.then((ts) => structuredClone(split === 'all' ? ts : ts.filter((t) => t.split === split)));
}
