/**
 * The assignment of a sandbox Pod (one rollout), from command-line options and environment
 * variables (an option wins over its variable). Pure: reading the task and writing results are
 * the caller's. The variables, which the sandbox Pod builder sets:
 *
 *   ENTROPO_TASK_FILE        file holding the task: one JSON record, or JSONL (then ENTROPO_TASK_ID)
 *   ENTROPO_TASK_KEY         artifact-store key of that file (instead of ENTROPO_TASK_FILE)
 *   ENTROPO_TASK_ID          instance_id of the task in a multi-task file
 *   ENTROPO_SAMPLE           sample index (default 0); the seed of sample i is seed + i
 *   ENTROPO_RUN              run part of the trajectory id <task>/<sample>/<run> (default "local")
 *   ENTROPO_SOURCE           JSON {kind, namespace, name, iteration} of the owning object
 *   ENTROPO_ENDPOINT         base URL of the OpenAI-compatible API (fallback OPENAI_BASE_URL)
 *   ENTROPO_API_KEY          API key (fallback OPENAI_API_KEY; never an argument)
 *   ENTROPO_MODEL            model name
 *   ENTROPO_SAMPLING         JSON of the Sampling spec (temperature, topP, topK, maxTokensPerTurn, seed)
 *   ENTROPO_LIMITS           JSON of the RolloutLimits spec (maxSteps, maxTokens, timeoutSeconds, ...)
 *   ENTROPO_STORE_URI        artifact store (file:///dir, pvc://claim/prefix)
 *   ENTROPO_TRAJECTORY_KEY   key of the trajectory in the store (default trajectories/<task>/<sample>-<run>.json)
 *   ENTROPO_TERMINATION_LOG  where the summary goes (default /dev/termination-log)
 *   ENTROPO_SANDBOX_ISOLATION auto | bwrap | unshare | none (default auto: none in a Pod)
 *   ENTROPO_REPO_DIR         SWE-bench: the repository checkout in the task image (default /testbed)
 *   ENTROPO_GRADING_TIMEOUT  seconds for the grading test run
 *
 * The sandbox's phases (`entropo sandbox prepare | agent | prepare-grading | grade`, each its own
 * process or container; operator/rollout/phases/) read the same variables, each only the ones it
 * needs, plus:
 *
 *   ENTROPO_WORKSPACE        the shared workspace volume (default /workspace): task.json (the agent's
 *                            view of the task), repo/ (self-contained tasks' work tree), out/ (agent.json,
 *                            patch.diff)
 *   ENTROPO_HIDDEN           the grading volume (default /hidden): task.json without the gold patch;
 *                            mounted only in prepare-grading and grade
 *   ENTROPO_SANDBOX_USER     agent: uid its commands run as (a root runner drops to it; default: a
 *                            random uid when the runner is root)
 *   ENTROPO_SANDBOX_RO_BINDS bwrap: extra read-only host directories (runtimes outside /usr, /opt)
 *
 * The agent phase refuses ENTROPO_TASK_FILE, ENTROPO_TASK_KEY and ENTROPO_STORE_URI: it must never
 * be able to read the task record (gold patch, hidden tests) or the store.
 */
import { RolloutLimits, Sampling } from '../api/common.ts';
import type { TrajectoryRecord } from '../api/records.ts';
import { check } from '../api/validate.ts';
import { ISOLATIONS, type Isolation } from './sandbox/isolation.ts';

export interface SandboxCliOptions {
  taskFile?: string;
  taskKey?: string;
  taskId?: string;
  sample?: string;
  run?: string;
  source?: string;
  endpoint?: string;
  model?: string;
  sampling?: string;
  limits?: string;
  store?: string;
  trajectoryKey?: string;
  terminationLog?: string;
  isolation?: string;
  repoDir?: string;
  gradingTimeout?: string;
}

export interface SandboxInputs {
  task: { file: string } | { key: string };
  taskId?: string;
  sample: number;
  run: string;
  source?: TrajectoryRecord['source'];
  endpoint: string;
  apiKey?: string;
  model: string;
  sampling: Sampling;
  limits: RolloutLimits;
  storeUri: string;
  trajectoryKey?: string;
  terminationLog: string;
  isolation: Isolation | 'auto';
  repoDir: string;
  gradingTimeoutSeconds?: number;
}

export class AssignmentError extends Error {
  override name = 'AssignmentError';
}

