/**
 * A task environment (venv, interpreter, tool directories) made visible, read-only, to the agent's
 * commands under bwrap (issue 18). bwrap binds each directory at its own path, after the sandbox's
 * private /tmp. When the commands run as a sandbox user of their own (a root runner) and that user
 * cannot reach a directory (a venv under /root, which is 0700), bwrap, which runs as that user,
 * cannot bind it either: such a directory is first given a view the user can reach, a hard-linked
 * copy (`cp -al`: no file data copied; `cp -a` across file systems) under the temp directory, made
 * once per process and removed at exit. The user's files are never changed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SANDBOX_SYSTEM_DIRS } from './isolation.ts';

/** A read-only bind: the host directory `source` shown at `dest`. */
export interface EnvironmentBind {
  source: string;
  dest: string;
}

/** Whether `dir` and every directory above it can be searched (and dir read) by "others". */
export function reachableByOthers(dir: string): boolean {
  let p = path.resolve(dir);
  try {
    if ((statSync(p).mode & 0o005) !== 0o005) return false;
    for (;;) {
      const parent = path.dirname(p);
      if (parent === p) return true;
      p = parent;
      if ((statSync(p).mode & 0o001) === 0) return false;
    }
  } catch {
    return false;
  }
}

const underSystemDir = (dir: string): boolean => SANDBOX_SYSTEM_DIRS.some((d) => dir === d || dir.startsWith(`${d}/`));

let stageRoot: string | undefined;
const staged = new Map<string, string>();

function stageDir(dir: string): string {
  const hit = staged.get(dir);
  if (hit) return hit;
  if (!stageRoot) {
    stageRoot = mkdtempSync(path.join(os.tmpdir(), 'entropo-envview-'));
    chmodSync(stageRoot, 0o755);
    const root = stageRoot;
    process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  const dest = path.join(stageRoot, String(staged.size));
  let r = spawnSync('cp', ['-al', dir, dest], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dest, { recursive: true, force: true });
    r = spawnSync('cp', ['-a', dir, dest], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot make the environment directory ${dir} visible to the sandbox user: cp failed: ${r.stderr.trim()}`);
  }
  staged.set(dir, dest);
  return dest;
}

/** The staging directory of this process (removed at exit), if one was made. */
export const environmentStageRoot = (): string | undefined => stageRoot;

/**
 * The binds that show `dirs` read-only at their own paths: directories under the system
 * directories (already visible) and missing ones are left out; with `ownUser` (commands run as a
 * sandbox user of their own), a directory that user cannot reach is bound from its hard-linked view.
 */
export function environmentBinds(dirs: readonly string[], ownUser: boolean): EnvironmentBind[] {
  const out: EnvironmentBind[] = [];
  for (const dir of [...new Set(dirs.map((d) => path.resolve(d)))].sort()) {
    if (underSystemDir(dir) || !existsSync(dir)) continue;
    // A directory inside one already bound is visible through it.
    if (out.some((b) => dir.startsWith(`${b.dest}/`))) continue;
    out.push({ source: ownUser && !reachableByOthers(dir) ? stageDir(dir) : dir, dest: dir });
  }
  return out;
}
