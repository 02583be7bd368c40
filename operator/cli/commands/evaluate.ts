/**
 * `entropo evaluate`: test-time scaling over rollouts already made (operator/selection/offline.ts):
 * trajectories JSONL with N samples per task (as `entropo rollout --samples N` writes them),
 * optional verifier scores (`entropo verifier score --out-file`), and a selection pipeline in the
 * EvalSuite's spec.selection schema -> the metrics table on stdout (or JSON with -o json), and in
 * --out-dir: evaluation.json (metrics, pass@k / best@k per k, every task's selection explained),
 * selections.jsonl, predictions.jsonl (the selected patches, SWE-bench form).
 *
 * Exit status: 0 done; 2 bad input (a file that cannot be read, a record or selection that does not
 * validate: the message names the file, line and field).
 */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { oneOf } from '../args.ts';
import { Selection } from '../../api/common.ts';
import { check } from '../../api/validate.ts';
import { evaluateOffline, formatOfflineEvaluation } from '../../selection/offline.ts';
import { readTrajectories } from './verifier.ts';

interface EvaluateCliOptions {
  trajectories: string[];
  scores?: string;
  selection?: string;
  seed?: string;
  outDir?: string;
  output: 'table' | 'json';
}

/**
 * The selection spec from a file or inline JSON/YAML: spec.selection itself ({pipeline, seed}), or
 * an EvalSuite manifest (its spec.selection is taken). Throws naming the field.
 */
export function readSelection(arg: string): Selection {
  const text = existsSync(arg) ? readFileSync(arg, 'utf8') : arg;
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new Error(`--selection ${arg}: not valid YAML or JSON: ${(e as Error).message}`);
  }
  const o = doc as { kind?: string; spec?: { selection?: unknown } } | null;
  const sel = o && typeof o === 'object' && o.kind === 'EvalSuite' ? (o.spec?.selection ?? {}) : doc;
  const r = check<Selection>(Selection, sel ?? {});
  if (!r.ok) throw new Error(`--selection ${existsSync(arg) ? arg : '(inline)'}: ${r.errors.map((e) => `${e.field || '(root)'}: ${e.message}`).join('; ')}`);
  return r.value;
}

/** Verifier scores: JSONL {id, score} per line (`entropo verifier score --out-file`) or a JSON object {id: score}. */
export function readScores(file: string): Map<string, number> {
  const text = readFileSync(file, 'utf8');
  const out = new Map<string, number>();
  const add = (id: unknown, score: unknown, where: string) => {
    if (typeof id !== 'string' || typeof score !== 'number' || !(score >= 0 && score <= 1)) throw new Error(`${where}: expected {"id": "<trajectory id>", "score": <0..1>}`);
    out.set(id, score);
  };
  const trimmed = text.trim();
  if (trimmed.startsWith('{') && !trimmed.includes('\n')) {
    const o = JSON.parse(trimmed) as Record<string, unknown>;
    if (!('id' in o)) {
      for (const [id, s] of Object.entries(o)) add(id, s, `${file}: ${id}`);
      return out;
    }
  }
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: { id?: unknown; score?: unknown };
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: ${(e as Error).message}`);
    }
    // a record without a score (the verifier skipped it) is no score
    if (v.score === undefined || v.score === null) return;
    add(v.id, v.score, `${file}:${i + 1}`);
  });
  return out;
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('test-time scaling over rollouts: select one of N samples per task, pass@1, pass@k, best@N, oracle gap, selected predictions')
    .argument('<trajectories...>', 'trajectory JSONL files or directories (as entropo rollout writes trajectories.jsonl)')
    .option('--scores <file>', 'verifier scores: JSONL {id, score} (entropo verifier score --out-file) or JSON {id: score}')
    .option('--selection <file|json>', "the selection spec as EvalSuite.spec.selection ({pipeline: [...], seed}; a file, inline YAML/JSON, or an EvalSuite manifest); default: the paper's hybrid, without its verifier step when there are no scores")
    .option('--seed <n>', 'seed of the tie-break (overrides the spec\'s)')
    .option('--out-dir <dir>', 'write evaluation.json, selections.jsonl and predictions.jsonl here')
    .option('-o, --output <format>', 'table | json on stdout', oneOf(['table', 'json'] as const), 'table')
    .action((trajectories: string[], o: EvaluateCliOptions) => evaluateAction({ ...o, trajectories }));
}

async function evaluateAction(o: EvaluateCliOptions): Promise<void> {
  let result: ReturnType<typeof evaluateOffline>;
  try {
    const records = readTrajectories(o.trajectories);
    if (!records.length) throw new Error(`no trajectory in ${o.trajectories.join(', ')}`);
    const selection = o.selection ? readSelection(o.selection) : undefined;
    if (o.seed !== undefined && !Number.isInteger(Number(o.seed))) throw new Error(`--seed: expected an integer, got ${JSON.stringify(o.seed)}`);
    const scores = o.scores ? readScores(o.scores) : undefined;
    const seed = o.seed !== undefined ? Number(o.seed) : selection?.seed;
    result = evaluateOffline(records, { ...(selection?.pipeline ? { pipeline: selection.pipeline } : {}), ...(seed !== undefined ? { seed } : {}) }, scores);
  } catch (e) {
    console.error(`entropo evaluate: ${(e as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const { evaluation, predictions } = result;
  if (o.outDir) {
    await mkdir(o.outDir, { recursive: true });
    const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : '');
    await writeFile(path.join(o.outDir, 'evaluation.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
    await writeFile(path.join(o.outDir, 'selections.jsonl'), jsonl(evaluation.selections));
    await writeFile(path.join(o.outDir, 'predictions.jsonl'), jsonl(predictions.map(({ instance_id, model_name_or_path, model_patch }) => ({ instance_id, model_name_or_path, model_patch }))));
  }
  if (o.output === 'json') console.log(JSON.stringify(evaluation, null, 2));
  else {
    console.log(formatOfflineEvaluation(evaluation));
    if (o.outDir) console.log(`\nevaluation.json, selections.jsonl and predictions.jsonl in ${o.outDir}/`);
  }
}
