/**
 * `entropo verifier train` and `entropo verifier score`: the execution-free verifier of
 * test-time scaling (docs/method.md section 8). Trajectory inputs are JSONL files (one
 * TrajectoryRecord per line, as `entropo rollout` writes), JSON files (a record or an array) or
 * directories of them.
 */
import type { Command } from 'commander';
import { int, num, oneOf } from '../args.ts';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TrainingBackends, type Training } from '../../api/common.ts';
import { TrajectoryRecord } from '../../api/records.ts';
import { check } from '../../api/validate.ts';
import { calibration, type Calibration } from '../../selection/calibration.ts';
import { scoreAll, verifierLabel } from '../../selection/verifier-prompt.ts';
import type { ArtifactStore } from '../../store/store.ts';

function files(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p, { withFileTypes: true })
    .filter((e) => e.isDirectory() || /\.jsonl?$/.test(e.name))
    .map((e) => path.join(p, e.name))
    .sort()
    .flatMap(files);
}

/** Parses one file's or object's trajectory records (JSONL, a JSON record or an array of them) into out; errors name it and the line. */
function parseTrajectories(text: string, where: string, jsonl: boolean, out: TrajectoryRecord[]): void {
  const add = (value: unknown, at: string) => {
    const r = check<TrajectoryRecord>(TrajectoryRecord, value);
    if (!r.ok) throw new Error(`${at}: not a trajectory record: ${r.errors.slice(0, 3).map((e) => `${e.field || '(root)'} ${e.message}`).join('; ')}`);
    out.push(r.value);
  };
  if (jsonl) {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new Error(`${where}:${i + 1}: ${(e as Error).message}`);
      }
      add(value, `${where}:${i + 1}`);
    });
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  if (Array.isArray(value)) value.forEach((v, i) => add(v, `${where}[${i}]`));
  else add(value, where);
}

/** Reads and validates trajectory records from files and directories; errors name file and line. */
export function readTrajectories(paths: readonly string[]): TrajectoryRecord[] {
  const out: TrajectoryRecord[] = [];
  for (const file of paths.flatMap(files)) parseTrajectories(readFileSync(file, 'utf8'), file, file.endsWith('.jsonl'), out);
  return out;
}

/**
 * Reads trajectory records from an artifact store: each argument is an object key, or a prefix
 * whose .json / .jsonl objects are all read (in key order). Errors name the store key and line.
 */
export async function readStoreTrajectories(store: ArtifactStore, keys: readonly string[]): Promise<TrajectoryRecord[]> {
  const out: TrajectoryRecord[] = [];
  for (const key of keys) {
    const under = (await store.list(key)).filter((k) => /\.jsonl?$/.test(k));
    const objects = under.length ? under : [key];
    for (const k of objects) parseTrajectories(await store.getText(k), `${store.uri} key ${k}`, k.endsWith('.jsonl'), out);
  }
  return out;
}

const f3 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(3));

export function calibrationTable(rows: [string, Calibration | undefined][]): string {
  const lines = ['| split | trajectories | resolved | AUC | ECE (10 bins) |', '|---|---:|---:|---:|---:|'];
  for (const [name, c] of rows) lines.push(c ? `| ${name} | ${c.count} | ${c.positives} | ${f3(c.auc)} | ${f3(c.ece)} |` : `| ${name} | 0 | 0 | - | - |`);
  return lines.join('\n');
}

interface TrainOptions {
  model: string;
  outDir: string;
  learningRate?: number;
  epochs?: number;
  batchSize?: number;
  maxSequenceLength?: number;
  method?: Training['method'];
  loraRank?: number;
  backend?: Training['backend'];
  seed?: number;
  maxSteps?: number;
  validationFraction: number;
  balance?: boolean;
  systemPrompt?: string;
  json?: boolean;
  progress?: boolean;
}

interface ScoreOptions {
  verifier?: string;
  endpoint?: string;
  endpointModel?: string;
  apiKeyEnv: string;
  concurrency: number;
  outFile?: string;
  annotate?: string;
  calibration?: boolean;
  backend?: Training['backend'];
  store?: string;
  outKey?: string;
}

