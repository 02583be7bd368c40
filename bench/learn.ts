/**
 * bench:learn: the paper's claims at small scale, through the product's own code paths. Every
 * arm is a TrainingRun (or, for SFT only, EvalSuites of the seed checkpoint) applied with local
 * mode (operator/local runLocal: the operator's decide() functions, real rollouts, grader,
 * trainer, verifier and selection); the train-variant split is an EvalSuite of each trained
 * checkpoint. Then per evaluation: pass@k / best@k / ablation through operator/selection, token
 * entropy, KL and final hidden states through the training core; then the mean and spread over
 * seeds, a verdict per claim, a markdown page and Vega-Lite plots.
 *
 *   npm run bench:learn                      # full (about 1-2 h on an idle 2-core machine)
 *   npm run bench:learn -- --quick           # minutes (CI)
 *   npm run bench:learn -- --report-only     # the report from what is done so far
 * Options: --store DIR (default .entropo-bench/learn[-quick]), --out DIR (default docs/learn[/quick]),
 * --retry-failed, --seeds 1,2 and --jobs NAME,... (run only those seeds' / jobs; a second process with the other seeds may
 * share the store, and a final --report-only reports them all). Resumable: run the same command again; finished jobs and analyses are kept in the
 * store, an interrupted job continues (runLocal --resume). Progress on stderr.
 */
import { createHash } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import type { EvalSuite, TrainingRun } from '../operator/api/kinds.ts';
import type { TrajectoryRecord } from '../operator/api/records.ts';
import { logger } from '../operator/logging/logger.ts';
import { runLocal } from '../operator/local/run.ts';
import { resolveBuiltinModel } from '../operator/policy/builtin.ts';
import { resolveSourceDir } from '../operator/serving/source.ts';
import { FsStore } from '../operator/store/fs-store.ts';
import { claims, evaluate, type EvalResult } from './learn/analysis.ts';
import { statsBackend, trajectoryStats } from './learn/model-stats.ts';
import { arms, budget, jobs, POLICY, sweepArm, type Job } from './learn/plan.ts';
import { writeReport, type TrainingSummary } from './learn/report.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    store: { type: 'string' },
    out: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
    'retry-failed': { type: 'boolean', default: false },
    seeds: { type: 'string' },
    jobs: { type: 'string' },
  },
});
logger.level = process.env.ENTROPO_LOG_LEVEL ?? 'error';
process.env.ENTROPO_LOG_LEVEL ??= 'error'; // the trainer and policy-server children too
const b = budget(values.quick ? 'quick' : 'full');
const root = path.resolve(values.store ?? `.entropo-bench/learn${values.quick ? '-quick' : ''}`);
const outDir = path.resolve(values.out ?? (values.quick ? 'docs/learn/quick' : 'docs/learn'));
const store = new FsStore(root, `file://${root}`);
const plan = jobs(b);
/** --seeds 1,2: this process runs only those seeds' jobs (a second process may run the others on the same store). */
const seedFilter = values.seeds
  ?.split(',')
  .map((x) => x.trim())
  .filter(Boolean)
  .map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || !plan.some((j) => j.seed === n)) throw new Error(`--seeds: ${x} is not a seed of the ${b.name} budget (${[...new Set(plan.map((j) => j.seed))].join(', ')})`);
    return n;
  });
/** --jobs NAME,NAME: this process runs only those jobs (names as in the progress lines). */
const jobFilter = values.jobs
  ?.split(',')
  .map((x) => x.trim())
  .filter(Boolean);
