/**
 * A SWE-bench checkout without its future (issue 11 item 12): the task image's repository holds
 * the whole upstream history (later commits, tags, remote-tracking refs, the reflog, stashes),
 * and with it the fix. The agent's repository must hold no object or ref newer than base_commit:
 * a new object database is filled with exactly the commits reachable from base_commit (git fetch
 * of that one commit, no tags), and it replaces the checkout's .git. The working files are kept
 * as they are (ignored build products of the image included); HEAD is branch "main" at base.
 */
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, realpath, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execCapture } from './exec.ts';
import { headChars } from '../../util/text.ts';

const GIT_ENV = (): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  LC_ALL: 'C',
});

async function gitIn(dir: string, args: string[]): Promise<string> {
  const r = await execCapture(['git', '-c', 'core.hooksPath=/dev/null', '-c', 'protocol.file.allow=always', ...args], {
    cwd: dir,
    env: GIT_ENV(),
    timeoutMs: 30 * 60_000,
    headBytes: 1024 * 1024,
    tailBytes: 0,
  });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')} failed in ${dir} (exit ${r.exitCode ?? r.signal}): ${headChars(r.output.trim(), 2000)}`);
  return r.output;
}

/**
 * Makes `dir` (a git work tree) a repository whose only history is `base` and its ancestors,
 * fetched from `source` (default: dir itself). `mode` "keep-files" leaves the working files as they
 * are (the index is rebuilt from base); "checkout" checks base out (a fresh directory).
 * Throws when base is not in source. Returns the full commit id of base.
 */
export async function repositoryAtBase(dir: string, base: string, opts: { source?: string; mode?: 'keep-files' | 'checkout' } = {}): Promise<string> {
  const source = path.resolve(opts.source ?? dir);
  const full = (await gitIn(source, ['rev-parse', '--verify', `${base}^{commit}`])).trim();
  // The new object database is made next to the old one (same file system: the swap is a rename).
  const staging = await mkdtemp(path.join(dir, '.entropo-git-'));
  try {
    await gitIn(staging, ['init', '-q', '--initial-branch=main']);
    await gitIn(staging, ['fetch', '-q', '--no-tags', '--no-write-fetch-head', source, full]);
    await gitIn(staging, ['update-ref', 'refs/heads/main', full]);
    await rm(path.join(dir, '.git'), { recursive: true, force: true });
    await rename(path.join(staging, '.git'), path.join(dir, '.git'));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  if (opts.mode === 'checkout') await gitIn(dir, ['reset', '-q', '--hard', full]);
  else await gitIn(dir, ['reset', '-q', full]);
  return full;
}

/** Every ref of a repository (to check that nothing but refs/heads/main is left). */
export async function refsOf(dir: string): Promise<string[]> {
  return (await gitIn(dir, ['for-each-ref', '--format=%(refname)'])).split('\n').filter(Boolean);
}

const mirrors = new Map<string, Promise<{ dir: string; base: string }>>();

/**
 * A bare repository holding `base` and its ancestors only (fetched from `source`, no tags),
 * made once per process per checkout and commit under the temp directory (readable by every user,
 * removed at exit): the object store that clones made with cloneAtBase share. The user's checkout
 * is only read.
 */
export function baseMirror(source: string, base: string): Promise<{ dir: string; base: string }> {
  const key = `${path.resolve(source)}\0${base}`;
  let m = mirrors.get(key);
  if (!m) {
    m = (async () => {
      const full = (await gitIn(source, ['rev-parse', '--verify', `${base}^{commit}`])).trim();
      const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-base-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      await gitIn(dir, ['init', '-q', '--bare', '--initial-branch=main']);
      await gitIn(dir, ['fetch', '-q', '--no-tags', '--no-write-fetch-head', await realpath(source), full]);
      await gitIn(dir, ['update-ref', 'refs/heads/main', full]);
      await gitIn(dir, ['pack-refs', '--all']);
      // Readable by a sandbox user of its own (its clones read these objects), writable by none.
      await execCapture(['chmod', '-R', 'a+rX,go-w', dir], { cwd: dir, env: GIT_ENV(), timeoutMs: 600_000, headBytes: 4096, tailBytes: 0 });
      await chmod(dir, 0o755);
      return { dir, base: full };
    })();
    mirrors.set(key, m);
    m.catch(() => mirrors.delete(key));
  }
  return m;
}

/**
 * Makes the empty directory `dir` a clone of `source` at `base` that shares the objects of its
 * base mirror (git clone --shared: no object copied per clone) and holds nothing newer than base:
 * branch main at base, no remote, no tag, no reflog. Returns the mirror's directory (commands that
 * read the history must see it: bwrap binds it read-only) and base's full id.
 */
export async function cloneAtBase(dir: string, source: string, base: string): Promise<{ objects: string; base: string }> {
  const mirror = await baseMirror(source, base);
  await gitIn(dir, ['clone', '-q', '--shared', '--no-checkout', mirror.dir, '.']);
  await gitIn(dir, ['remote', 'remove', 'origin']);
  await rm(path.join(dir, '.git', 'logs'), { recursive: true, force: true });
  await gitIn(dir, ['reset', '-q', '--hard', mirror.base]);
  return { objects: mirror.dir, base: mirror.base };
}
