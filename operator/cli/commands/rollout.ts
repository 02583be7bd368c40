/**
 * `entropo rollout`: local rollouts of an endpoint over a task set, with a progress bar on
 * stderr, a summary table on stdout, and trajectories / SWE-bench predictions as JSONL.
 */
import { plainProgress } from '../plain-progress.ts';
import type { Command } from 'commander';
import { int, num, oneOf, seconds } from '../args.ts';
import { routeLogs } from '../../logging/logger.ts';
import cliProgress from 'cli-progress';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RolloutLimits, Sampling } from '../../api/common.ts';
import { isSelfContained, type ResolvedEnvironment, type TaskRecord } from '../../api/records.ts';
import { loadEnvironments, resolveEnvironment } from '../../tasks/environments.ts';
import { checkEndpoint, EndpointCheckError } from '../../rollout/endpoint-check.ts';
import { formatError, loadTaskFile, selectTasks, suiteSplit } from '../../tasks/dataset.ts';
import { formatSummaryTable, predictions, runBatch, summaryRows } from '../../rollout/batch.ts';
import { ISOLATIONS, type Isolation } from '../../rollout/sandbox/isolation.ts';
import { cleanupOnSignals } from '../../rollout/sandbox/sandbox.ts';
import { isSample } from '../../rollout/trajectory.ts';
import { retryRollout } from '../../controllers/sandbox-fleet.ts';

interface RolloutCliOptions {
  tasks?: string;
  suite?: string;
  split: 'Train' | 'Eval' | 'All';
  instanceIds?: string;
  limit?: number;
  endpoint?: string;
  model: string;
  samples: number;
  concurrency: number;
  outDir: string;
  run: string;
  temperature: number;
  topP: number;
  topK: number;
  maxTokensPerTurn: number;
  seed?: number;
  maxSteps: number;
  maxTokens: number;
  timeout: number;
  toolTimeout: number;
  toolFormat: 'Native' | 'Text';
  isolation: Isolation | 'auto';
  retries: number;
  progress: boolean;
  environments?: string;
  endpointCheck: boolean;
}

/** Exit status of `entropo rollout` when the endpoint check fails (unreachable, key refused, model not served). */
export const EXIT_ENDPOINT = 4;

/**
 * The environment of each SWE-bench task (record field over environments-file entry), resolved
 * before anything starts: a task whose checkout is named nowhere, or whose environment is wrong,
 * stops the command with one error per task.
 */