const ENV: Record<keyof SandboxCliOptions, string> = {
  taskFile: 'ENTROPO_TASK_FILE',
  taskKey: 'ENTROPO_TASK_KEY',
  taskId: 'ENTROPO_TASK_ID',
  sample: 'ENTROPO_SAMPLE',
  run: 'ENTROPO_RUN',
  source: 'ENTROPO_SOURCE',
  endpoint: 'ENTROPO_ENDPOINT',
  model: 'ENTROPO_MODEL',
  sampling: 'ENTROPO_SAMPLING',
  limits: 'ENTROPO_LIMITS',
  store: 'ENTROPO_STORE_URI',
  trajectoryKey: 'ENTROPO_TRAJECTORY_KEY',
  terminationLog: 'ENTROPO_TERMINATION_LOG',
  isolation: 'ENTROPO_SANDBOX_ISOLATION',
  repoDir: 'ENTROPO_REPO_DIR',
  gradingTimeout: 'ENTROPO_GRADING_TIMEOUT',
};

function json(what: string, text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AssignmentError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

function spec<T>(schema: Parameters<typeof check>[0], what: string, text: string | undefined): T {
  const r = check<T>(schema, json(what, text));
  if (!r.ok) throw new AssignmentError(`${what}: ${r.errors.map((e) => `${e.field || '(root)'}: ${e.message}`).join('; ')}`);
  return r.value;
}

function nonNegativeInt(what: string, text: string | undefined, dflt: number): number {
  if (text === undefined || text === '') return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new AssignmentError(`${what}: expected a non-negative integer, got ${JSON.stringify(text)}`);
  return n;
}

/** Resolves the assignment; throws AssignmentError naming the option or variable at fault. */
export function resolveSandboxInputs(opts: SandboxCliOptions, env: NodeJS.ProcessEnv): SandboxInputs {
  const get = (k: keyof SandboxCliOptions): string | undefined => opts[k] ?? (env[ENV[k]] || undefined);
  const name = (k: keyof SandboxCliOptions) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} / ${ENV[k]}`;
  const file = get('taskFile');
  const key = get('taskKey');
  if (!file === !key) throw new AssignmentError(`exactly one of ${name('taskFile')} or ${name('taskKey')} is required`);
  const endpoint = get('endpoint') ?? (env.OPENAI_BASE_URL || undefined);
  if (!endpoint || !/^https?:\/\/./.test(endpoint)) throw new AssignmentError(`${name('endpoint')}: an http(s) URL of an OpenAI-compatible API is required`);
  const model = get('model');
  if (!model) throw new AssignmentError(`${name('model')} is required`);
  const store = get('store');
  if (!store) throw new AssignmentError(`${name('store')} is required (file:///dir or pvc://claim/prefix)`);
  const isolation = get('isolation') ?? 'auto';
  if (isolation !== 'auto' && !(ISOLATIONS as readonly string[]).includes(isolation)) {
    throw new AssignmentError(`${name('isolation')}: expected auto, ${ISOLATIONS.join(', ')}; got ${JSON.stringify(isolation)}`);
  }
  const sourceText = get('source');
  const source = sourceText ? (json(name('source'), sourceText) as TrajectoryRecord['source']) : undefined;
  const apiKey = env.ENTROPO_API_KEY || env.OPENAI_API_KEY || undefined;
  const gradingTimeout = get('gradingTimeout');
  return {
    task: file ? { file } : { key: key! },
    ...(get('taskId') ? { taskId: get('taskId') } : {}),
    sample: nonNegativeInt(name('sample'), get('sample'), 0),
    run: get('run') ?? 'local',
    ...(source ? { source } : {}),
    endpoint,
    ...(apiKey ? { apiKey } : {}),
    model,
    sampling: spec<Sampling>(Sampling, name('sampling'), get('sampling')),
    limits: spec<RolloutLimits>(RolloutLimits, name('limits'), get('limits')),
    storeUri: store,
    ...(get('trajectoryKey') ? { trajectoryKey: get('trajectoryKey') } : {}),
    terminationLog: get('terminationLog') ?? '/dev/termination-log',
    isolation: isolation as Isolation | 'auto',
    repoDir: get('repoDir') ?? '/testbed',
    ...(gradingTimeout ? { gradingTimeoutSeconds: nonNegativeInt(name('gradingTimeout'), gradingTimeout, 300) } : {}),
  };
}

/** A path segment safe for an artifact key. */
export const keySegment = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 200) || '_';