export function registerVerifier(program: Command): void {
  const verifier = program.command('verifier').description('execution-free verifier: train it on finished trajectories, score p(YES) per trajectory');

  verifier
    .command('train')
    .description('train a verifier (YES/NO from the reward) on finished trajectories of training tasks; reports AUC and ECE')
    .argument('<trajectories...>', 'trajectory JSONL / JSON files or directories')
    .requiredOption('--model <dir>', 'base model directory (Hugging Face style: config.json, model.safetensors, tokenizer)')
    .requiredOption('--out-dir <dir>', 'output directory; the verifier is written to <dir>/model')
    .option('--learning-rate <x>', 'peak learning rate (default: the training schema\'s)', num)
    .option('--epochs <n>', 'passes over the data', int)
    .option('--batch-size <n>', 'examples per optimizer step', int)
    .option('--max-sequence-length <n>', 'token budget per example (the end is kept)', int)
    .option('--method <method>', 'LoRA or Full (as spec.training.method)', oneOf(['LoRA', 'Full'] as const))
    .option('--lora-rank <n>', 'LoRA rank', int)
    .option('--backend <name>', `tfjs backend: ${TrainingBackends.join(', ')} (as spec.training.backend)`, oneOf(TrainingBackends))
    .option('--seed <n>', 'seed of data order, initialisation and the validation split', int)
    .option('--max-steps <n>', 'cap on optimizer steps', int)
    .option('--validation-fraction <x>', 'share of tasks held out for calibration', num, 0.2)
    .option('--balance', 'repeat the rarer answer so YES and NO are equally frequent')
    .option('--system-prompt <text>', 'the verifier\'s instructions (stored with the verifier; scoring uses them too)')
    .option('--json', 'print the verifier config (with calibration) as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (inputs: string[], o: TrainOptions) => {
      const { trainVerifier } = await import('../../selection/verifier.ts');
      const trajectories = readTrajectories(inputs);
      const training: Partial<Training> = {};
      if (o.learningRate !== undefined) training.learningRate = o.learningRate;
      if (o.epochs !== undefined) training.epochs = o.epochs;
      if (o.batchSize !== undefined) training.batchSize = o.batchSize;
      if (o.maxSequenceLength !== undefined) training.maxSequenceLength = o.maxSequenceLength;
      if (o.method !== undefined) training.method = o.method;
      if (o.loraRank !== undefined) training.lora = { rank: o.loraRank } as Training['lora'];
      if (o.backend !== undefined) training.backend = o.backend;
      if (o.seed !== undefined) training.seed = o.seed;
      const result = await trainVerifier({
        modelDir: o.model,
        outputDir: o.outDir,
        trajectories,
        training,
        validationFraction: o.validationFraction,
        balance: o.balance,
        render: o.systemPrompt !== undefined ? { systemPrompt: o.systemPrompt } : undefined,
        maxSteps: o.maxSteps,
        progress: o.progress === false ? false : undefined,
      });
      if (o.json) {
        console.log(JSON.stringify({ verifierDir: result.verifierDir, ...result.config }, null, 2));
        return;
      }
      const t = result.config.trainedOn!;
      console.log(`verifier written to ${result.verifierDir}`);
      console.log(`${t.examples} examples (${t.yes} YES, ${t.no} NO) from ${t.tasks} tasks; ${t.validationTasks} tasks held out; ${t.skippedUnfinished} unfinished or lost trajectories skipped`);
      console.log(`backend ${result.train.backend}, ${result.train.stepsDone} steps, final loss ${f3(result.train.summary.loss)}\n`);
      console.log(calibrationTable([
        ['train', result.config.calibration?.train],
        ['validation', result.config.calibration?.validation],
      ]));
    });

  verifier
    .command('score')
    .description('score trajectories with p(YES) / (p(YES) + p(NO)); scores are keyed by trajectory id')
    .argument('<trajectories...>', 'trajectory JSONL / JSON files or directories (with --store: store keys or key prefixes)')
    .option('--verifier <dir>', 'a trained verifier (the <dir>/model of `entropo verifier train --out-dir <dir>`; with --store also store://<key>)')
    .option('--endpoint <url>', 'score through an OpenAI-compatible endpoint instead (e.g. http://vllm:8000/v1)')
    .option('--endpoint-model <name>', 'model name at the endpoint')
    .option('--api-key-env <var>', 'environment variable holding the endpoint API key', 'OPENAI_API_KEY')
    .option('--concurrency <n>', 'trajectories scored at once (endpoint)', int, 4)
    .option('--out-file <file>', 'write scores as JSONL {id, taskId, score} (default: stdout)')
    .option('--annotate <file>', 'write the trajectories with verifierScore set, as JSONL')
    .option('--calibration', 'report AUC and ECE against the records\' rewards (evaluating the verifier; selection never sees rewards)')
    .option('--backend <name>', `tfjs backend for --verifier: ${TrainingBackends.join(', ')}`, oneOf(TrainingBackends))
    .option('--store <uri>', 'artifact store (file:///dir, pvc://claim/prefix, s3://bucket/prefix) to read the trajectories and a store:// verifier from')
    .option('--out-key <key>', 'write the scores to this key of the --store (as --out-file writes a file)')
    .action(async (inputs: string[], o: ScoreOptions) => {
      if (Boolean(o.verifier) === Boolean(o.endpoint)) throw new Error('give exactly one of --verifier or --endpoint');
      if (o.outKey && !o.store) throw new Error('--out-key needs --store');
      const store = o.store ? (await import('../../store/open.ts')).openStore(o.store) : undefined;
      const trajectories = store ? await readStoreTrajectories(store, inputs) : readTrajectories(inputs);
      let scores: Map<string, number>;
      if (o.endpoint) {
        if (!o.endpointModel) throw new Error('--endpoint needs --endpoint-model');
        const { endpointScorer } = await import('../../selection/verifier-endpoint.ts');
        scores = await scoreAll(trajectories, endpointScorer({ baseURL: o.endpoint, model: o.endpointModel, apiKey: process.env[o.apiKeyEnv] }), { concurrency: o.concurrency });
      } else {
        const { Verifier } = await import('../../selection/verifier.ts');
        const { resolveSourceDir } = await import('../../serving/source.ts');
        const dir = o.verifier!.startsWith('store://') ? await resolveSourceDir(o.verifier!, { store }) : o.verifier!;
        const v = await Verifier.load(dir, { backend: o.backend });
        try {
          scores = await v.scoreAll(trajectories);
        } finally {
          v.dispose();
        }
      }
      const rows = trajectories.map((t) => JSON.stringify({ id: t.id, taskId: t.taskId, score: scores.get(t.id) })).join('\n') + (trajectories.length ? '\n' : '');
      if (o.outKey) await store!.put(o.outKey, rows);
      else if (o.outFile) writeFileSync(o.outFile, rows);
      else process.stdout.write(rows);
      if (o.annotate) {
        writeFileSync(o.annotate, trajectories.map((t) => JSON.stringify({ ...t, verifierScore: scores.get(t.id) })).join('\n') + (trajectories.length ? '\n' : ''));
      }
      if (o.calibration) {
        // stdout carries the scores unless they went to a file
        (o.outFile || o.outKey ? console.log : console.error)(calibrationTable([['scored', calibration(trajectories.map((t) => scores.get(t.id)!), trajectories.map(verifierLabel))]]));
      }
    });
}
