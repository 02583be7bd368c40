/**
 * Running commands for grading: a clean, pinned environment (no network needed, no inherited
 * NODE_OPTIONS / PYTEST_ADDOPTS / GIT_DIR), a wall-clock timeout that kills the whole process
 * group, combined stdout+stderr capped in size.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { HeadTail } from '../util/output.ts';
import { killGroup as killProcessGroup, trackGroup, untrackGroup } from '../util/process-groups.ts';

/** Variables pinned for reproducible test runs (flaky-test hygiene). */
export const HYGIENE_ENV: Readonly<Record<string, string>> = {
  TZ: 'UTC',
  LC_ALL: 'C.UTF-8',
  LANG: 'C.UTF-8',
  PYTHONHASHSEED: '0',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
  PYTHONWARNINGS: 'ignore',
  PIP_NO_INDEX: '1',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
  NODE_NO_WARNINGS: '1',
  CI: '1',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'entropo',
  GIT_AUTHOR_EMAIL: 'entropo@localhost',
  GIT_COMMITTER_NAME: 'entropo',
  GIT_COMMITTER_EMAIL: 'entropo@localhost',
  GIT_AUTHOR_DATE: '2000-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2000-01-01T00:00:00Z',
};

/** The environment graded commands run with: PATH and HOME from the parent, plus HYGIENE_ENV. */
export function gradingEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...HYGIENE_ENV, ...extra };
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'PYENV_ROOT', 'PYENV_VERSION', 'VIRTUAL_ENV']) {
    const v = process.env[k];
    if (v !== undefined && env[k] === undefined) env[k] = v;
  }
  return env;
}

export interface ExecResult {
  /** Exit code; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved as they arrived, capped at maxOutputBytes (the head is kept, then the tail). */
  output: string;
  /** stderr alone (capped likewise), when ExecOptions.captureStderr was set. */
  stderrOutput?: string;
  timedOut: boolean;
  seconds: number;
}

export interface ExecOptions {
  cwd: string;
  timeoutSeconds?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
  maxOutputBytes?: number;
  /** 'merge' (default): stderr interleaved into output; 'ignore': output is stdout only. */
  stderr?: 'merge' | 'ignore';
  /** Also keep stderr on its own (ExecResult.stderrOutput). */
  captureStderr?: boolean;
}

/**
 * Runs `command` with /bin/sh -c in its own process group; on timeout the whole group gets
 * SIGKILL (test runners that spawn workers cannot outlive it). Never rejects for a non-zero exit.
 */
export function runShell(command: string, opts: ExecOptions): Promise<ExecResult> {
  return runProcess('/bin/sh', ['-c', command], opts);
}

export function runProcess(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  const started = process.hrtime.bigint();
  const max = opts.maxOutputBytes ?? 4 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env ?? gradingEnv(),
      detached: true,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', opts.stderr === 'ignore' ? 'ignore' : 'pipe'],
    });
    // Capped at `max` bytes: the first half is kept, then the most recent half.
    const capped = () => new HeadTail(max / 2, max / 2, 'dropped');
    const combined = capped();
    const errOnly = opts.captureStderr ? capped() : undefined;
    child.stdout?.on('data', (b: Buffer) => combined.push(b));
    child.stderr?.on('data', (b: Buffer) => {
      combined.push(b);
      errOnly?.push(b);
    });
    trackGroup(child.pid);
    let timedOut = false;
    const killGroup = () => killProcessGroup(child.pid);
    const timer =
      opts.timeoutSeconds !== undefined
        ? setTimeout(() => {
            timedOut = true;
            killGroup();
          }, opts.timeoutSeconds * 1000)
        : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      untrackGroup(child.pid);
      reject(err);
    });
    // When the command itself exits, reap what it left running in its group (a background
    // process holding the output pipe open would otherwise delay 'close' until the timeout).
    child.on('exit', killGroup);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      untrackGroup(child.pid);
      resolve({
        code,
        signal,
        output: combined.text(),
        ...(errOnly ? { stderrOutput: errOnly.text() } : {}),
        timedOut,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

let bwrapWorks: boolean | undefined;

/**
 * Whether bubblewrap can make a sandbox for grading here (probed once). Outside a Pod only: there
 * the container is the sandbox. ENTROPO_GRADING_SANDBOX=none turns it off (the hidden files are
 * then only checked for changes after the run).
 */
export function gradingSandboxWorks(): boolean {
  if (process.env.KUBERNETES_SERVICE_HOST || process.env.ENTROPO_GRADING_SANDBOX === 'none') return false;
  bwrapWorks ??= spawnSync('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-net', '--unshare-pid', '--die-with-parent', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  return bwrapWorks;
}

/**
 * The argv that runs a grading test command in dir under bubblewrap: the whole file system
 * read-only, a private /tmp, dir (the grading copy) writable but the `readOnly` paths inside it
 * (hidden test files, .git) bound read-only over themselves, the `writable` directories outside it
 * (the runner's report) writable, no network, a PID namespace of its own
 * (nothing the tests start outlives them). Pure.
 */
export function sandboxedGradingArgv(command: string, dir: string, readOnly: readonly string[], writable: readonly string[] = []): string[] {
  const ro = readOnly.flatMap((f) => {
    const abs = path.resolve(dir, f);
    return ['--ro-bind', abs, abs];
  });
  return [
    'bwrap',
    '--ro-bind', '/', '/',
    '--dev', '/dev',
    '--proc', '/proc',
    '--tmpfs', '/tmp',
    '--bind', dir, dir,
    ...writable.flatMap((w) => ['--bind', w, w]),
    ...ro,
    '--chdir', dir,
    '--unshare-net',
    '--unshare-pid',
    '--unshare-ipc',
    '--die-with-parent',
    '--new-session',
    '--',
    '/bin/sh', '-c', command,
  ];
}
