/**
 * Runs one process with a wall-time limit, in a process group of its own (killed as a whole on
 * timeout and after exit, so background children do not linger), capturing bounded output.
 */
import { spawn } from 'node:child_process';
import { HeadTail } from '../../util/output.ts';
import { killGroup, trackGroup, untrackGroup } from '../../util/process-groups.ts';

export interface ExecOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  headBytes: number;
  tailBytes: number;
  uid?: number;
  gid?: number;
  /** Capture stderr with stdout (default true); false: stderr is discarded. */
  mergeStderr?: boolean;
  /** After the main process exits, wait this long for the pipes to close (held by stragglers). */
  drainMs?: number;
}

export interface ExecResult {
  /** Exit status, or null when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  outputBytes: number;
  truncated: boolean;
  timedOut: boolean;
  seconds: number;
  /** Set when the process could not be started at all. */
  spawnError?: string;
}

export function execCapture(argv: string[], opts: ExecOptions): Promise<ExecResult> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  const out = new HeadTail(opts.headBytes, opts.tailBytes);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', 'pipe', opts.mergeStderr === false ? 'ignore' : 'pipe'],
        detached: true, // setsid: a process group (and session) of its own
        ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
      });
    } catch (e) {
      resolve({ exitCode: null, signal: null, output: '', outputBytes: 0, truncated: false, timedOut: false, seconds: seconds(), spawnError: (e as Error).message });
      return;
    }
    const pid = child.pid;
    trackGroup(pid);
    let timedOut = false;
    let settled = false;
    let exitCode: number | null = null;
    let signal: NodeJS.Signals | null = null;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = (spawnError?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      killGroup(pid);
      untrackGroup(pid);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({
        exitCode,
        signal,
        output: out.text(),
        outputBytes: out.total,
        truncated: out.truncated,
        timedOut,
        seconds: seconds(),
        ...(spawnError ? { spawnError } : {}),
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(pid);
      // The pipes close when every holder is dead; do not wait for ever if one escaped the group.
      drainTimer = setTimeout(() => finish(), opts.drainMs ?? 1000);
    }, opts.timeoutMs);
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => out.push(c));
    child.on('error', (e) => finish(e.message));
    child.on('exit', (code, sig) => {
      exitCode = code;
      signal = sig;
      // Background children of the command die with it; then the pipes close.
      killGroup(pid);
      drainTimer ??= setTimeout(() => finish(), opts.drainMs ?? 1000);
    });
    child.on('close', () => finish());
  });
}
