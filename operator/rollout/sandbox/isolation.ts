/**
 * How a sandbox command is isolated from the machine. A choice, with a default per environment:
 *
 * - bwrap (local default where bubblewrap works): only the system's programs and libraries
 *   (/usr, /bin, /lib*, /etc, /opt, read-only; SANDBOX_SYSTEM_DIRS, plus ENTROPO_SANDBOX_RO_BINDS)
 *   and the work tree (the only writable host path) are visible: no task suite, store, task file,
 *   home or runner. A private /tmp, no network (new network namespace), a new PID namespace
 *   (every process of a command dies with it, and the runner's /proc is not visible), a new session.
 * - unshare (util-linux; local fallback): a new network and PID namespace; the file system is
 *   protected by permissions only (a root runner drops to a user of its own).
 * - none: the command runs directly. Inside a Kubernetes sandbox Pod the container is the
 *   sandbox: its securityContext, resource limits and NetworkPolicy do the isolating.
 *
 * In every mode the command runs in its own process group with rlimits (limits.ts), and a root
 * runner (outside Kubernetes) runs it as an unprivileged user of its own so that the process
 * limit applies and files outside the work tree cannot be written.
 */
import { spawnSync } from 'node:child_process';
import { ulimitScript, type ResourceLimits } from './limits.ts';

export const ISOLATIONS = ['bwrap', 'unshare', 'none'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

/**
 * Host directories a bwrap sandbox sees (read-only, when they exist): programs, libraries and
 * configuration of the system and of runtimes installed under /usr/local or /opt. Never the root
 * file system as a whole: the task suite, the artifact store and the task files stay out of sight.
 */
export const SANDBOX_SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'] as const;

/** Extra read-only binds (runtimes outside SANDBOX_SYSTEM_DIRS), from ENTROPO_SANDBOX_RO_BINDS (colon-separated). */
export function extraReadOnlyBinds(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.ENTROPO_SANDBOX_RO_BINDS ?? '').split(':').filter((p) => p.startsWith('/'));
}

export interface CommandSpec {
  isolation: Isolation;
  workDir: string;
  /** bwrap: the path the work tree is mounted at inside the sandbox (default workDir). */
  shownDir?: string;
  /** bwrap: further read-only host directories (runtimes). */
  readOnlyBinds?: readonly string[];
  /**
   * bwrap: read-only binds of the task's environment (its venv, interpreter, PATH entries), `source`
   * shown at `dest`; made after the private /tmp, so an environment under /tmp stays visible.
   */
  environmentBinds?: readonly { source: string; dest: string }[];
  limits: ResourceLimits;
  /** Apply the process limit (the sandbox has a user of its own, or is a Pod). */
  processLimit: boolean;
  /** The command runs with a uid other than root (dropped, or the runner is not root). */
  unprivileged: boolean;
}

/** The argv that runs `command` (a bash script) under the chosen isolation. Pure. */
export function commandArgv(spec: CommandSpec, command: string): string[] {
  // Output of both streams goes to one pipe, in order; the limits come before the command.
  const script = `${ulimitScript(spec.limits, { processLimit: spec.processLimit })}\nexec 2>&1\n${command}`;
  const inner = ['bash', '--noprofile', '--norc', '-c', script];
  switch (spec.isolation) {
    case 'none':
      return inner;
    case 'unshare':
      return [
        'unshare',
        ...(spec.unprivileged ? ['--map-root-user'] : []),
        '--net',
        '--pid',
        '--fork',
        '--kill-child',
        ...inner,
      ];
    case 'bwrap': {
      const shown = spec.shownDir ?? spec.workDir;
      const ro = [...SANDBOX_SYSTEM_DIRS, ...(spec.readOnlyBinds ?? [])].flatMap((d) => ['--ro-bind-try', d, d]);
      return [
        'bwrap',
        ...ro,
        '--dev', '/dev',
        '--proc', '/proc',
        '--tmpfs', '/tmp',
        ...(spec.environmentBinds ?? []).flatMap((b) => ['--ro-bind', b.source, b.dest]),
        '--bind', spec.workDir, shown,
        '--chdir', shown,
        '--unshare-net',
        '--unshare-pid',
        '--unshare-ipc',
        '--unshare-uts',
        '--die-with-parent',
        '--new-session',
        '--',
        ...inner,
      ];
    }
  }
}

export const inKubernetes = (env: NodeJS.ProcessEnv = process.env): boolean => Boolean(env.KUBERNETES_SERVICE_HOST);

/** The first uid of the range sandbox users are drawn from when the runner is root. */
export const SANDBOX_UID_BASE = 200_000;
export const SANDBOX_UID_RANGE = 100_000;

const probeCache = new Map<string, boolean>();

/** Whether an isolation mode works on this machine for this user (probed once, cached). */
export function isolationWorks(isolation: Isolation, uid?: number): boolean {
  if (isolation === 'none') return true;
  // Whether it works depends on being root or not, not on which sandbox uid: one probe each.
  const key = `${isolation}:${uid === undefined ? 'runner' : 'own-user'}`;
  const cached = probeCache.get(key);
  if (cached !== undefined) return cached;
  const argv = commandArgv(
    {
      isolation,
      workDir: '/',
      limits: { cpuSeconds: 5, memoryMiB: 1024, processes: 64, fileSizeMiB: 1, openFiles: 64, outputHeadBytes: 0, outputTailBytes: 0 },
      processLimit: false,
      unprivileged: uid !== undefined && uid !== 0 ? true : process.getuid?.() !== 0,
    },
    'true',
  );
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 10_000, ...(uid !== undefined ? { uid, gid: uid } : {}) });
  const ok = r.status === 0;
  probeCache.set(key, ok);
  return ok;
}

/**
 * The default isolation: none in a Kubernetes Pod (the container is the sandbox), else the
 * strongest mode that works here.
 */
export function defaultIsolation(uid?: number, env: NodeJS.ProcessEnv = process.env): Isolation {
  if (inKubernetes(env)) return 'none';
  if (isolationWorks('bwrap', uid)) return 'bwrap';
  if (isolationWorks('unshare', uid)) return 'unshare';
  return 'none';
}
