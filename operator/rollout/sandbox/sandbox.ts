/**
 * The sandbox runner: a fresh work tree per rollout, commands run in it under the chosen
 * isolation and limits, the final patch as `git diff` against the base, and the work tree always
 * removed (or, in place, put back to its base state).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { appendFile, chown, lstat, mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { isSelfContained, type ResolvedEnvironment, type TaskRecord } from '../../api/records.ts';
import { environmentVariables } from '../../tasks/environments.ts';
import { environmentBinds, type EnvironmentBind } from './environment-view.ts';
import { HYGIENE_ENV } from '../../grading/exec.ts';
import { materialiseWorkTree } from '../../grading/worktree.ts';
import { execCapture, type ExecResult } from './exec.ts';
import { killAllGroups } from '../../util/process-groups.ts';
import { commandArgv, defaultIsolation, extraReadOnlyBinds, SANDBOX_SYSTEM_DIRS, inKubernetes, isolationWorks, SANDBOX_UID_BASE, SANDBOX_UID_RANGE, type Isolation } from './isolation.ts';
import { DEFAULT_LIMITS, type ResourceLimits } from './limits.ts';
import { cloneAtBase, repositoryAtBase } from './history.ts';
import { headChars } from '../../util/text.ts';

export interface SandboxOptions {
  /** auto (default): none in a Pod, else bwrap, else unshare, else none. */
  isolation?: Isolation | 'auto';
  /**
   * Who commands run as. auto (default): a root runner outside Kubernetes uses an unprivileged
   * uid of its own (random in 200000..299999); otherwise the runner's user. A number: that uid.
   */
  user?: 'auto' | 'runner' | number;
  limits?: Partial<ResourceLimits>;
  /** Extra environment variables for commands. */
  env?: Record<string, string>;
  /** SWE-bench tasks: an existing checkout of the repository (in the task image: /testbed). */
  repoDir?: string;
  /** Work in repoDir itself (a Pod: the container is thrown away); default true in Kubernetes. */
  inPlace?: boolean;
  /** Parent directory of work trees (default: the OS temp dir). */
  tmpDir?: string;
  /**
   * An existing work tree (a git repository, base at HEAD) to work in, in place: the agent phase's
   * (`entropo sandbox agent`) tree that `prepare` wrote, or a task image's checkout. Its files are
   * given to the sandbox user when there is one.
   */
  workTree?: string;
  /** With workTree: first cut its history to this commit and its ancestors (SWE-bench checkouts). */
  historyBase?: string;
  /** The path the work tree is shown at inside bwrap (default: its real path). */
  shownDir?: string;
  /**
   * The task's environment (operator/tasks/environments.ts): its checkout is cloned (never used in
   * place), its PATH and variables reach every command, its directories are shown read-only under
   * bwrap, and its setup command runs in the fresh clone before anything else.
   */
  environment?: ResolvedEnvironment;
  /** Wall-clock limit of the environment's setup command (default 600 s). */
  setupTimeoutSeconds?: number;
}

export class SandboxError extends Error {
  override name = 'SandboxError';
}

/** Largest patch taken from a work tree (the agent's doing, e.g. a huge generated file: not an infrastructure error). */
export const MAX_PATCH_BYTES = 8 * 1024 * 1024;

export class PatchTooLargeError extends Error {
  override name = 'PatchTooLargeError';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`the patch is larger than ${limit} bytes (${bytes} bytes of diff): not graded`);
  }
}

const git = (args: string[]) => ['git', '-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', '-c', 'core.quotePath=false', ...args];

/** Work trees and homes not yet removed, for cleanup when the runner is stopped by a signal. */
const liveDirs = new Set<string>();

/**
 * On SIGINT / SIGTERM: kill every running command's process group, remove every work tree this
 * process made (in-place checkouts are left alone), then exit with 128 + the signal's number.
 */
export function cleanupOnSignals(): void {
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
    process.once(sig, () => {
      killAllGroups();
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
      process.exit(128 + n);
    });
  }
}

export class Sandbox {
  private disposed = false;

  private constructor(
    readonly workDir: string,
    readonly base: string,
    readonly isolation: Isolation,
    readonly uid: number | undefined,
    readonly limits: ResourceLimits,
    private readonly env: NodeJS.ProcessEnv,
    private readonly inPlace: boolean,
    /** Seconds spent creating the work tree. */
    readonly setupSeconds: number,
    /** The sandbox's own home directory, removed with it (none under bwrap or in a Pod). */
    private readonly home?: string,
    /** Where commands see the work tree under bwrap (default workDir). */
    readonly shownDir?: string,
    /** The task environment's read-only binds (bwrap). */
    private readonly envBinds: readonly EnvironmentBind[] = [],
    /** A SWE-bench clone's shared object store (its base mirror): commands that read the history must see it. */
    readonly sharedObjects?: string,
  ) {}

