/**
 * What `entropo run --local` prints at the end, pure: a table per kind from the final status.
 * TrainingRun: one row per iteration (rollout resolve rate, loss, entropy, pass@1, pass@N,
 * best@N, oracle gap, distinct patches per task, which steps decided); RolloutBatch: counts;
 * EvalSuite: the metrics and decidedBy.
 */
import type { EvalSuite, RolloutBatch, TrainingRun } from '../api/kinds.ts';

type Cell = string | number | undefined;

const f = (x: number | undefined, digits = 3): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${(100 * x).toFixed(1)}%`);

/** A plain aligned table (first column left-aligned, the rest right-aligned). */
export function table(head: string[], rows: Cell[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === undefined ? '-' : String(c))))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(cells[0]), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Per-iteration results of a TrainingRun, with the EvalSuites' decidedBy when known. */
export function trainingRunTable(run: TrainingRun, evalSuites: ReadonlyMap<string, EvalSuite> = new Map()): string {
  const rows = (run.status?.history ?? []).map((h) => {
    const ev = h.evaluation;
    const es = h.evalSuite ? evalSuites.get(h.evalSuite) : undefined;
    const decided = es?.status?.decidedBy ? Object.entries(es.status.decidedBy).map(([k, v]) => `${k} ${v}`).join(', ') : undefined;
    return [h.iteration, h.phase, pct(h.rolloutResolveRate), f(h.training?.loss), f(h.training?.entropy), pct(ev?.pass1), pct(ev?.passAtN), pct(ev?.bestAtN), pct(ev?.oracleGap), f(ev?.distinctPatchesPerTask, 2), h.training?.backend, decided];
  });
  return table(['iteration', 'phase', 'rollout resolved', 'loss', 'entropy', 'pass@1', 'pass@N', 'best@N', 'oracle gap', 'distinct patches', 'trained on', 'decided by'], rows);
}

export function rolloutBatchTable(b: RolloutBatch): string {
  const c = b.status?.counts;
  return table(['batch', 'phase', 'rollouts', 'completed', 'no sample', 'retries', 'resolved', 'resolve rate'], [
    [b.metadata.name, b.status?.phase, c?.total, c?.completed, c?.failed, c?.retries, c?.resolved, pct(b.status?.resolveRate)],
  ]);
}

export function evalSuiteTable(s: EvalSuite): string {
  const m = s.status?.metrics;
  const decided = s.status?.decidedBy ? Object.entries(s.status.decidedBy).map(([k, v]) => `${k} ${v}`).join(', ') : undefined;
  return table(['suite', 'phase', 'N', 'pass@1', 'pass@N', 'best@N', 'oracle gap', 'selection acc.', 'distinct patches', 'decided by'], [
    [s.metadata.name, s.status?.phase, s.spec.samplesPerTask, pct(m?.pass1), pct(m?.passAtN), pct(m?.bestAtN), pct(m?.oracleGap), pct(m?.selectionAccuracy), f(m?.distinctPatchesPerTask, 2), decided],
  ]);
}