/** The default store key of a trajectory. */
export function defaultTrajectoryKey(taskId: string, sample: number, run: string): string {
  return `trajectories/${keySegment(taskId)}/${sample}-${keySegment(run)}.json`;
}

/**
 * The environment variables that give a sandbox Pod its assignment: the inverse of
 * resolveSandboxInputs (a workload builder puts these in the container spec; the API key comes
 * from a Secret, not from here). Pure.
 */
export function sandboxEnv(a: Omit<SandboxInputs, 'apiKey' | 'terminationLog' | 'repoDir' | 'isolation'> & Partial<Pick<SandboxInputs, 'terminationLog' | 'repoDir' | 'isolation'>>): { name: string; value: string }[] {
  const env: [string, string | undefined][] = [
    ['ENTROPO_TASK_FILE', 'file' in a.task ? a.task.file : undefined],
    ['ENTROPO_TASK_KEY', 'key' in a.task ? a.task.key : undefined],
    ['ENTROPO_TASK_ID', a.taskId],
    ['ENTROPO_SAMPLE', String(a.sample)],
    ['ENTROPO_RUN', a.run],
    ['ENTROPO_SOURCE', a.source ? JSON.stringify(a.source) : undefined],
    ['ENTROPO_ENDPOINT', a.endpoint],
    ['ENTROPO_MODEL', a.model],
    ['ENTROPO_SAMPLING', JSON.stringify(a.sampling)],
    ['ENTROPO_LIMITS', JSON.stringify(a.limits)],
    ['ENTROPO_STORE_URI', a.storeUri],
    ['ENTROPO_TRAJECTORY_KEY', a.trajectoryKey],
    ['ENTROPO_TERMINATION_LOG', a.terminationLog],
    ['ENTROPO_SANDBOX_ISOLATION', a.isolation],
    ['ENTROPO_REPO_DIR', a.repoDir],
    ['ENTROPO_GRADING_TIMEOUT', a.gradingTimeoutSeconds !== undefined ? String(a.gradingTimeoutSeconds) : undefined],
  ];
  return env.filter((e): e is [string, string] => e[1] !== undefined).map(([name, value]) => ({ name, value }));
}

// ---------------------------------------------------------------------------------------------
// The sandbox's phases

export const SANDBOX_PHASES = ['prepare', 'agent', 'prepare-grading', 'grade'] as const;
export type Phase = (typeof SANDBOX_PHASES)[number];

export const DEFAULT_WORKSPACE = '/workspace';
export const DEFAULT_HIDDEN = '/hidden';

/** Inputs of `entropo sandbox prepare` and `prepare-grading`: where the task is, where to write. */
export interface PrepareInputs {
  task: { file: string } | { key: string };
  taskId?: string;
  storeUri?: string;
  workspace: string;
  hidden: string;
  repoDir: string;
}

/** Inputs of `entropo sandbox agent`: no task record, no store. */
export interface AgentPhaseInputs {
  workspace: string;
  sample: number;
  run: string;
  source?: TrajectoryRecord['source'];
  endpoint: string;
  apiKey?: string;
  model: string;
  sampling: Sampling;
  limits: RolloutLimits;
  isolation: Isolation | 'auto';
  user?: number;
  repoDir: string;
  terminationLog: string;
}

/** Inputs of `entropo sandbox grade`. */
export interface GradePhaseInputs {
  workspace: string;
  hidden: string;
  storeUri: string;
  trajectoryKey?: string;
  sample: number;
  run: string;
  terminationLog: string;
  repoDir: string;
  gradingTimeoutSeconds?: number;
}

/** Options of the phase subcommands (a superset of SandboxCliOptions). */
export interface PhaseCliOptions extends SandboxCliOptions {
  workspace?: string;
  hidden?: string;
  user?: string;
}

const PHASE_ENV = { workspace: 'ENTROPO_WORKSPACE', hidden: 'ENTROPO_HIDDEN', user: 'ENTROPO_SANDBOX_USER' } as const;

/**
 * Resolves one phase's inputs from options and environment variables; throws AssignmentError
 * naming the option or variable at fault (and for the agent phase, any task or store variable).
 */