  /**
   * Runs the environment's setup command in the fresh work tree (as the agent's commands run), then
   * keeps what it created out of every patch (.git/info/exclude). Throws SandboxError when it fails.
   */
  private async runSetup(command: string, timeoutSeconds: number, origin: string): Promise<void> {
    const r = await this.exec(command, timeoutSeconds);
    if (r.exitCode !== 0) {
      throw new SandboxError(`environment setup (${origin}) failed${r.timedOut ? ` (timed out after ${timeoutSeconds} s)` : ` (exit ${r.exitCode ?? r.signal})`}: ${command}\n${headChars(r.output, 4000)}`);
    }
    const made = await this.git(['ls-files', '--others', '--exclude-standard', '--directory', '-z'], {}, true);
    const paths = made.output.split('\0').filter(Boolean);
    if (paths.length) {
      const escape = (p: string) => `/${p.replace(/([\\*?[\]!#])/g, '\\$1')}`;
      await appendFile(path.join(this.workDir, '.git', 'info', 'exclude'), `\n# made by the environment's setup\n${paths.map(escape).join('\n')}\n`);
    }
  }

  /** A sandbox on an existing work tree (SandboxOptions.workTree), used in place. */
  static open(workTree: string, opts: SandboxOptions = {}): Promise<Sandbox> {
    return Sandbox.create(undefined, { ...opts, workTree });
  }

