/**
 * Task environments (issue 18): where a SWE-bench task's repository is checked out on this machine
 * and which environment runs its tests, so that `entropo rollout` and `entropo grade` can run
 * tasks from a user's own checkouts. Two sources, merged field by field (the task record wins):
 *
 * - the task record's `environment` field (TaskEnvironment in operator/api/records.ts);
 * - an environments file (YAML or JSON), one entry per repository, optionally per version,
 *   in the spirit of the SWE-bench harness's per-repo/version specs:
 *
 *       environments:
 *         - repo: python-attrs/attrs      # the task's "repo"
 *           version: "23.1"               # optional: only tasks of this version (exact match wins)
 *           checkout: ./attrs             # a git checkout holding base_commit (read only)
 *           python: ./attrs/.venv         # a venv directory or an interpreter
 *           path: [/opt/tools/bin]        # more PATH entries
 *           env: { PYTHONPATH: src }      # variables of the agent's commands and of the test run
 *           setup: make inplace           # run in each fresh clone, before the agent and before grading
 *           test_command: python -m pytest -rA tests   # for tasks without one
 *
 * Relative paths are relative to the file that names them. Parsing and resolution report errors
 * naming the file, the entry and the field.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { Type, type Static } from '../api/schema.ts';
import { isSelfContained, TaskEnvironment, type ResolvedEnvironment, type TaskRecord } from '../api/records.ts';
import { check } from '../api/validate.ts';

/** One entry of an environments file: a repository (and version) and its environment. */
export const EnvironmentEntry = Type.Composite([
  Type.Object({
    repo: Type.String({ minLength: 1, description: 'Repository as the tasks name it, "owner/name".' }),
    version: Type.Optional(Type.String({ minLength: 1, description: 'Only tasks of this version; an entry with a version wins over one without.' })),
  }),
  TaskEnvironment,
], { additionalProperties: false });
export type EnvironmentEntry = Static<typeof EnvironmentEntry>;

/** An environments file, parsed: its entries with the directory their relative paths start from. */
export interface EnvironmentsFile {
  file: string;
  entries: EnvironmentEntry[];
}

/** Thrown for an environments file or task environment that cannot be used; names the file, entry and field. */
export class EnvironmentError extends Error {
  override name = 'EnvironmentError';
}

/**
 * Parses an environments file's text (YAML or JSON: `{environments: [...]}` or a bare list).
 * Throws EnvironmentError naming `file`, the entry index and the field of the first problems.
 */
