/**
 * A SWE-bench checkout without its future (issue 11 item 12): the task image's repository holds
 * the whole upstream history (later commits, tags, remote-tracking refs, the reflog, stashes),
 * and with it the fix. The agent's repository must hold no object or ref newer than base_commit:
 * a new object database is filled with exactly the commits reachable from base_commit (git fetch
 * of that one commit, no tags), and it replaces the checkout's .git. The working files are kept
 * as they are (ignored build products of the image included); HEAD is branch "main" at base.
 */
import { mkdtemp, rename, rm } from 'node:fs/promises';
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
