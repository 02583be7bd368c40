/**
 * Work trees and patches: materialise a self-contained task's files as a git repository whose
 * first commit is the base state, and apply unified diffs to it with fall-backs.
 */
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SelfContainedTask } from '../api/records.ts';
import { gradingEnv, runProcess, type ExecResult } from './exec.ts';
import { patchSafetyProblems } from './patch-paths.ts';

/** Runs git in dir with the pinned environment; never reads the user's or system git config. */
export function git(dir: string, args: readonly string[], input?: string, stdoutOnly = false): Promise<ExecResult> {
  const env = gradingEnv({ GIT_CONFIG_GLOBAL: '/dev/null' });
  return runProcess('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', ...args], {
    cwd: dir,
    env,
    input,
    timeoutSeconds: 60,
    stderr: stdoutOnly ? 'ignore' : 'merge',
  });
}

async function gitOk(dir: string, args: readonly string[], input?: string, stdoutOnly = false): Promise<string> {
  const r = await git(dir, args, input, stdoutOnly);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${dir} (exit ${r.code}): ${r.output.trim()}`);
  return r.output;
}

/** A relative path that stays inside the tree; throws otherwise. */
export function safeRelativePath(p: string): string {
  const norm = path.posix.normalize(p.replace(/\\/g, '/'));
  if (!p || path.posix.isAbsolute(norm) || norm === '.' || norm.startsWith('../') || norm === '..' || norm.split('/').includes('.git')) {
    throw new Error(`task file path ${JSON.stringify(p)} must be a relative path inside the work tree`);
  }
  return norm;
}

/** Paths untracked by the work tree's git (so they never show up in the agent's diff). */
const EXCLUDES = ['__pycache__/', '*.pyc', '.pytest_cache/', 'node_modules/', '.entropo/'];

/**
 * Writes task.files into dir (created if missing; it should be empty), then `git init` and one
 * commit "base" holding the base state. The agent's patch is `git diff` against that commit.
 * Returns the base commit id.
 */
export async function materialiseWorkTree(task: Pick<SelfContainedTask, 'instance_id' | 'files'>, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entries = Object.entries(task.files).map(([p, text]) => [safeRelativePath(p), text] as const);
  for (const [rel, text] of entries) {
    const abs = path.join(dir, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, text);
  }
  await gitOk(dir, ['init', '-q', '--initial-branch=main']);
  await writeFile(path.join(dir, '.git', 'info', 'exclude'), EXCLUDES.join('\n') + '\n');
  await gitOk(dir, ['add', '-A']);
  await gitOk(dir, ['commit', '-q', '--allow-empty', '--no-verify', '-m', `base: ${task.instance_id}`]);
  return (await gitOk(dir, ['rev-parse', 'HEAD'])).trim();
}

export type ApplyMethod = 'empty' | 'git-apply' | 'git-apply-recount' | 'patch-fuzz';

export interface ApplyResult {
  applied: boolean;
  /** How the patch went in, when it did. */
  method?: ApplyMethod;
  /** Why it did not apply: the output of every attempt. */
  error?: string;
}

export { filesOfPatch } from './patch-paths.ts';

/** The files through which a patch could reach git itself (config, attributes, hooks): snapshot to compare. */
async function gitControlState(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of ['config', 'info/attributes', 'info/exclude', 'HEAD', 'hooks', 'modules']) {
    const st = await lstat(path.join(dir, '.git', f)).catch(() => undefined);
    const body = st?.isFile() ? await readFile(path.join(dir, '.git', f), 'utf8').catch(() => '?') : st ? `${st.mode}:${st.mtimeMs}` : '-';
    parts.push(`${f}\0${body}`);
  }
  return parts.join('\0\0');
}

/**
 * Applies a unified diff in dir. The patch is refused (not applied) when any path on any side of
 * any file is absolute, leaves the tree or lies inside .git, when it makes a symbolic link that
 * points outside the tree, or when it is not a unified diff (patchSafetyProblems); and undone
 * (refused) if git's own files changed all the same. Attempts, in order: `git apply` (atomic),
 * `git apply --recount` (hand-written hunks with wrong line counts), then GNU `patch -p1 --fuzz=3
 * --unified` (dry run first, so a failed attempt leaves the tree untouched; unified diffs only, never
 * ed scripts). An empty or whitespace-only patch applies trivially.
 */
export async function applyPatch(dir: string, patch: string): Promise<ApplyResult> {
  if (patch.trim() === '') return { applied: true, method: 'empty' };
  const unsafe = patchSafetyProblems(patch);
  if (unsafe.length) return { applied: false, error: `patch refused: ${unsafe.join('; ')}` };
  const before = await gitControlState(dir);
  const r = await applyPatchUnchecked(dir, patch);
  if (r.applied && (await gitControlState(dir)) !== before) {
    return { applied: false, error: 'patch refused: it changed files inside .git' };
  }
  return r;
}

async function applyPatchUnchecked(dir: string, patch: string): Promise<ApplyResult> {
  const text = patch.endsWith('\n') ? patch : `${patch}\n`;
  const errors: string[] = [];
  const attempts: [ApplyMethod, string[]][] = [
    ['git-apply', ['apply', '--whitespace=nowarn', '-']],
    ['git-apply-recount', ['apply', '--whitespace=nowarn', '--recount', '-']],
  ];
  for (const [method, args] of attempts) {
    const r = await git(dir, args, text);
    if (r.code === 0) return { applied: true, method };
    errors.push(`${method}: ${r.output.trim()}`);
  }
  const patchArgs = ['-p1', '--unified', '--batch', '--forward', '--fuzz=3', '--no-backup-if-mismatch', '--reject-file=-', '--silent'];
  const dry = await runProcess('patch', [...patchArgs, '--dry-run'], { cwd: dir, env: gradingEnv(), input: text, timeoutSeconds: 60 });
  if (dry.code === 0) {
    const real = await runProcess('patch', patchArgs, { cwd: dir, env: gradingEnv(), input: text, timeoutSeconds: 60 });
    if (real.code === 0) return { applied: true, method: 'patch-fuzz' };
    errors.push(`patch-fuzz: ${real.output.trim()}`);
  } else {
    errors.push(`patch-fuzz: ${dry.output.trim() || `exit ${dry.code}`}`);
  }
  return { applied: false, error: errors.join('\n') };
}

/**
 * Puts the files a patch touches back to their state in `base` (default HEAD; removing those
 * it lacks), as SWE-bench does with the test files before applying test_patch: a candidate
 * patch cannot pre-empt or sabotage the hidden tests.
 */
export async function resetFilesToBase(dir: string, files: readonly string[], base = 'HEAD'): Promise<void> {
  for (const f of files) {
    const rel = safeRelativePath(f);
    const inBase = await git(dir, ['cat-file', '-e', `${base}:${rel}`]);
    if (inBase.code === 0) await gitOk(dir, ['checkout', base, '--', rel]);
    else await rm(path.join(dir, rel), { recursive: true, force: true });
  }
}

/** The subset of files that exist in the base commit (default HEAD). */
export async function filesInBase(dir: string, files: readonly string[], base = 'HEAD'): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    let rel: string;
    try {
      rel = safeRelativePath(f);
    } catch {
      continue;
    }
    if ((await git(dir, ['cat-file', '-e', `${base}:${rel}`])).code === 0) out.push(rel);
  }
  return out;
}

/**
 * Paths that differ between the work tree and `base` (tracked changes, deletions and untracked
 * files; renames as delete + add), as git sees them: whatever form the patch that made them had.
 */
export async function changedFiles(dir: string, base = 'HEAD'): Promise<string[]> {
  const env = gradingEnv({ GIT_CONFIG_GLOBAL: '/dev/null', GIT_INDEX_FILE: path.join(dir, '.git', 'entropo-changed-index') });
  const run = (args: string[]) =>
    runProcess('git', ['-c', 'core.hooksPath=/dev/null', '-c', 'core.quotePath=false', ...args], { cwd: dir, env, timeoutSeconds: 120, stderr: 'ignore' });
  try {
    // --force: files a .gitignore of the candidate's would hide are changes all the same.
    for (const args of [['read-tree', base], ['add', '-A', '--force', '.']]) {
      const r = await run(args);
      if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${dir} (exit ${r.code}): ${r.output.trim()}`);
    }
    const r = await run(['diff', '--cached', '--no-renames', '--name-only', '-z', base]);
    if (r.code !== 0) throw new Error(`git diff --name-only failed in ${dir} (exit ${r.code})`);
    return r.output.split('\0').filter(Boolean);
  } finally {
    await rm(path.join(dir, '.git', 'entropo-changed-index'), { force: true });
  }
}

/** `git diff` of the work tree (tracked and untracked files) against the base commit. */
export async function diffAgainstBase(dir: string, base = 'HEAD'): Promise<string> {
  await gitOk(dir, ['add', '-A']);
  const out = await gitOk(dir, ['diff', '--cached', '--binary', '--no-color', '--no-ext-diff', base], undefined, true);
  await gitOk(dir, ['reset', '-q']);
  return out;
}
