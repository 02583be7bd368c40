/**
 * The process groups this runner has started and not yet reaped: agent commands in sandboxes and
 * grading's test runs alike. A runner stopped by a signal kills them all (killAllGroups), so no
 * command outlives it.
 */
const live = new Set<number>();

export function trackGroup(pid: number | undefined): void {
  if (pid !== undefined) live.add(pid);
}

/** SIGKILLs the whole group (ESRCH, when it is already gone, is fine). */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is gone already.
  }
}

export function untrackGroup(pid: number | undefined): void {
  if (pid !== undefined) live.delete(pid);
}

/** Kills every tracked group (synchronous, for signal handlers). */
export function killAllGroups(): void {
  for (const pid of live) killGroup(pid);
  live.clear();
}