for (const n of jobFilter ?? []) if (!plan.some((j) => j.name === n)) throw new Error(`--jobs: ${n} is not a job of the ${b.name} budget (names like ${plan[0]?.name})`);
const runPlan = plan.filter((j) => (!seedFilter || seedFilter.includes(j.seed)) && (!jobFilter || jobFilter.includes(j.name)));
const allArms = arms(b);
const benchDir = path.join(root, 'bench-learn');
mkdirSync(path.join(benchDir, 'manifests'), { recursive: true });
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
const log = (msg: string) => process.stderr.write(`[bench:learn ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- the ledger of wall times (survives resumes) ----------------------------------------------
// one ledger per process kind (timings.json, or timings-seeds-1-2.json under --seeds), so processes
// that share a store never overwrite each other's; the report sums them all
const timingsFile = path.join(
  benchDir,
  seedFilter || jobFilter ? `timings-${seedFilter ? `seeds-${seedFilter.join('-')}` : ''}${jobFilter ? `jobs-${createHash('sha256').update(jobFilter.join(',')).digest('hex').slice(0, 8)}` : ''}.json` : 'timings.json',
);
/** wallSeconds and jobs: wall seconds summed over resumes; loads: the 1-minute load average at the end of each job. */
const timings: { wallSeconds: number; jobs: Record<string, number>; loads?: number[]; analysisSeconds?: number; commands?: string[] } = existsSync(timingsFile) ? JSON.parse(readFileSync(timingsFile, 'utf8')) : { wallSeconds: 0, jobs: {} };
const saveTimings = () => writeFileSync(timingsFile, JSON.stringify(timings, null, 2));
type Timings = typeof timings;
/** Every ledger of the store summed: per job and analysis seconds added, loads and commands joined. */
function allTimings(): Timings {
  const out: Timings = { wallSeconds: 0, jobs: {}, loads: [], analysisSeconds: 0, commands: [] };
  for (const f of readdirSync(benchDir).filter((x) => /^timings.*\.json$/.test(x)).sort()) {
    const t = (path.join(benchDir, f) === timingsFile ? timings : JSON.parse(readFileSync(path.join(benchDir, f), 'utf8'))) as Timings;
    for (const [k, v] of Object.entries(t.jobs ?? {})) out.jobs[k] = (out.jobs[k] ?? 0) + v;
    out.wallSeconds += t.wallSeconds ?? 0;
    out.analysisSeconds! += t.analysisSeconds ?? 0;
    out.loads!.push(...(t.loads ?? []));
    for (const c of t.commands ?? []) if (!out.commands!.includes(c)) out.commands!.push(c);
  }
  return out;
}

async function saved<T>(kind: string, name: string): Promise<T | undefined> {
  const key = `local/objects/default/${kind}/${name}.yaml`;
  return (await store.exists(key)) ? (parseYaml(await store.getText(key)) as T) : undefined;
}
const phaseOf = (o?: { status?: { phase?: string } }) => o?.status?.phase;
const NO_DATA = /no training examples/;

/** The checkpoint source of a finished TrainingRun (its last iteration). */
function checkpointOf(run: TrainingRun): string | undefined {
  const h = [...(run.status?.history ?? [])].reverse().find((x) => x.checkpoint);
  if (!h?.checkpoint) return undefined;
  return h.checkpoint.includes('://') ? h.checkpoint : `store://${h.checkpoint}`;
}

const failures: Record<string, string> = {};
const noUpdate = new Set<string>(); // TrainingRun jobs whose trainer had no preference examples

/** Runs one job to its end (or resumes it); false when interrupted. */
async function runJob(job: Job, index: number, signal: AbortSignal): Promise<boolean> {
  const prev = await saved<TrainingRun | EvalSuite>(job.kind, job.name);
  const phase = phaseOf(prev);
  if (phase === 'Succeeded') return true;
  if (phase === 'Failed' && !values['retry-failed']) {
    const msg = prev!.status?.message ?? '';
    if (job.kind === 'TrainingRun' && NO_DATA.test(msg)) noUpdate.add(job.name);
    else failures[job.name] = msg;
    return true;
  }
  let source: string | undefined;
  if (job.after) {
    if (noUpdate.has(job.after)) return true; // evaluated as the seed checkpoint (SFT only of this seed)
    const parent = await saved<TrainingRun>('TrainingRun', job.after);
    source = parent && phaseOf(parent) === 'Succeeded' ? checkpointOf(parent) : undefined;
    if (!source) {
      failures[job.name] = `not run: ${job.after} has no checkpoint (${phaseOf(parent) ?? 'not run'})`;
      return true;
    }
  }
  const file = path.join(benchDir, 'manifests', `${job.name}.yaml`);
  writeFileSync(file, toYaml(job.manifest(source)));
  log(`(${index + 1}/${runPlan.length}) ${job.name}: ${job.kind}${prev ? ` (resuming, was ${phase ?? 'Pending'})` : ''}`);
  const t0 = performance.now();
  let lastLine = 0;
  let lastMsg = '';
  // one signal per job: runLocal listens on it until the process ends
  const jobAbort = new AbortController();
  const onAbort = () => jobAbort.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const r = await runLocal({
    file,
    store: root,
    resume: !!prev && phase !== 'Failed',
    fresh: true,
    metricsPort: -1,
    progress: false,
    isolation: 'auto',
    signal: jobAbort.signal,
    out: () => undefined,
    onStatusChange: (runner) => {
      const o = runner.obj;
      const c = (o.status as { counts?: { completed?: number; failed?: number; total?: number } } | undefined)?.counts;
      const msg = `${o.kind} ${o.metadata.name}: ${o.status?.phase ?? 'Pending'}${c?.total ? ` ${(c.completed ?? 0) + (c.failed ?? 0)}/${c.total}` : ''}${o.status?.message ? ` (${o.status.message})` : ''}`;
      const now = performance.now();
      if (msg !== lastMsg && now - lastLine > 15_000) {
        log(`  ${msg}`);
        lastLine = now;
        lastMsg = msg;
      }
    },
  });
  signal.removeEventListener('abort', onAbort);
  const secs = (performance.now() - t0) / 1000;
  timings.jobs[job.name] = (timings.jobs[job.name] ?? 0) + secs;
  timings.wallSeconds += secs;
  (timings.loads ??= []).push(loadavg()[0]);
  saveTimings();
  if (r.interrupted) return false;
  const p = phaseOf(r.object);
  const msg = r.object.status?.message ?? '';
  if (p !== 'Succeeded') {
    if (job.kind === 'TrainingRun' && NO_DATA.test(msg)) noUpdate.add(job.name);
    else failures[job.name] = msg;
  }
  const done = runPlan.slice(0, index + 1).map((j) => timings.jobs[j.name] ?? 0);
  const mean = done.reduce((a, v) => a + v, 0) / Math.max(1, done.filter((x) => x > 0).length);
  log(`(${index + 1}/${runPlan.length}) ${job.name}: ${p} in ${secs.toFixed(0)} s${p !== 'Succeeded' ? ` (${msg.slice(0, 200)})` : ''}; about ${((mean * (runPlan.length - index - 1)) / 60).toFixed(0)} min left`);
  return true;
}

