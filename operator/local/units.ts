/**
 * Units of work on this machine (the local executor's "Pods"): each start()s from a UnitSpec of
 * the decision core and keeps an ObservedUnit up to date; stop() ends it. No policy here: what
 * to start, retry or stop is decided by controllers/.
 *
 *   Sandbox       one rollout in this process (runSandbox: the agent loop over HTTP, its tool
 *                 commands and the grading run under the sandbox runner, bwrap by default)
 *   Trainer       a child process `entropo train --config` (tfjs off the executor's event loop);
 *                 progress parsed from its progress line, the summary from its last stdout line
 *   PolicyServer  `entropo serve` in this process (its model runs in a worker thread) on 127.0.0.1
 *   Verifier      verifier scoring of the trajectories in this process
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { entropoEntry } from '../util/package-root.ts';
import type { RolloutSummary, TrajectoryRecord } from '../api/records.ts';
import type { ObservedUnit, PolicyServerUnit, SandboxUnit, TrainerSummary, TrainerUnit, VerifierUnit } from '../controllers/decision.ts';
import type { Logger } from '../logging/logger.ts';
import type { ArtifactStore } from '../store/store.ts';
import { trainerFiles } from '../training/store-files.ts';
import { parseProgressLine } from '../training/progress-line.ts';

/** A live unit: its observation (mutated as it changes) and how to end it. */
export interface LocalUnit {
  observed: ObservedUnit;
  stop(): Promise<void>;
}

export interface UnitContext {
  store: ArtifactStore;
  log: Logger;
  /** Called whenever a unit's observation changes (wakes the executor). */
  changed: () => void;
  /** Sandbox isolation for tool commands (auto: bwrap when available). */
  isolation: 'auto' | 'bwrap' | 'unshare' | 'none';
  /** API key for endpoints (ENTROPO_API_KEY / OPENAI_API_KEY). */
  apiKey?: string;
  /** Scratch directory for termination logs and configs. */
  scratch: string;
}


const base = (u: { name: string; role: ObservedUnit['role'] }, extra: Partial<ObservedUnit> = {}): ObservedUnit => ({
  name: u.name,
  role: u.role,
  phase: 'Running',
  createdAt: Date.now(),
  startedAt: Date.now(),
  ...extra,
});

// ---- sandbox ---------------------------------------------------------------------------------