export async function taskEnvironments(tasks: readonly TaskRecord[], environmentsFile: string | undefined, taskFile: string | undefined): Promise<Map<string, ResolvedEnvironment>> {
  const envs = environmentsFile ? await loadEnvironments(environmentsFile) : undefined;
  const out = new Map<string, ResolvedEnvironment>();
  const problems: string[] = [];
  for (const t of tasks) {
    if (isSelfContained(t)) continue;
    try {
      const env = resolveEnvironment(t, envs, taskFile ? path.dirname(path.resolve(taskFile)) : process.cwd());
      if (!env?.checkout) {
        problems.push(`task ${t.instance_id}: no checkout of ${t.repo}${t.version ? ` ${t.version}` : ''}: add it to ${environmentsFile ?? 'an environments file (--environments)'} or set the task's environment.checkout`);
        continue;
      }
      out.set(t.instance_id, env);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new Error(problems.slice(0, 10).join('\n') + (problems.length > 10 ? `\n(${problems.length - 10} more)` : ''));
  return out;
}

async function loadTasks(o: RolloutCliOptions): Promise<TaskRecord[]> {
  let tasks: TaskRecord[];
  if (o.tasks) {
    const r = await loadTaskFile(o.tasks, 'Auto');
    if (r.errors.length) throw new Error(r.errors.slice(0, 5).map((e) => formatError(e, o.tasks)).join('\n'));
    tasks = r.tasks;
  } else {
    const { loadBuiltinSuite } = await import('../../tasks/suite.ts');
    tasks = await loadBuiltinSuite({ suite: o.suite ?? 'entropo-bugs', split: suiteSplit(o.split) });
  }
  const sel = selectTasks(tasks, { ...(o.instanceIds ? { instanceIds: o.instanceIds.split(',') } : {}), ...(o.limit ? { limit: o.limit } : {}) });
  if (sel.missing.length) throw new Error(`no task named ${sel.missing.join(', ')}`);
  return sel.tasks;
}

export function registerRollout(program: Command): void {
  program
    .command('rollout')
    .description('run rollouts of a model endpoint over a task set on this machine')
    .option('--tasks <file>', 'JSONL of task records (SWE-bench or self-contained)')
    .option('--suite <name>', 'a built-in task suite instead of --tasks (default entropo-bugs)')
    .option('--split <split>', 'split of the built-in suite: Train | Eval | All (as spec.tasks.builtin.split)', oneOf(['Train', 'Eval', 'All'] as const), 'Train')
    .option('--instance-ids <ids>', 'only these tasks (comma-separated)')
    .option('--limit <n>', 'at most this many tasks', int)
    .requiredOption('--endpoint <url>', 'OpenAI-compatible base URL, e.g. http://localhost:8000/v1 (key: OPENAI_API_KEY)')
    .requiredOption('--model <name>', 'model name')
    .option('--samples <n>', 'rollouts per task', int, 1)
    .option('--concurrency <n>', 'rollouts at a time', int, 2)
    .option('--out-dir <dir>', 'output directory (trajectories, predictions, summary)', 'rollouts')
    .option('--run <name>', 'run part of the trajectory ids', 'local')
    .option('--temperature <t>', 'sampling temperature', num, 0.7)
    .option('--top-p <p>', 'nucleus sampling mass', num, 0.8)
    .option('--top-k <k>', 'top-k (0: off)', int, 20)
    .option('--max-tokens-per-turn <n>', 'completion tokens per turn', int, 4096)
    .option('--seed <n>', 'base seed (sample i uses seed + i)', int)
    .option('--max-steps <n>', 'assistant turns per rollout', int, 200)
    .option('--max-tokens <n>', 'context tokens per rollout', int, 131072)
    .option('--timeout <duration>', 'wall time per rollout: seconds or a duration such as 90s, 5m, 1h', seconds, 3600)
    .option('--tool-timeout <duration>', 'wall time per tool call: seconds or a duration such as 2m', seconds, 120)
    .option('--tool-format <f>', 'Native | Text tool calls (as spec.limits.toolCallFormat)', oneOf(['Native', 'Text'] as const), 'Native')
    .option('--isolation <mode>', 'auto | bwrap | unshare | none', 'auto')
    .option('--retries <n>', 'extra attempts of a rollout that hit a sandbox error', int, 1)
    .option('--environments <file>', 'SWE-bench tasks: environments file (YAML/JSON) naming each repository\'s checkout and test environment')
    .option('--no-endpoint-check', 'do not check GET /v1/models (and the model name) before starting')
    .option('--no-progress', 'no progress bar')
    .action(async (o: RolloutCliOptions) => {
      if (o.isolation !== 'auto' && !(ISOLATIONS as readonly string[]).includes(o.isolation)) throw new Error(`--isolation must be auto, ${ISOLATIONS.join(', ')}`);
      if (o.samples < 1 || o.concurrency < 1) throw new Error('--samples and --concurrency must be at least 1');
      cleanupOnSignals();
      const tasks = await loadTasks(o);
      let environments: Map<string, ResolvedEnvironment>;
      try {
        environments = await taskEnvironments(tasks, o.environments, o.tasks);
      } catch (e) {
        console.error(`entropo rollout: ${(e as Error).message}`);
        process.exitCode = 2;
        return;
      }
      const endpoint = { baseURL: o.endpoint!, ...(process.env.OPENAI_API_KEY ? { apiKey: process.env.OPENAI_API_KEY } : {}) };
      if (o.endpointCheck) {
        try {
          await checkEndpoint(endpoint, o.model);
        } catch (e) {
          if (!(e instanceof EndpointCheckError)) throw e;
          console.error(`entropo rollout: ${e.message}`);
          process.exitCode = EXIT_ENDPOINT;
          return;
        }
      }
      const sampling: Sampling = { temperature: o.temperature, topP: o.topP, topK: o.topK, maxTokensPerTurn: o.maxTokensPerTurn, ...(o.seed !== undefined ? { seed: o.seed } : {}) };
      const limits: RolloutLimits = { maxSteps: o.maxSteps, maxTokens: o.maxTokens, timeoutSeconds: o.timeout, toolTimeoutSeconds: o.toolTimeout, toolCallFormat: o.toolFormat };
      const total = tasks.length * o.samples;
      // On a terminal the bar is drawn on stderr and log lines are printed above it (not through it).
      const bars = o.progress && process.stderr.isTTY
        ? new cliProgress.MultiBar(
            { stream: process.stderr, format: 'rollouts [{bar}] {value}/{total} | resolved {resolved} | no sample {errors} | {duration_formatted} (eta {eta_formatted})', hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      let resolved = 0;
      let errors = 0;
      const bar = bars?.create(total, 0, { resolved, errors });
      const line = o.progress && !bars ? plainProgress('rollouts', total) : undefined;
      const restoreLogs = bars && process.stderr.isTTY ? routeLogs((line) => bars.log(line)) : () => {};
      const result = await runBatch({
        tasks,
        samples: o.samples,
        concurrency: o.concurrency,
        retry: (t, failures) => retryRollout(t.exitReason, failures, o.retries),
        run: o.run,
        model: o.model,
        endpoint,
        environmentOf: (t) => environments.get(t.instance_id),
        sampling,
        limits,
        sandbox: { isolation: o.isolation },
        onDone: (t) => {
          if (t.resolved) resolved++;
          if (!isSample(t)) errors++;
          bar?.increment(1, { resolved, errors });
          line?.({ resolved, no_sample: errors });
        },
      });
      bars?.stop();
      restoreLogs();
      await mkdir(o.outDir, { recursive: true });
      const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
      await writeFile(path.join(o.outDir, 'trajectories.jsonl'), jsonl(result.trajectories));
      await writeFile(path.join(o.outDir, 'predictions.jsonl'), jsonl(predictions(result.trajectories, 0)));
      for (let s = 1; s < o.samples; s++) await writeFile(path.join(o.outDir, `predictions.sample-${s}.jsonl`), jsonl(predictions(result.trajectories, s)));
      const rows = summaryRows(result.trajectories);
      await writeFile(path.join(o.outDir, 'summary.json'), JSON.stringify({ seconds: result.seconds, rows }, null, 2) + '\n');
      console.log(formatSummaryTable(rows));
      console.log(`\n${total} rollouts in ${result.seconds.toFixed(1)} s; trajectories and predictions in ${o.outDir}/`);
      if (errors) process.exitCode = 3;
    });
}