// ---- analysis of one evaluation (cached) -------------------------------------------------------
async function analyse(job: Job): Promise<EvalResult | undefined> {
  const cache = path.join(benchDir, 'results', `${job.name}.json`);
  if (existsSync(cache)) return JSON.parse(readFileSync(cache, 'utf8')) as EvalResult;
  let es: EvalSuite | undefined;
  let policySource = POLICY;
  let isNoUpdate = false;
  if (job.kind === 'TrainingRun') {
    const run = await saved<TrainingRun>('TrainingRun', job.name);
    if (noUpdate.has(job.name)) {
      // the seed checkpoint's evaluation of this seed: SFT only's
      isNoUpdate = true;
      es = await saved<EvalSuite>('EvalSuite', `learn-sft-s${job.seed}-train`);
    } else {
      if (phaseOf(run) !== 'Succeeded') return undefined;
      const name = run!.status?.history?.at(-1)?.evalSuite;
      es = name ? await saved<EvalSuite>('EvalSuite', name) : undefined;
      policySource = checkpointOf(run!) ?? POLICY;
    }
  } else if (job.after && noUpdate.has(job.after)) {
    isNoUpdate = true;
    es = await saved<EvalSuite>('EvalSuite', `learn-sft-s${job.seed}-variants`);
  } else {
    es = await saved<EvalSuite>('EvalSuite', job.name);
    policySource = es?.spec.policy.source ?? POLICY;
  }
  if (!es || phaseOf(es) !== 'Succeeded' || !es.status?.trajectories) return undefined;
  const trajectories = (await store.getText(es.status.trajectories))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as TrajectoryRecord);
  const scores = new Map<string, number>();
  if (es.status.verifierScores) {
    const doc = JSON.parse(await store.getText(es.status.verifierScores)) as { scores: Record<string, number> };
    for (const [k, v] of Object.entries(doc.scores)) scores.set(k, v);
  }
  const policyDir = await resolveSourceDir(policySource, { store });
  const t0 = performance.now();
  const stats = await trajectoryStats(policyDir, resolveBuiltinModel(POLICY), trajectories);
  const result = evaluate(
    { job: job.name, arm: job.arm, seed: job.seed, split: job.split, ...(isNoUpdate ? { noUpdate: true } : {}), ...(es.status.metrics?.bestAtN !== undefined ? { statusBestAtN: es.status.metrics.bestAtN } : {}) },
    trajectories,
    scores,
    stats,
  );
  result.backend = await statsBackend();
  timings.analysisSeconds = (timings.analysisSeconds ?? 0) + (performance.now() - t0) / 1000;
  saveTimings();
  log(`analysed ${job.name} (${job.split}): ${trajectories.length} trajectories, model statistics in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(cache, JSON.stringify(result));
  return result;
}

// ---- main --------------------------------------------------------------------------------------
const abort = new AbortController();
process.once('SIGINT', () => {
  log('interrupted: finishing the current step; run the same command again to continue');
  abort.abort();
});
const command = `npm run bench:learn${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
if (!values['report-only'] && !(timings.commands ?? []).includes(command)) {
  (timings.commands ??= []).push(command);
  saveTimings();
}
const t0 = performance.now();
log(`${b.name} benchmark: ${runPlan.length} jobs${runPlan.length < plan.length ? ` (of ${plan.length}: ${seedFilter ? `seeds ${seedFilter.join(', ')}` : ''}${seedFilter && jobFilter ? ', ' : ''}${jobFilter ? `jobs ${jobFilter.join(', ')}` : ''})` : ''}, store ${root}, report ${outDir}`);
let interrupted = false;
for (const [i, job] of runPlan.entries()) {
  if (values['report-only']) {
    // only learn what is done
    const prev = await saved<TrainingRun | EvalSuite>(job.kind, job.name);
    if (phaseOf(prev) === 'Failed') {
      const msg = prev!.status?.message ?? '';
      if (job.kind === 'TrainingRun' && NO_DATA.test(msg)) noUpdate.add(job.name);
      else failures[job.name] = msg;
    }
    continue;
  }
  if (!(await runJob(job, i, abort.signal))) {
    interrupted = true;
    break;
  }
  // analysed at once (cached in the store), so a partial report costs no extra model passes
  if (!abort.signal.aborted) await analyse(job).catch(() => undefined); // a failure is recorded by the final pass below
  if (abort.signal.aborted) {
    interrupted = true;
    break;
  }
}
const results: EvalResult[] = [];
for (const job of plan) {
  const r = await analyse(job).catch((e: Error) => {
    failures[job.name] = `analysis failed: ${e.message}`;
    return undefined;
  });
  if (r) results.push(r);
  if (r && r.statusBestAtN !== undefined && r.bestAtK.length && Math.abs(r.bestAtK[r.bestAtK.length - 1] - r.statusBestAtN) > 1e-9 && !r.noUpdate) {
    failures[job.name] = `recomputed best@N ${r.bestAtK.at(-1)} differs from the EvalSuite's ${r.statusBestAtN}`;
  }
}
for (const j of plan) if (noUpdate.has(j.name)) failures[j.name] = 'no preference examples in its rollouts (no update): evaluated as the seed checkpoint (the SFT-only numbers of this seed)';
const training: Record<string, TrainingSummary> = {};
for (const j of plan.filter((x) => x.kind === 'TrainingRun')) {
  const run = await saved<TrainingRun>('TrainingRun', j.name);
  const h = run?.status?.history?.at(-1);
  if (h) training[j.name] = { ...h.training, rolloutResolveRate: h.rolloutResolveRate };
}
const jobsDone = (
  await Promise.all(plan.map(async (j) => ['Succeeded', 'Failed'].includes(phaseOf(await saved<TrainingRun | EvalSuite>(j.kind, j.name)) ?? '') || (j.after !== undefined && noUpdate.has(j.after))))
).filter(Boolean).length;
const sweep = b.sweep.map((ratio) => ({ ratio, arm: sweepArm(b, ratio) }));
const cl = claims(results, b.evalN, sweep);
const policyDir = resolveBuiltinModel(POLICY);
const policyId = `sha256 ${createHash('sha256').update(readFileSync(path.join(policyDir, 'model.safetensors'))).digest('hex').slice(0, 12)} of model.safetensors${
  existsSync(path.join(policyDir, 'BUILD.json')) ? `, built ${(JSON.parse(readFileSync(path.join(policyDir, 'BUILD.json'), 'utf8')) as { builtAt?: string }).builtAt ?? '?'}` : ''
}`;
const T = allTimings();
function loadDuring(): string {
  const l = T.loads ?? [];
  if (!l.length) return '';
  const mean = l.reduce((a, v) => a + v, 0) / l.length;
  return `, 1-minute load average ${Math.min(...l).toFixed(1)}-${Math.max(...l).toFixed(1)} (mean ${mean.toFixed(1)}) at the end of the ${l.length} jobs run`;
}
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${loadavg()
  .map((x) => x.toFixed(1))
  .join(' / ')} at the report${loadDuring()}; Node ${process.version}; shared with other work`; // the report adds the tfjs backends the jobs recorded
const md = await writeReport(
  {
    budget: b,
    arms: allArms,
    results,
    claims: cl,
    command: [...(T.commands ?? []).map((c) => `\`${c}\``), ...(values['report-only'] ? [`report: \`${command}\``] : [])].join('; ') || `\`${command}\``,
    policy: policyId,
    machine,
    wallSeconds: T.wallSeconds + (T.analysisSeconds ?? 0),
    analysisSeconds: T.analysisSeconds ?? 0,
    jobSeconds: T.jobs,
    jobsDone,
    jobsTotal: plan.length,
    failures,
    sweep,
    training,
    generatedAt: new Date().toISOString(),
  },
  outDir,
);
writeFileSync(path.join(benchDir, 'summary.json'), JSON.stringify({ budget: b.name, jobsDone, jobsTotal: plan.length, results, claims: cl, failures }, null, 2));
log(`report: ${path.join(outDir, 'results.md')} (${jobsDone}/${plan.length} jobs done; this invocation ${((performance.now() - t0) / 60000).toFixed(1)} min)`);
process.stdout.write(`${md.split('\n## Per arm')[0]}\n`);
if (interrupted) {
  log(`interrupted: continue with the same command (npm run bench:learn${values.quick ? ' -- --quick' : ''})`);
  process.exitCode = 130;
}