  static async create(task: TaskRecord | undefined, opts: SandboxOptions = {}): Promise<Sandbox> {
    const started = process.hrtime.bigint();
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    const runnerIsRoot = process.getuid?.() === 0;
    const user = opts.user ?? 'auto';
    if (!task && !opts.workTree) throw new SandboxError('a sandbox needs a task or an existing work tree');
    const envCheckout = opts.environment?.checkout;
    // A checkout named by a task environment is the user's: it is cloned, never worked in.
    const wantsInPlace = task !== undefined && !isSelfContained(task) && !envCheckout && (opts.inPlace ?? inKubernetes());
    const repoDir = opts.repoDir ?? envCheckout;
    // A checkout used in place is never given away to another user (it is not ours); a work tree
    // handed over (the agent phase's) is ours to give.
    const uid =
      typeof user === 'number'
        ? user
        : user === 'auto' && runnerIsRoot && (opts.workTree ? true : !inKubernetes() && !wantsInPlace)
          ? SANDBOX_UID_BASE + randomInt(SANDBOX_UID_RANGE)
          : undefined;
    const requested = opts.isolation ?? 'auto';
    const isolation = requested === 'auto' ? defaultIsolation(uid) : requested;
    if (requested !== 'auto' && !isolationWorks(isolation, uid)) {
      throw new SandboxError(`sandbox isolation "${isolation}" does not work on this machine (is ${isolation === 'bwrap' ? 'bubblewrap' : 'util-linux'} installed, are user namespaces allowed?)`);
    }

    let workDir: string;
    let inPlace = false;
    if (!task) {
      workDir = await realpath(opts.workTree!);
      inPlace = true;
    } else if (isSelfContained(task)) {
      workDir = await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'entropo-wt-'));
      try {
        await materialiseWorkTree(task, workDir);
      } catch (e) {
        await rm(workDir, { recursive: true, force: true });
        throw new SandboxError(`cannot create the work tree of ${task.instance_id}: ${(e as Error).message}`);
      }
    } else {
      if (!repoDir) {
        throw new SandboxError(
          `SWE-bench task ${task.instance_id} needs its repository checkout: name it in an environments file (--environments) or the task's "environment.checkout" (in its image: repoDir, e.g. /testbed)`,
        );
      }
      inPlace = wantsInPlace;
      workDir = inPlace ? await realpath(repoDir) : await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'entropo-wt-'));
    }
    let home: string | undefined;
    const env: NodeJS.ProcessEnv = {
      ...HYGIENE_ENV,
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/tmp', // replaced below: a private home outside the work tree, so caches never reach the patch
      TMPDIR: '/tmp',
      TERM: 'dumb',
      PAGER: 'cat',
      GIT_PAGER: 'cat',
      GIT_CONFIG_GLOBAL: '/dev/null',
      ...environmentVariables(opts.environment, process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'),
      ...opts.env,
    };
    let sharedObjects: string | undefined;
    try {
      if (task && !isSelfContained(task) && !inPlace) {
        // A clone sharing the objects of a mirror that holds base_commit's history only (made once
        // per checkout and commit): nothing newer to find, no object copied per rollout.
        sharedObjects = (await cloneAtBase(workDir, repoDir!, task.base_commit)).objects;
      } else if (task && !isSelfContained(task)) {
        // The agent's repository holds base_commit and its ancestors only: no later commit, tag,
        // remote-tracking ref, reflog or stash that could show the fix. A copy is made as the
        // runner (who can read the checkout), then given to the sandbox user; in place, the
        // checkout's own history is cut.
        await repositoryAtBase(workDir, task.base_commit, { mode: 'keep-files' });
      } else if (!task && opts.historyBase) {
        await repositoryAtBase(workDir, opts.historyBase, { mode: 'keep-files' });
      }
      if (!task || !isSelfContained(task)) {
        // Byte-code and caches never belong in the patch (self-contained trees get this from materialiseWorkTree).
        await appendFile(path.join(workDir, '.git', 'info', 'exclude'), '\n__pycache__/\n*.pyc\n.pytest_cache/\n').catch(() => {});
      }
      if (uid !== undefined) await chownTree(workDir, uid);
      // bwrap: its private /tmp; a Pod: the image's home; else a throw-away home of the sandbox's own.
      if (opts.env?.HOME) {
        // the caller's choice
      } else if (isolation !== 'bwrap' && inKubernetes()) env.HOME = process.env.HOME ?? '/tmp';
      else if (isolation !== 'bwrap') {
        home = await mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'entropo-home-'));
        if (uid !== undefined) await chown(home, uid, uid);
        env.HOME = home;
      }
      // A work tree shown at another path needs bwrap's mount namespace; elsewhere it is shown where it is.
      const shownDir = opts.shownDir && isolation === 'bwrap' && opts.shownDir !== workDir ? opts.shownDir : undefined;
      let envBinds: EnvironmentBind[] = [];
      if ((opts.environment || sharedObjects) && isolation === 'bwrap') {
        try {
          envBinds = environmentBinds([...(opts.environment?.readOnlyDirs ?? []), ...(sharedObjects ? [sharedObjects] : [])], uid !== undefined);
        } catch (e) {
          throw new SandboxError(`environment of ${task?.instance_id ?? workDir} (${opts.environment?.origin ?? "shared objects"}): ${(e as Error).message}`);
        }
      }
      const sandbox = new Sandbox(workDir, '', isolation, uid, limits, env, inPlace, 0, home, shownDir, envBinds, sharedObjects);
      const head = await sandbox.git(['rev-parse', 'HEAD']);
      if (head.spawnError) {
        throw new SandboxError(
          `cannot run commands in ${workDir}${uid !== undefined ? ` as uid ${uid}` : ''}: ${head.spawnError}` +
            (uid !== undefined ? ' (every parent directory must be searchable by that user: set TMPDIR to one, e.g. /tmp)' : ''),
        );
      }
      if (head.exitCode !== 0) throw new SandboxError(`work tree ${workDir} is not a git repository: ${head.output}`);
      if (!inPlace) liveDirs.add(workDir);
      if (home) liveDirs.add(home);
      if (opts.environment?.setup) await sandbox.runSetup(opts.environment.setup, opts.setupTimeoutSeconds ?? 600, opts.environment.origin);
      const setupSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      return new Sandbox(workDir, head.output.trim(), isolation, uid, limits, env, inPlace, setupSeconds, home, shownDir, envBinds, sharedObjects);
    } catch (e) {
      if (!inPlace) await rm(workDir, { recursive: true, force: true });
      if (home) await rm(home, { recursive: true, force: true });
      throw e instanceof SandboxError ? e : new SandboxError((e as Error).message);
    }
  }

  /** Runs a bash script in the work tree under the sandbox's isolation and limits. */
  exec(command: string, timeoutSeconds: number): Promise<ExecResult> {
    if (this.disposed) throw new SandboxError('sandbox already disposed');
    const argv = commandArgv(
      {
        isolation: this.isolation,
        workDir: this.workDir,
        ...(this.shownDir ? { shownDir: this.shownDir } : {}),
        readOnlyBinds: runtimeBinds(),
        environmentBinds: this.envBinds,
        limits: this.limits,
        processLimit: this.uid !== undefined || inKubernetes(),
        unprivileged: this.uid !== undefined || process.getuid?.() !== 0,
      },
      command,
    );
    return execCapture(argv, {
      cwd: this.workDir,
      env: this.env,
      timeoutMs: Math.max(1, timeoutSeconds) * 1000,
      headBytes: this.limits.outputHeadBytes,
      tailBytes: this.limits.outputTailBytes,
      ...(this.uid !== undefined ? { uid: this.uid, gid: this.uid } : {}),
    });
  }

  /** Runs git in the work tree as the sandbox user (not isolated: git is ours, not the agent's). */
  private git(args: string[], extraEnv: Record<string, string> = {}, stdoutOnly = false, bytes = 64 * 1024 * 1024): Promise<ExecResult> {
    const argv = git(args);
    return execCapture(argv, {
      cwd: this.workDir,
      env: { ...this.env, HOME: os.tmpdir(), ...extraEnv },
      timeoutMs: 120_000,
      headBytes: bytes,
      tailBytes: 0,
      mergeStderr: !stdoutOnly,
      ...(this.uid !== undefined ? { uid: this.uid, gid: this.uid } : {}),
    });
  }

  /** Gives a file or directory the editor created to the sandbox user. */
  async own(p: string): Promise<void> {
    if (this.uid !== undefined) await chown(p, this.uid, this.uid);
  }

  /**
   * The patch: every change to the work tree (tracked and untracked files, commits the agent
   * made) against the base commit. A private index is used; the agent's own index is untouched.
   */
  async diff(maxBytes = MAX_PATCH_BYTES): Promise<string> {
    const index = path.join(os.tmpdir(), `entropo-index-${process.pid}-${randomInt(1e9)}`);
    const steps = [['read-tree', this.base], ['add', '-A', '.'], ['diff', '--cached', '--no-color', '--no-ext-diff', this.base]];
    try {
      let out = '';
      for (const args of steps) {
        const r = await this.git(['-c', 'core.fileMode=false', ...args], { GIT_INDEX_FILE: index }, args[0] === 'diff', maxBytes);
        if (r.exitCode !== 0 && !r.truncated) throw new SandboxError(`git ${args.join(' ')} failed (exit ${r.exitCode}): ${headChars(r.output, 2000)}`);
        if (r.truncated) throw new PatchTooLargeError(r.outputBytes, maxBytes);
        out = r.output;
      }
      return out;
    } finally {
      await rm(index, { force: true });
    }
  }

  /**
   * Kills every process of the sandbox's own user (kill -9 -1 as that user): what the agent left
   * running, even what escaped its process group (setsid, nohup, daemons), is dead before grading.
   * A no-op without a user of its own (then the PID namespace of bwrap/unshare, or the Pod's
   * container, ends them).
   */
  killLeftovers(): void {
    if (this.uid === undefined) return;
    spawnSync('/bin/sh', ['-c', 'kill -9 -1 2>/dev/null; true'], { uid: this.uid, gid: this.uid, stdio: 'ignore', timeout: 10_000 });
  }

  /** Kills what the agent left running, then removes the work tree (in place: puts it back to base). Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.killLeftovers();
    if (this.home) await rm(this.home, { recursive: true, force: true, maxRetries: 3 });
    if (this.home) liveDirs.delete(this.home);
    if (this.inPlace) {
      // Ignored files (build products of the image, e.g. compiled extensions) are kept.
      await this.git(['reset', '-q', '--hard', this.base]);
      await this.git(['clean', '-q', '-fd']);
      return;
    }
    await rm(this.workDir, { recursive: true, force: true, maxRetries: 3 });
    liveDirs.delete(this.workDir);
  }
}

/** Read-only binds for bwrap beyond the system directories: ENTROPO_SANDBOX_RO_BINDS and node's own directory. */
function runtimeBinds(): string[] {
  const nodeDir = path.dirname(path.dirname(process.execPath));
  const system = SANDBOX_SYSTEM_DIRS.some((d) => nodeDir === d || nodeDir.startsWith(`${d}/`));
  return [...extraReadOnlyBinds(), ...(system ? [] : [nodeDir])];
}

async function chownTree(dir: string, uid: number): Promise<void> {
  await chown(dir, uid, uid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid);
    else if ((await lstat(p)).isSymbolicLink()) continue;
    else await chown(p, uid, uid);
  }
}