export function resolvePhaseInputs(phase: 'prepare' | 'prepare-grading', opts: PhaseCliOptions, env: NodeJS.ProcessEnv): PrepareInputs;
export function resolvePhaseInputs(phase: 'agent', opts: PhaseCliOptions, env: NodeJS.ProcessEnv): AgentPhaseInputs;
export function resolvePhaseInputs(phase: 'grade', opts: PhaseCliOptions, env: NodeJS.ProcessEnv): GradePhaseInputs;
export function resolvePhaseInputs(phase: Phase, opts: PhaseCliOptions, env: NodeJS.ProcessEnv): PrepareInputs | AgentPhaseInputs | GradePhaseInputs {
  const get = (k: keyof SandboxCliOptions): string | undefined => opts[k] ?? (env[ENV[k]] || undefined);
  const getP = (k: keyof typeof PHASE_ENV): string | undefined => opts[k] ?? (env[PHASE_ENV[k]] || undefined);
  const name = (k: keyof SandboxCliOptions) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} / ${ENV[k]}`;
  const workspace = getP('workspace') ?? DEFAULT_WORKSPACE;
  const hidden = getP('hidden') ?? DEFAULT_HIDDEN;
  const repoDir = get('repoDir') ?? '/testbed';
  const sample = nonNegativeInt(name('sample'), get('sample'), 0);
  const run = get('run') ?? 'local';
  const terminationLog = get('terminationLog') ?? '/dev/termination-log';
  switch (phase) {
    case 'prepare':
    case 'prepare-grading': {
      const file = get('taskFile');
      const key = get('taskKey');
      if (!file === !key) throw new AssignmentError(`exactly one of ${name('taskFile')} or ${name('taskKey')} is required`);
      const store = get('store');
      if (key && !store) throw new AssignmentError(`${name('store')} is required to read the task by key`);
      return { task: file ? { file } : { key: key! }, ...(get('taskId') ? { taskId: get('taskId') } : {}), ...(store ? { storeUri: store } : {}), workspace, hidden, repoDir };
    }
    case 'agent': {
      for (const k of ['taskFile', 'taskKey', 'store'] as const) {
        if (get(k)) throw new AssignmentError(`${name(k)} must not be given to the agent phase: it would let the agent read the task record or the store`);
      }
      const endpoint = get('endpoint') ?? (env.OPENAI_BASE_URL || undefined);
      if (!endpoint || !/^https?:\/\/./.test(endpoint)) throw new AssignmentError(`${name('endpoint')}: an http(s) URL of an OpenAI-compatible API is required`);
      const model = get('model');
      if (!model) throw new AssignmentError(`${name('model')} is required`);
      const isolation = get('isolation') ?? 'auto';
      if (isolation !== 'auto' && !(ISOLATIONS as readonly string[]).includes(isolation)) {
        throw new AssignmentError(`${name('isolation')}: expected auto, ${ISOLATIONS.join(', ')}; got ${JSON.stringify(isolation)}`);
      }
      const sourceText = get('source');
      const source = sourceText ? (json(name('source'), sourceText) as TrajectoryRecord['source']) : undefined;
      const apiKey = env.ENTROPO_API_KEY || env.OPENAI_API_KEY || undefined;
      const userText = getP('user');
      return {
        workspace,
        sample,
        run,
        ...(source ? { source } : {}),
        endpoint,
        ...(apiKey ? { apiKey } : {}),
        model,
        sampling: spec<Sampling>(Sampling, name('sampling'), get('sampling')),
        limits: spec<RolloutLimits>(RolloutLimits, name('limits'), get('limits')),
        isolation: isolation as Isolation | 'auto',
        ...(userText !== undefined ? { user: nonNegativeInt(`--user / ${PHASE_ENV.user}`, userText, 0) } : {}),
        repoDir,
        terminationLog,
      };
    }
    case 'grade': {
      const store = get('store');
      if (!store) throw new AssignmentError(`${name('store')} is required (file:///dir or pvc://claim/prefix)`);
      const gradingTimeout = get('gradingTimeout');
      return {
        workspace,
        hidden,
        storeUri: store,
        ...(get('trajectoryKey') ? { trajectoryKey: get('trajectoryKey') } : {}),
        sample,
        run,
        terminationLog,
        repoDir,
        ...(gradingTimeout ? { gradingTimeoutSeconds: nonNegativeInt(name('gradingTimeout'), gradingTimeout, 300) } : {}),
      };
    }
  }
}