/** One rollout, in this process; the observation gets the summary as a Pod's termination message. */
export function startSandbox(u: SandboxUnit, ctx: UnitContext): LocalUnit {
  const observed = base(u, { index: u.index, attempt: u.attempt });
  let stopped = false;
  // the Pod's phases, in order, each with only its own inputs (the agent phase never gets the
  // task record, the store or the hidden grading material; its commands run under the sandbox
  // runner): prepare -> agent -> prepare-grading -> grade
  const run = async (): Promise<{ exitCode: number; encoded: string }> => {
    const phases = await import('../rollout/phases/index.ts');
    const dir = path.join(ctx.scratch, 'units', u.name);
    const workspace = path.join(dir, 'workspace');
    const hidden = path.join(dir, 'hidden');
    const terminationLog = path.join(dir, 'termination-log');
    const task = { key: u.tasksKey };
    try {
      const common = { task, taskId: u.taskId, storeUri: u.storeUri, workspace, hidden, repoDir: '/testbed' };
      const prep = await phases.runPreparePhase(common);
      if (prep.exitCode !== 0) return { exitCode: prep.exitCode, encoded: prep.message };
      const agent = await phases.runAgentPhase({
        workspace,
        sample: u.sample,
        run: u.run,
        source: u.source,
        endpoint: u.policy.url,
        ...(ctx.apiKey ? { apiKey: ctx.apiKey } : {}),
        model: u.policy.model,
        sampling: u.sampling,
        limits: u.limits,
        isolation: ctx.isolation,
        repoDir: '/testbed',
        terminationLog,
      });
      if (agent.exitCode !== 0) return { exitCode: agent.exitCode, encoded: agent.message };
      const pg = await phases.runPrepareGradingPhase(common);
      if (pg.exitCode !== 0) return { exitCode: pg.exitCode, encoded: pg.message };
      const grade = await phases.runGradePhase({ workspace, hidden, storeUri: u.storeUri, trajectoryKey: u.trajectoryKey, sample: u.sample, run: u.run, terminationLog, repoDir: '/testbed' });
      return { exitCode: grade.exitCode, encoded: grade.message };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const timer = setTimeout(() => {
    if (observed.phase !== 'Running') return;
    Object.assign(observed, { phase: 'Failed', reason: 'DeadlineExceeded', message: `ran longer than ${u.activeDeadlineSeconds}s`, infrastructure: true, finishedAt: Date.now() });
    ctx.changed();
  }, u.activeDeadlineSeconds * 1000);
  timer.unref();
  run().then(
    (r) => {
      clearTimeout(timer);
      if (stopped || observed.phase !== 'Running') return;
      // the termination message, as a Pod reader parses it (decide validates it)
      let summary: unknown;
      let summaryError: string | undefined;
      try {
        summary = JSON.parse(r.encoded) as RolloutSummary;
      } catch (e) {
        summaryError = r.encoded ? (e as Error).message : 'missing';
      }
      Object.assign(observed, {
        phase: r.exitCode === 0 ? 'Succeeded' : 'Failed',
        exitCode: r.exitCode,
        ...(summary !== undefined ? { summary } : { summaryError }),
        finishedAt: Date.now(),
        ...(r.exitCode !== 0 ? { reason: r.exitCode === 3 ? 'NoSample' : 'Error', message: (summary as RolloutSummary | undefined)?.error ?? r.encoded.slice(0, 500) } : {}),
      });
      ctx.changed();
    },
    (e: Error) => {
      clearTimeout(timer);
      if (stopped) return;
      Object.assign(observed, { phase: 'Failed', reason: 'Error', message: e.message, infrastructure: true, finishedAt: Date.now(), summaryError: 'missing' });
      ctx.changed();
    },
  );
  return {
    observed,
    async stop() {
      // an in-process rollout cannot be cancelled half-way: its result is ignored
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// ---- trainer ---------------------------------------------------------------------------------

/** Parses the trainer's progress line (operator/training/progress-line.ts). */
export { parseProgressLine as parseTrainerProgress } from '../training/progress-line.ts';

/** The model directory of a source (builtin:, store://, file://). */
async function sourceDir(source: string, ctx: UnitContext): Promise<string> {
  const { resolveSourceDir } = await import('../serving/source.ts');
  return resolveSourceDir(source, { store: ctx.store });
}

/** `entropo train --config` as a child process. */
export function startTrainer(u: TrainerUnit, ctx: UnitContext): LocalUnit {
  const observed = base(u, { iteration: u.iteration, attempt: u.attempt, phase: 'Pending' });
  let child: ChildProcess | undefined;
  let stopped = false;
  let syncing: NodeJS.Timeout | undefined;
  const fail = (reason: string, message: string) => {
    if (stopped) return;
    Object.assign(observed, { phase: 'Failed', reason, message: message.slice(-2000), finishedAt: Date.now() });
    ctx.changed();
  };
  (async () => {
    const [model, reference] = await Promise.all([sourceDir(u.init, ctx), sourceDir(u.reference, ctx)]);
    // local paths for the trainer: in place on a directory store, copies synced to S3 otherwise
    const f = await trainerFiles(ctx.store, u, path.join(ctx.scratch, 'trainer', u.name));
    const config = path.join(ctx.scratch, 'trainer', `${u.name}.yaml`);
    mkdirSync(path.dirname(config), { recursive: true });
    writeFileSync(
      config,
      toYaml({
        model,
        reference,
        trajectories: f.trajectories,
        output: f.output,
        training: u.training,
        preference: u.preference,
        resume: true,
        checkpointEvery: 1,
        progress: true,
        runName: u.name,
      }),
    );
    if (stopped) return;
    child = spawn(process.execPath, [entropoEntry(), 'train', '--config', config, '--progress'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ENTROPO_LOG_LEVEL: process.env.ENTROPO_LOG_LEVEL ?? 'warn' },
    });
    Object.assign(observed, { phase: 'Running', startedAt: Date.now() });
    ctx.changed();
    let stdout = '';
    let stderr = '';
    const t0 = Date.now();
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => {
      const text = b.toString();
      stderr = (stderr + text).slice(-8000);
      for (const line of text.split(/[\r\n]/)) {
        const p = parseProgressLine(line);
        if (p) {
          observed.progress = { ...p, elapsedSeconds: (Date.now() - t0) / 1000 };
          ctx.changed();
        }
      }
    });
    syncing = setInterval(() => void f.sync().catch((e: Error) => ctx.log.warn('checkpoint upload failed', { unit: u.name, error: e.message })), 10_000);
    child.on('close', (code, signal) => void (async () => {
      clearInterval(syncing);
      if (stopped) return;
      if (code !== 0) {
        await f.sync().catch(() => undefined);
        const tail = stderr.trim().split('\n').slice(-5).join('\n');
        // the data cannot train (nothing finished, nothing fits): not an infrastructure failure, no retry
        if (/no training examples|is invalid:/.test(tail)) {
          observed.exitCode = 2;
          observed.infrastructure = false;
          return fail('InvalidTrainingData', `entropo train: ${tail}`);
        }
        observed.infrastructure = true;
        return fail(signal ? 'Killed' : 'Error', `entropo train exited ${signal ?? code}: ${tail}`);
      }
      await f.finish(); // the checkpoint is in the store before the unit counts as done
      const last = stdout.trim().split('\n').pop() ?? '';
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(last) as Record<string, unknown>;
      } catch {
        Object.assign(observed, { phase: 'Succeeded', summaryError: `trainer output is not JSON: ${last.slice(0, 200)}`, finishedAt: Date.now() });
        ctx.changed();
        return;
      }
      const summary: TrainerSummary = {
        checkpoint: `${u.checkpointKey}/model`,
        steps: Number(r.steps ?? 0),
        examples: Number(r.examples ?? 0),
        seconds: (Date.now() - t0) / 1000,
        ...(typeof r.backend === 'string' ? { backend: r.backend } : {}),
      };
      for (const k of ['loss', 'rewardMargin', 'z0', 'entropy', 'klToReference', 'gradNorm', 'tokensPerSecond'] as const) {
        if (typeof r[k] === 'number') summary[k] = r[k];
      }
      Object.assign(observed, { phase: 'Succeeded', exitCode: 0, summary, finishedAt: Date.now() });
      ctx.changed();
    })().catch((e: Error) => fail('Error', `storing the trainer's output: ${e.message}`)));
  })().catch((e: Error) => fail('Error', e.message));
  return {
    observed,
    async stop() {
      stopped = true;
      clearInterval(syncing);
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise<void>((res) => {
          const t = setTimeout(() => {
            child?.kill('SIGKILL');
            res();
          }, 5000);
          child!.once('close', () => {
            clearTimeout(t);
            res();
          });
        });
      }
    },
  };
}

// ---- policy server ---------------------------------------------------------------------------

/** `entropo serve` in this process on 127.0.0.1 (a free port); ready once the model is loaded. */
export function startPolicyServer(u: PolicyServerUnit, ctx: UnitContext): LocalUnit {
  const observed = base(u, { checkpoint: u.checkpoint, attempt: u.attempt, ready: false });
  let server: { close(): Promise<void>; baseURL: string } | undefined;
  let stopped = false;
  (async () => {
    const [{ resolveModel }, { startPolicyServer: start }] = await Promise.all([import('../serving/source.ts'), import('../serving/server.ts')]);
    const m = await resolveModel(u.source, { store: ctx.store });
    // The server's URL is written into child objects' specs (a child RolloutBatch's
    // policy.endpoint), so a resumed run must serve the unit on the SAME port: the port is kept
    // in the store under the unit's name, reused when free, else a new one is picked (logged).
    const portKey = `local/policy-ports/${u.name}.json`;
    const previous = (await ctx.store.exists(portKey)) ? (JSON.parse(await ctx.store.getText(portKey)) as { port?: number }).port : undefined;
    const options = { modelDir: m.modelDir, ...(m.adapterDir ? { adapterDir: m.adapterDir } : {}), servedModelName: u.model, host: '127.0.0.1', metrics: false, log: ctx.log };
    let s;
    try {
      s = await start({ ...options, port: previous ?? 0 });
    } catch (e) {
      if (previous === undefined || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      ctx.log.warn('policy server port of the earlier run is taken: children created before still name the old URL', { unit: u.name, port: previous });
      s = await start({ ...options, port: 0 });
    }
    await ctx.store.put(portKey, JSON.stringify({ port: Number(new URL(s.baseURL).port) }));
    if (stopped) return s.close();
    server = s;
    Object.assign(observed, { ready: true, endpoint: s.baseURL });
    ctx.log.info('policy server ready', { unit: u.name, source: u.source, url: s.baseURL });
    ctx.changed();
  })().catch((e: Error) => {
    if (stopped) return;
    Object.assign(observed, { phase: 'Failed', reason: 'ServerFailed', message: e.message, finishedAt: Date.now() });
    ctx.changed();
  });
  return {
    observed,
    async stop() {
      stopped = true;
      await server?.close();
    },
  };
}

// ---- verifier --------------------------------------------------------------------------------

/** Scores the trajectories listed in inputKey and writes {scores} to outputKey. */
export function startVerifier(u: VerifierUnit, ctx: UnitContext): LocalUnit {
  const observed = base(u, { attempt: u.attempt });
  let stopped = false;
  (async () => {
    const { openVerifier } = await import('../selection/verifier-ref.ts');
    const lines = (await ctx.store.getText(u.inputKey)).split('\n').filter(Boolean);
    const records = await Promise.all(lines.map(async (l) => JSON.parse(await ctx.store.getText((JSON.parse(l) as { key: string }).key)) as TrajectoryRecord));
    const v = await openVerifier(u.model, { ...(ctx.apiKey ? { apiKey: ctx.apiKey } : {}), resolveSource: (s) => sourceDir(s, ctx) });
    try {
      const scores = await v.scoreAll(records);
      await ctx.store.put(u.outputKey, JSON.stringify({ scores: Object.fromEntries(scores) }));
      if (stopped) return;
      Object.assign(observed, { phase: 'Succeeded', summary: { scores: u.outputKey, scored: scores.size }, finishedAt: Date.now() });
    } finally {
      v.dispose();
    }
    ctx.changed();
  })().catch((e: Error) => {
    if (stopped) return;
    Object.assign(observed, { phase: 'Failed', reason: 'Error', message: e.message, finishedAt: Date.now() });
    ctx.changed();
  });
  return {
    observed,
    async stop() {
      stopped = true;
    },
  };
}
