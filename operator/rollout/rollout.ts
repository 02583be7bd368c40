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

export async function runRolloutDetailed(a: RolloutAssignment, deps: RolloutDeps = {}): Promise<RolloutOutcome> {
  const log = (deps.log ?? rootLogger).child({ component: 'rollout', task: a.task.instance_id, sample: a.sample });
  const startedAt = new Date();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + a.limits.timeoutSeconds * 1000;
  const sampling = samplingParams(a.sampling, a.sample);
  const phases: RolloutPhases = { setupSeconds: 0, agentSeconds: 0, diffSeconds: 0, gradingSeconds: 0 };
  const record: TrajectoryRecord = {
    schema: TRAJECTORY_SCHEMA,
    id: trajectoryId(a.task.instance_id, a.sample, a.run),
    taskId: a.task.instance_id,
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
  const done = (extra: Partial<TrajectoryRecord> = {}, gradingLog?: string): RolloutOutcome => {
    Object.assign(record, extra);
    record.durationSeconds = since(t0);
    log.info('rollout done', { exit: record.exitReason, steps: record.steps, resolved: record.resolved, seconds: Math.round(record.durationSeconds * 10) / 10 });
    return { trajectory: record, phases, ...(gradingLog !== undefined ? { gradingLog } : {}) };
  };

  // ---- sandbox
  let sandbox: Sandbox;
  try {
    sandbox = await Sandbox.create(a.task, a.sandbox);
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
        userPrompt: userPrompt(a.task, sandbox.workDir),
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
      if (e instanceof PatchTooLargeError) {
        // The agent's outcome, not the infrastructure's: a sample with reward 0, the reason recorded.
        return done({
          regression: allFailed(a.task.PASS_TO_PASS),
          hidden: allFailed(a.task.FAIL_TO_PASS),
          error: [record.error, e.message].filter(Boolean).join('; '),
        });
      }
      return done({ exitReason: 'sandbox_error', finished: false, error: `cannot take the patch: ${(e as Error).message}` });
    }
    phases.diffSeconds = since(td);
  } finally {
    await sandbox.dispose().catch((e: Error) => log.warn('work tree cleanup failed', { error: e.message }));
  }
  record.patch = patch;
  record.patchHash = patchHash(patch);

  // ---- grading, in a clean copy, after the agent is done
  const tg = process.hrtime.bigint();
  let ev: PatchEvaluation;
  try {
    const timeoutSeconds = a.gradingTimeoutSeconds ?? Math.max(300, a.limits.toolTimeoutSeconds * 5);
    if (deps.evaluate || isSelfContained(a.task)) {
      ev = await (deps.evaluate ?? evaluatePatch)(a.task, patch, { timeoutSeconds, ...(a.sandbox?.tmpDir ? { workDir: a.sandbox.tmpDir } : {}) });
    } else {
      ev = await gradeSweBench(a.task, patch, a.sandbox ?? {}, timeoutSeconds);
    }
  } catch (e) {
    phases.gradingSeconds = since(tg);
    return done({ exitReason: 'sandbox_error', finished: false, error: `grading failed: ${(e as Error).message}` });
  }
  phases.gradingSeconds = since(tg);
  const graded: Partial<TrajectoryRecord> = { regression: ev.regression, hidden: ev.hidden, resolved: ev.resolved, reward: ev.reward };
  if (!ev.applied || ev.applyError) {
    graded.error = [record.error, `patch not graded as applied: ${ev.applyError ?? 'did not apply'}`].filter(Boolean).join('; ');
  }
  return done(graded, ev.log);
}

/**
 * A SWE-bench task is graded in its own environment: the checkout itself when the rollout ran
 * in place (a sandbox Pod of the task image), else a fresh clone of it at base_commit.
 */
async function gradeSweBench(task: SweBenchTask, patch: string, opts: SandboxOptions, timeoutSeconds: number): Promise<PatchEvaluation> {
  const clean = await Sandbox.create(task, { ...opts, isolation: 'none', user: 'runner' });
  try {
    return await evaluateInCheckout(task, patch, { dir: clean.workDir, base: clean.base, timeoutSeconds });
  } finally {
    await clean.dispose();
  }
}
