/**
 * One rollout, end to end: a fresh sandbox for the task, the agent loop against the policy
 * endpoint, the final patch, the sandbox removed, then grading of the patch in a clean copy
 * (evaluatePatch: PASS_TO_PASS -> regression, FAIL_TO_PASS -> hidden, reward), after the agent
 * is done and out of its sight. This is the function local mode and the sandbox Pod entry point
 * call; it never throws for a rollout that went wrong: infrastructure failures come back as
 * exitReason "sandbox_error" (the sandbox) or "model_error" (the policy endpoint, after the
 * client's retries): no sample, retry, never a silent reward 0; such rollouts are not graded.
 */
import OpenAI from 'openai';
import type { RolloutLimits, Sampling } from '../api/common.ts';
import { isSelfContained, type SweBenchTask, type TaskRecord, type TrajectoryRecord } from '../api/records.ts';
import { logger as rootLogger, type Logger } from '../logging/logger.ts';
import { evaluatePatch, type PatchEvaluation } from '../grading/evaluate.ts';
import { runAgent, type AgentResult } from './agent/loop.ts';
import { SYSTEM_PROMPT, userPrompt } from './agent/prompts.ts';
import { PatchTooLargeError, Sandbox, type SandboxOptions } from './sandbox/sandbox.ts';
import { Toolbox } from './tools/toolbox.ts';
import { evaluateInCheckout } from '../grading/checkout.ts';
import { environmentVariables, withEnvironmentDefaults } from '../tasks/environments.ts';
import { NO_TESTS, TRAJECTORY_SCHEMA, allFailed, isSample, patchHash, samplingParams, trajectoryId } from './trajectory.ts';

export interface Endpoint {
  /** Base URL of the OpenAI-compatible API, e.g. http://vllm:8000/v1. */
  baseURL: string;
  apiKey?: string;
  /** Retries of a failed request by the client (default 2). */
  maxRetries?: number;
}

/** Everything one rollout needs. Sandbox Pods get it from arguments and environment variables. */
export interface RolloutAssignment {
  task: TaskRecord;
  sample: number;
  /** Run part of the trajectory id (<task>/<sample>/<run>): a run uid or batch name. */
  run: string;
  source?: TrajectoryRecord['source'];
  model: string;
  endpoint: Endpoint;
  sampling: Sampling;
  limits: RolloutLimits;
  sandbox?: SandboxOptions;
  /** Grading test-command timeout (default: the tool timeout x 5, at least 300 s). */
  gradingTimeoutSeconds?: number;
}

export type Evaluate = (task: TaskRecord, patch: string, opts?: { timeoutSeconds?: number; workDir?: string }) => Promise<PatchEvaluation>;

export interface RolloutDeps {
  /** A client to use instead of one made from the endpoint. */
  client?: OpenAI;
  /** The grader (default: evaluatePatch). */
  evaluate?: Evaluate;
  log?: Logger;
}

/** Seconds spent in each phase of a rollout (not part of the record; for benchmarks and logs). */
export interface RolloutPhases {
  setupSeconds: number;
  agentSeconds: number;
  diffSeconds: number;
  gradingSeconds: number;
}

export interface RolloutOutcome {
  trajectory: TrajectoryRecord;
  phases: RolloutPhases;
  /** Grading log (test output), when graded. */
  gradingLog?: string;
}

const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;

export function clientFor(endpoint: Endpoint): OpenAI {
  return new OpenAI({ baseURL: endpoint.baseURL, apiKey: endpoint.apiKey || 'EMPTY', maxRetries: endpoint.maxRetries ?? 2 });
}

export async function runRollout(a: RolloutAssignment, deps: RolloutDeps = {}): Promise<TrajectoryRecord> {
  return (await runRolloutDetailed(a, deps)).trajectory;
}

/** What the agent stage needs of a task: what the agent may see, no gold patch or hidden tests. */
export type AgentTaskView = Pick<TaskRecord, 'instance_id' | 'repo' | 'problem_statement'>;

/** The agent's part of a rollout: a trajectory record without grading, and its patch. */
export interface AgentStageResult {
  /** The record so far: messages, exit, usage, patch; regression/hidden empty, reward 0. */
  record: TrajectoryRecord;
  phases: RolloutPhases;
  /** Set when the patch cannot be graded for the agent's own doing (too large): a sample with reward 0. */
  ungradable?: string;
}

/** Options of the agent stage beyond the assignment. */
export interface AgentStageOptions {
  /** An existing work tree (git, base at HEAD) to work in, in place, instead of one made from the task. */
  workTree?: string;
}