export function parseEnvironments(text: string, file: string): EnvironmentsFile {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new EnvironmentError(`${file}: not valid YAML or JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { environments?: unknown } | null)?.environments;
  if (!Array.isArray(list)) throw new EnvironmentError(`${file}: expected a list of environments under "environments:"`);
  const entries: EnvironmentEntry[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  list.forEach((raw, i) => {
    if (raw !== null && typeof raw === 'object' && typeof (raw as { version?: unknown }).version === 'number') (raw as { version: unknown }).version = String((raw as { version: number }).version);
    const r = check<EnvironmentEntry>(EnvironmentEntry, raw);
    if (!r.ok) {
      problems.push(...r.errors.map((e) => `${file}: environments[${i}]${e.field ? `.${e.field}` : ''}: ${e.message}`));
      return;
    }
    const badName = badVariableName(r.value.env);
    if (badName !== undefined) {
      problems.push(`${file}: environments[${i}].env: ${JSON.stringify(badName)} is not a variable name (letters, digits and _, not starting with a digit)`);
      return;
    }
    const key = `${r.value.repo}@${r.value.version ?? ''}`;
    if (seen.has(key)) {
      problems.push(`${file}: environments[${i}]: repeats environments[${seen.get(key)}] (${r.value.repo}${r.value.version ? ` ${r.value.version}` : ''})`);
      return;
    }
    seen.set(key, i);
    entries.push(r.value);
  });
  if (problems.length) throw new EnvironmentError(problems.join('\n'));
  return { file: path.resolve(file), entries };
}

/** The first key of env that is not a shell variable name. */
const badVariableName = (env: Record<string, string> | undefined): string | undefined => Object.keys(env ?? {}).find((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));

/** Reads and parses an environments file. */
export async function loadEnvironments(file: string): Promise<EnvironmentsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new EnvironmentError(`cannot read the environments file ${file}: ${(e as Error).message}`);
  }
  return parseEnvironments(text, file);
}

/** The entry of a file for a task: repo and version both equal, else repo equal with no version. Pure. */
export function entryFor(entries: readonly EnvironmentEntry[], task: Pick<TaskRecord, 'repo'> & { version?: string }): EnvironmentEntry | undefined {
  const same = entries.filter((e) => e.repo === task.repo);
  return same.find((e) => e.version !== undefined && e.version === task.version) ?? same.find((e) => e.version === undefined);
}

/** The interpreter prefix of a bin directory (".../bin" -> "..."). */
const prefixOf = (binDir: string): string => (path.basename(binDir) === 'bin' ? path.dirname(binDir) : binDir);

/** pyvenv.cfg's `home` (the base interpreter's bin directory), if dir is a venv. */
function venvHome(dir: string): string | undefined {
  const cfg = path.join(dir, 'pyvenv.cfg');
  if (!existsSync(cfg)) return undefined;
  const m = /^\s*home\s*=\s*(.+?)\s*$/m.exec(readFileSync(cfg, 'utf8'));
  return m ? m[1] : '';
}

/**
 * Works out a TaskEnvironment: absolute paths (relative ones from `baseDir`), PATH entries (the
 * python's bin directory first), VIRTUAL_ENV, and the directories a sandbox must show read-only
 * (the venv, the base interpreter it links to, the PATH entries). Checks that the checkout is a
 * directory with a .git and that the python exists; throws EnvironmentError naming `origin` and
 * the field otherwise.
 */
export function resolveSpec(spec: TaskEnvironment, baseDir: string, origin: string): ResolvedEnvironment {
  const abs = (p: string) => path.resolve(baseDir, p);
  const fail = (field: string, message: string): never => {
    throw new EnvironmentError(`${origin}: ${field}: ${message}`);
  };
  const badName = badVariableName(spec.env);
  if (badName !== undefined) fail('env', `${JSON.stringify(badName)} is not a variable name`);
  const out: ResolvedEnvironment = { pathEntries: [], env: { ...(spec.env ?? {}) }, readOnlyDirs: [], origin };
  if (spec.checkout) {
    const dir = abs(spec.checkout);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) fail('checkout', `${dir} is not a directory`);
    if (!existsSync(path.join(dir, '.git'))) fail('checkout', `${dir} is not a git checkout (no .git)`);
    out.checkout = dir;
  }
  const ro = new Set<string>();
  if (spec.python) {
    const p = abs(spec.python);
    if (!existsSync(p)) fail('python', `${p} does not exist (a virtual environment directory or a Python interpreter)`);
    let bin: string;
    if (statSync(p).isDirectory()) {
      const home = venvHome(p);
      if (home === undefined) fail('python', `${p} is a directory without pyvenv.cfg: give a virtual environment or an interpreter`);
      bin = path.join(p, 'bin');
      out.env.VIRTUAL_ENV ??= p;
      ro.add(p);
      if (home) ro.add(prefixOf(home));
    } else {
      bin = path.dirname(p);
      ro.add(prefixOf(bin));
    }
    out.pathEntries.push(bin);
    // The interpreter a venv (or a symlinked interpreter) really runs, and its standard library.
    for (const name of ['python3', 'python']) {
      const exe = statSync(p).isDirectory() ? path.join(bin, name) : p;
      if (!existsSync(exe)) continue;
      ro.add(prefixOf(path.dirname(realpathSync(exe))));
      break;
    }
  }
  for (const [i, entry] of (spec.path ?? []).entries()) {
    const dir = abs(entry);
    if (!existsSync(dir)) fail(`path[${i}]`, `${dir} does not exist`);
    out.pathEntries.push(dir);
    ro.add(dir);
  }
  out.readOnlyDirs = [...ro];
  if (spec.setup) out.setup = spec.setup;
  if (spec.test_command) out.testCommand = spec.test_command;
  return out;
}

/**
 * The environment of a task: its record's `environment` (paths relative to `taskFileDir`) over
 * the environments file's entry for its repo and version (paths relative to the file), merged
 * field by field (env merged key by key). undefined for self-contained tasks and tasks neither
 * names. Throws EnvironmentError naming where the bad field came from.
 */
export function resolveEnvironment(task: TaskRecord, envs?: EnvironmentsFile, taskFileDir = process.cwd()): ResolvedEnvironment | undefined {
  if (isSelfContained(task)) return undefined;
  const entry = envs ? entryFor(envs.entries, task) : undefined;
  const own = task.environment;
  if (!entry && !own) return undefined;
  const fromFile = entry ? resolveSpec(entry, path.dirname(envs!.file), `${envs!.file}: ${entry.repo}${entry.version ? ` ${entry.version}` : ''}`) : undefined;
  const fromTask = own ? resolveSpec(own, taskFileDir, `task ${task.instance_id}: environment`) : undefined;
  if (!fromFile) return fromTask;
  if (!fromTask) return fromFile;
  return {
    checkout: fromTask.checkout ?? fromFile.checkout,
    pathEntries: own!.python || own!.path ? fromTask.pathEntries : fromFile.pathEntries,
    env: { ...fromFile.env, ...fromTask.env },
    readOnlyDirs: [...new Set([...(own!.python || own!.path ? fromTask.readOnlyDirs : fromFile.readOnlyDirs)])],
    ...((fromTask.setup ?? fromFile.setup) ? { setup: fromTask.setup ?? fromFile.setup } : {}),
    ...((fromTask.testCommand ?? fromFile.testCommand) ? { testCommand: fromTask.testCommand ?? fromFile.testCommand } : {}),
    origin: `${fromTask.origin} over ${fromFile.origin}`,
  };
}

/** PATH for commands in an environment: its entries first, then `base`. Pure. */
export function environmentPath(env: Pick<ResolvedEnvironment, 'pathEntries'> | undefined, base: string): string {
  return [...(env?.pathEntries ?? []), base].filter(Boolean).join(':');
}

/**
 * The variables a command in the environment gets on top of its own: the environment's env and
 * PATH (its entries before `basePath`). Pure.
 */
export function environmentVariables(env: ResolvedEnvironment | undefined, basePath: string): Record<string, string> {
  if (!env) return {};
  return { ...env.env, PATH: environmentPath(env, env.env.PATH ?? basePath) };
}

/**
 * The task as the grader and sandbox need it: test_command filled from its environment when the
 * record has none. Pure.
 */
export function withEnvironmentDefaults<T extends TaskRecord>(task: T, env: ResolvedEnvironment | undefined): T {
  if (!env?.testCommand || task.test_command) return task;
  return { ...task, test_command: env.testCommand };
}
