/**
 * Quickstart benchmark: `entropo run manifests/examples/quickstart.yaml --local` (what `npm start`
 * runs) in a fresh store, with the wall time of each phase (policy server start, rollouts,
 * training, evaluation) per iteration, the total against the 5-minute goal, and the results per
 * iteration. Prints a markdown table.
 *   npm run bench:quickstart [-- --file manifests/examples/quickstart.yaml --keep]
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EvalSuite, RolloutBatch, TrainingRun } from '../operator/api/kinds.ts';
import type { TrainerSummary } from '../operator/controllers/decision.ts';
import { logger } from '../operator/logging/logger.ts';
import { runLocal } from '../operator/local/run.ts';
import type { ObjectRunner } from '../operator/local/executor.ts';

const { values } = parseArgs({ options: { file: { type: 'string', default: 'manifests/examples/quickstart.yaml' }, keep: { type: 'boolean', default: false } } });
const GOAL_SECONDS = 300;
logger.level = process.env.ENTROPO_LOG_LEVEL ?? 'error';

/**
 * CPU seconds used so far by this process and its reaped children (the trainer, the sandboxes and
 * what they ran): /proc/self/stat utime + stime + cutime + cstime, in USER_HZ ticks (100 per
 * second on Linux). Unlike wall time, it barely depends on what else the machine runs.
 */
function cpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch {
    return undefined; // not Linux
  }
}

const store = mkdtempSync(path.join(tmpdir(), 'entropo-bench-quickstart-'));
const load0 = loadavg()[0];
const cpu0 = cpuSeconds();
const t0 = performance.now();
// phase timings at ms resolution, from the executor's status hooks
const seen = new Map<string, { start?: number; end?: number }>();
const mark = (key: string, what: 'start' | 'end') => {
  const e = seen.get(key) ?? {};
  if (e[what] === undefined) e[what] = performance.now();
  seen.set(key, e);
};
let root: ObjectRunner | undefined;
const r = await runLocal({
  file: values.file,
  store,
  resume: false,
  fresh: true,
  metricsPort: -1,
  progress: false,
  isolation: 'auto',
  out: () => undefined,
  onRunner: (runner) => {
    root = runner;
  },
  onStatusChange: (runner) => {
    const o = runner.obj;
    const p = o.status?.phase;
    if (o.kind !== 'TrainingRun' && p === 'Running') mark(o.metadata.name!, 'start');
    if (o.kind !== 'TrainingRun' && (p === 'Succeeded' || p === 'Failed')) mark(o.metadata.name!, 'end');
  },
});
const total = (performance.now() - t0) / 1000;
const cpu1 = cpuSeconds();
const cpu = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
const load1 = loadavg()[0];
const run = r.object as TrainingRun;

const rows: string[] = [];
const secs = (k: string) => {
  const e = seen.get(k);
  return e?.start !== undefined && e.end !== undefined ? (e.end - e.start) / 1000 : undefined;
};
let accounted = 0;
const trainers = new Map<number, TrainerSummary>();
for (const rec of root?.records.values() ?? []) {
  if (rec.role === 'Trainer' && rec.outcome === 'Succeeded' && rec.iteration) trainers.set(rec.iteration, rec.summary as TrainerSummary);
}
const children = new Map<string, RolloutBatch | EvalSuite>();
for (const c of root?.walk() ?? []) if (c !== root) children.set(c.obj.metadata.name!, c.obj as RolloutBatch | EvalSuite);
for (const h of run.status?.history ?? []) {
  const rb = h.rolloutBatch ? secs(h.rolloutBatch) : undefined;
  const tr = trainers.get(h.iteration)?.seconds;
  const ev = h.evalSuite ? secs(h.evalSuite) : undefined;
  const n = (children.get(h.rolloutBatch ?? '') as RolloutBatch | undefined)?.status?.counts?.total;
  const ne = (children.get(h.evalSuite ?? '') as EvalSuite | undefined)?.status?.counts?.total;
  for (const [phase, s, what] of [
    ['rollouts', rb, n !== undefined ? `${n} rollouts` : ''],
    ['training', tr, `${trainers.get(h.iteration)?.steps ?? '-'} steps, loss ${h.training?.loss?.toFixed(3) ?? '-'}`],
    ['evaluation', ev, ne !== undefined ? `${ne} rollouts, pass@1 ${h.evaluation?.pass1?.toFixed(3) ?? '-'}, best@N ${h.evaluation?.bestAtN?.toFixed(3) ?? '-'}` : ''],
  ] as const) {
    if (s === undefined) continue;
    accounted += s;
    rows.push(`| ${h.iteration} | ${phase} | ${s.toFixed(1)} | ${((100 * s) / total).toFixed(0)}% | ${what} |`);
  }
}
rows.push(`| - | policy servers, task setup, writes | ${(total - accounted).toFixed(1)} | ${((100 * (total - accounted)) / total).toFixed(0)}% | |`);

console.log(`# bench:quickstart (${values.file})\n`);
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average at start ${load0.toFixed(2)}; Node ${process.version}\n`);
console.log('| iteration | phase | seconds | share | what |\n|---|---|---|---|---|');
console.log(rows.join('\n'));
console.log(`\n**total ${total.toFixed(1)} s** wall (goal <= ${GOAL_SECONDS} s on an idle 2-core machine: ratio ${(total / GOAL_SECONDS).toFixed(2)}; load average ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at the end); result: ${run.status?.phase} (${run.status?.message ?? ''})\n`);
if (cpu !== undefined) {
  // what an idle machine would need: at least cpu / cores (all cores busy), at most about cpu (one at a time)
  console.log(
    `CPU time of the run (this process and its children): **${cpu.toFixed(1)} s**; on an idle ${cpus().length}-core machine its wall time lies between ${(cpu / cpus().length).toFixed(0)} s (every core busy) and about ${cpu.toFixed(0)} s (one core at a time): ratio to the goal ${(cpu / cpus().length / GOAL_SECONDS).toFixed(2)} - ${(cpu / GOAL_SECONDS).toFixed(2)}\n`,
  );
}
console.log('| iteration | rollout resolve rate | loss | entropy | pass@1 | pass@N | best@N | oracle gap |\n|---|---|---|---|---|---|---|---|');
const f = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(3));
for (const h of run.status?.history ?? []) {
  const e = h.evaluation;
  console.log(`| ${h.iteration} | ${f(h.rolloutResolveRate)} | ${f(h.training?.loss)} | ${f(h.training?.entropy)} | ${f(e?.pass1)} | ${f(e?.passAtN)} | ${f(e?.bestAtN)} | ${f(e?.oracleGap)} |`);
}
if (values.keep) console.log(`\nstore kept: ${store}`);
else rmSync(store, { recursive: true, force: true });