function emptyRecord(a: Pick<RolloutAssignment, 'sample' | 'run' | 'source' | 'model'>, taskId: string, sampling: TrajectoryRecord['sampling'], startedAt: Date): TrajectoryRecord {
  return {
    schema: TRAJECTORY_SCHEMA,
    id: trajectoryId(taskId, a.sample, a.run),
    taskId,
    sample: a.sample,
    ...(a.source ? { source: a.source } : {}),
    model: a.model,
    sampling,
    messages: [],
    exitReason: 'sandbox_error',
    finished: false,
    steps: 0,
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    timings: [],
    startedAt: startedAt.toISOString(),
    durationSeconds: 0,
    patch: '',
    patchHash: patchHash(''),
    regression: NO_TESTS,
    hidden: NO_TESTS,
    resolved: false,
    reward: 0,
  };
}

/**
 * The agent stage: a sandbox (a fresh work tree of the task, or opts.workTree in place), the agent
 * loop, the final patch, the sandbox disposed. Never throws: infrastructure failures come back as
 * exitReason sandbox_error / model_error. Sees only `task`'s id, repo and problem statement.
 */
export async function runAgentStage(
  a: Omit<RolloutAssignment, 'task' | 'gradingTimeoutSeconds'> & { task: TaskRecord | AgentTaskView },
  deps: Pick<RolloutDeps, 'client' | 'log'> = {},
  opts: AgentStageOptions = {},
): Promise<AgentStageResult> {
  const log = (deps.log ?? rootLogger).child({ component: 'rollout', task: a.task.instance_id, sample: a.sample });
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + a.limits.timeoutSeconds * 1000;
  const sampling = samplingParams(a.sampling, a.sample);
  const phases: RolloutPhases = { setupSeconds: 0, agentSeconds: 0, diffSeconds: 0, gradingSeconds: 0 };
  const record = emptyRecord(a, a.task.instance_id, sampling, new Date());
  const done = (extra: Partial<TrajectoryRecord> = {}, ungradable?: string): AgentStageResult => {
    Object.assign(record, extra);
    record.durationSeconds = since(t0);
    return { record, phases, ...(ungradable ? { ungradable } : {}) };
  };

  // ---- sandbox
  let sandbox: Sandbox;
  try {
    if (opts.workTree) sandbox = await Sandbox.open(opts.workTree, a.sandbox);
    else if ('files' in a.task || 'base_commit' in a.task) sandbox = await Sandbox.create(a.task as TaskRecord, a.sandbox);
    else throw new Error('the task view carries no files or checkout: give the work tree');
  } catch (e) {
    return done({ error: `sandbox setup failed: ${(e as Error).message}` });
  }
  phases.setupSeconds = sandbox.setupSeconds;

  // ---- agent, then the patch
  let agent: AgentResult;
  let patch: string;
  try {
    const toolbox = new Toolbox(sandbox, { toolTimeoutSeconds: a.limits.toolTimeoutSeconds });
    record.tools = toolbox.tools;
    const ta = process.hrtime.bigint();
    try {
      agent = await runAgent({
        client: deps.client ?? clientFor(a.endpoint),
        model: a.model,
        sampling,
        limits: a.limits,
        toolbox,
        systemPrompt: SYSTEM_PROMPT,
        userPrompt: userPrompt(a.task, sandbox.shownDir ?? sandbox.workDir),
        deadline,
        log,
      });
    } catch (e) {
      return done({ error: `agent loop failed: ${(e as Error).stack ?? (e as Error).message}` });
    }
    phases.agentSeconds = since(ta);
    Object.assign(record, {
      messages: agent.messages,
      exitReason: agent.exitReason,
      finished: agent.finished,
      steps: agent.steps,
      usage: agent.usage,
      timings: agent.timings,
      ...(agent.error ? { error: agent.error } : {}),
    });
    if (!isSample(agent)) return done();
    const td = process.hrtime.bigint();
    try {
      patch = await sandbox.diff();
    } catch (e) {
      // Too large: the agent's outcome, not the infrastructure's: a sample with reward 0, the reason recorded.
      if (e instanceof PatchTooLargeError) return done({ error: [record.error, e.message].filter(Boolean).join('; ') }, e.message);
      return done({ exitReason: 'sandbox_error', finished: false, error: `cannot take the patch: ${(e as Error).message}` });
    }
    phases.diffSeconds = since(td);
  } finally {
    // Kills whatever the agent left running (process groups; the PID namespace under bwrap/unshare).
    await sandbox.dispose().catch((e: Error) => log.warn('work tree cleanup failed', { error: e.message }));
  }
  record.patch = patch;
  record.patchHash = patchHash(patch);
  return done();
}

