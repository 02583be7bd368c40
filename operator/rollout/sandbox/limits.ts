/**
 * Resource limits of every command run in a sandbox, as POSIX rlimits set by the shell that runs
 * the command (bash `ulimit`: sets soft and hard limits, so the command cannot raise them again
 * unless it runs as root).
 */
export interface ResourceLimits {
  /** CPU seconds per process (RLIMIT_CPU): an endless loop is killed by SIGXCPU/SIGKILL. */
  cpuSeconds: number;
  /** Address space per process in MiB (RLIMIT_AS). */
  memoryMiB: number;
  /**
   * Processes of the sandbox user (RLIMIT_NPROC): stops fork bombs. Only applied when the sandbox
   * runs as a user of its own (a root runner drops to one) or in a Pod, because the kernel counts
   * every process of the user and does not enforce it for root.
   */
  processes: number;
  /** Largest file a command may write, in MiB (RLIMIT_FSIZE). */
  fileSizeMiB: number;
  /** Open files per process (RLIMIT_NOFILE). */
  openFiles: number;
  /** Output kept per command: this many bytes from its start and this many from its end. */
  outputHeadBytes: number;
  outputTailBytes: number;
}

export const DEFAULT_LIMITS: ResourceLimits = {
  cpuSeconds: 600,
  memoryMiB: 8192,
  processes: 512,
  fileSizeMiB: 256,
  openFiles: 4096,
  outputHeadBytes: 8 * 1024,
  outputTailBytes: 8 * 1024,
};

/**
 * Shell lines setting the limits. Each limit is set on its own so that one the environment
 * forbids (a hard limit already lower) does not stop the others.
 */
export function ulimitScript(l: ResourceLimits, opts: { processLimit: boolean }): string {
  const lines = [
    // CPU: SIGXCPU at the soft limit (a signal the observation can name), SIGKILL a second later.
    `ulimit -H -t ${Math.max(1, Math.floor(l.cpuSeconds)) + 1}`,
    `ulimit -S -t ${Math.max(1, Math.floor(l.cpuSeconds))}`,
    `ulimit -v ${Math.max(1, Math.floor(l.memoryMiB * 1024))}`,
    `ulimit -f ${Math.max(1, Math.floor(l.fileSizeMiB * 1024))}`, // bash counts 1024-byte blocks
    `ulimit -n ${Math.max(16, Math.floor(l.openFiles))}`,
    'ulimit -c 0',
  ];
  if (opts.processLimit) lines.push(`ulimit -u ${Math.max(8, Math.floor(l.processes))}`);
  return lines.map((s) => `${s} 2>/dev/null`).join('; ');
}