/**
 * The grading stage: grades the agent stage's patch on a fresh copy (evaluatePatch for
 * self-contained tasks, a fresh checkout for SWE-bench ones) and completes the record. A record
 * that is no sample is returned as it is (never graded). Never throws.
 */
export async function runGradingStage(
  task: TaskRecord,
  stage: AgentStageResult,
  opts: { evaluate?: Evaluate; timeoutSeconds: number; sandbox?: SandboxOptions; log?: Logger },
): Promise<RolloutOutcome> {
  const log = (opts.log ?? rootLogger).child({ component: 'rollout', task: task.instance_id, sample: stage.record.sample });
  const record = stage.record;
  const phases = stage.phases;
  const startDuration = record.durationSeconds;
  const t0 = process.hrtime.bigint();
  const done = (extra: Partial<TrajectoryRecord> = {}, gradingLog?: string): RolloutOutcome => {
    Object.assign(record, extra);
    record.durationSeconds = startDuration + since(t0);
    log.info('rollout done', { exit: record.exitReason, steps: record.steps, resolved: record.resolved, seconds: Math.round(record.durationSeconds * 10) / 10 });
    return { trajectory: record, phases, ...(gradingLog !== undefined ? { gradingLog } : {}) };
  };
  if (!isSample(record)) return done();
  if (stage.ungradable) return done({ regression: allFailed(task.PASS_TO_PASS), hidden: allFailed(task.FAIL_TO_PASS), resolved: false, reward: 0 });
  const tg = process.hrtime.bigint();
  let ev: PatchEvaluation;
  try {
    if (opts.evaluate || isSelfContained(task)) {
      ev = await (opts.evaluate ?? evaluatePatch)(task, record.patch, { timeoutSeconds: opts.timeoutSeconds, ...(opts.sandbox?.tmpDir ? { workDir: opts.sandbox.tmpDir } : {}) });
    } else {
      ev = await gradeSweBench(task, record.patch, opts.sandbox ?? {}, opts.timeoutSeconds);
    }
  } catch (e) {
    phases.gradingSeconds = since(tg);
    return done({ exitReason: 'sandbox_error', finished: false, error: `grading failed: ${(e as Error).message}` });
  }
  phases.gradingSeconds = since(tg);
  const graded: Partial<TrajectoryRecord> = { regression: ev.regression, hidden: ev.hidden, resolved: ev.resolved, reward: ev.reward };
  const notes = [record.error];
  if (!ev.applied || ev.applyError) notes.push(`patch not graded as applied: ${ev.applyError ?? 'did not apply'}`);
  if (ev.tampering?.length) notes.push(`grading flagged tampering: ${ev.tampering.join('; ')}`);
  if (notes.some(Boolean)) graded.error = notes.filter(Boolean).join('; ');
  return done(graded, ev.log);
}

/** The grading timeout of an assignment: given, or the tool timeout x 5, at least 300 s. */
export const gradingTimeoutOf = (a: Pick<RolloutAssignment, 'gradingTimeoutSeconds' | 'limits'>): number =>
  a.gradingTimeoutSeconds ?? Math.max(300, a.limits.toolTimeoutSeconds * 5);

/** One rollout in one process: the agent stage, then the grading stage on a fresh copy. */
export async function runRolloutDetailed(a: RolloutAssignment, deps: RolloutDeps = {}): Promise<RolloutOutcome> {
  const stage = await runAgentStage(a, deps);
  return runGradingStage(a.task, stage, {
    ...(deps.evaluate ? { evaluate: deps.evaluate } : {}),
    timeoutSeconds: gradingTimeoutOf(a),
    ...(a.sandbox ? { sandbox: a.sandbox } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
}

/**
 * A SWE-bench task is graded in its own environment: the checkout itself when the rollout ran
 * in place (a sandbox Pod of the task image), else a fresh clone of it at base_commit. Its history
 * is cut to base_commit here too: the candidate's code runs during the tests and must not find the
 * fix in a later commit of the repository either.
 */
export async function gradeSweBench(task: SweBenchTask, patch: string, opts: SandboxOptions, timeoutSeconds: number): Promise<PatchEvaluation> {
  const clean = await Sandbox.create(task, { ...opts, isolation: 'none', user: 'runner' });
  try {
    const env = environmentVariables(opts.environment, process.env.PATH ?? '/usr/bin:/bin');
    return await evaluateInCheckout(withEnvironmentDefaults(task, opts.environment), patch, {
      dir: clean.workDir,
      base: clean.base,
      timeoutSeconds,
      ...(opts.environment ? { env } : {}),
      readOnlyDirs: [...(opts.environment?.readOnlyDirs ?? []), ...(clean.sharedObjects ? [clean.sharedObjects] : [])],
    });
  } finally {
    await clean.dispose();
  }
}
