/**
 * The trainer's whole assignment as one document (`entropo train --config <yaml>`): the
 * TrainingRun's `training` and `preference` sections plus the inputs and outputs. Relative
 * paths are resolved against the config file's directory. Every error names the field.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Type, StringEnum, type Static } from '../api/schema.ts';
import { Preference, Training } from '../api/common.ts';
import { TrajectoryRecord } from '../api/records.ts';
import { parse, ValidationError } from '../api/validate.ts';
import type { TrainJob } from './trainer.ts';

export const TrainConfig = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'Hugging Face style model directory: the starting policy (the SFT checkpoint).' }),
    reference: Type.Optional(Type.String({ minLength: 1, description: 'Reference policy directory; default: the starting policy.' })),
    trajectories: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
      description: 'JSONL file(s) of trajectory records (entropo.dev/trajectory/v1).',
    }),
    output: Type.String({ minLength: 1, description: 'Output directory: checkpoints, metrics.jsonl, preference.jsonl, summary.json, model/.' }),
    objective: StringEnum(['preference', 'sft'] as const, { default: 'preference', description: 'preference (EntroPO / M-DPO / M-KTO) or sft.' }),
    training: Training,
    preference: Preference,
    maxSteps: Type.Optional(Type.Integer({ minimum: 1, description: 'Cap on optimizer steps.' })),
    checkpointEvery: Type.Integer({ minimum: 0, default: 0, description: 'Checkpoint every N steps (always at the end); 0: only at the end.' }),
    resume: Type.Boolean({ default: true, description: 'Resume from the newest checkpoint in output.' }),
    gradientCheckpointing: Type.Boolean({ default: false, description: 'Recompute each layer in the backward pass instead of keeping its activations (less memory, more compute).' }),
    referenceMetricsEvery: Type.Integer({ minimum: 0, default: 10, description: 'Reference forward for the KL metric every N steps, and after the last step (the trained policy KL, the summary klToReference); 0: never (KTO exact z0 steps always have it).' }),
    progress: Type.Optional(Type.Boolean({ description: 'Progress bar on stderr (default: when stderr is a TTY).' })),
    runName: Type.Optional(Type.String({ minLength: 1, description: 'Label of the Prometheus series; default: the output directory name.' })),
  },
  { additionalProperties: false },
);
export type TrainConfig = Static<typeof TrainConfig>;

/** Reads JSONL trajectory records; a bad line is an error naming file:line and the field. */
export function readTrajectories(file: string, field = 'trajectories'): TrajectoryRecord[] {
  if (!existsSync(file)) throw new ValidationError(field, [{ field, message: `file not found: ${file}` }]);
  const out: TrajectoryRecord[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch (e) {
        throw new ValidationError(`${file}:${i + 1}`, [{ field: '', message: `not JSON (${(e as Error).message})` }]);
      }
      out.push(parse<TrajectoryRecord>(TrajectoryRecord, raw, `${file}:${i + 1}`));
    });
  return out;
}

/** Parses and validates a config document, reads its inputs, and builds the TrainJob. */
export function loadTrainConfig(file: string): { config: TrainConfig; job: TrainJob } {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file === '-' ? 0 : file, 'utf8')); // - : stdin
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const config = parse<TrainConfig>(TrainConfig, raw, file);
  const base = file === '-' ? process.cwd() : path.dirname(path.resolve(file)); // paths are relative to the config (stdin: the working directory)
  const at = (p: string) => path.resolve(base, p);
  const modelDir = at(config.model);
  for (const [field, dir] of [['model', modelDir], ...(config.reference ? [['reference', at(config.reference)]] : [])] as [string, string][]) {
    if (!existsSync(path.join(dir, 'config.json'))) throw new ValidationError(file, [{ field, message: `no config.json in ${dir}` }]);
  }
  const files = Array.isArray(config.trajectories) ? config.trajectories : [config.trajectories];
  const trajectories = files.flatMap((f, i) => readTrajectories(at(f), Array.isArray(config.trajectories) ? `trajectories[${i}]` : 'trajectories'));
  const job: TrainJob = {
    modelDir,
    referenceDir: config.reference ? at(config.reference) : undefined,
    outputDir: at(config.output),
    trajectories,
    training: config.training,
    preference: config.preference,
    objective: config.objective,
    maxSteps: config.maxSteps,
    checkpointEvery: config.checkpointEvery,
    resume: config.resume,
    referenceMetricsEvery: config.referenceMetricsEvery,
    gradientCheckpointing: config.gradientCheckpointing,
    progress: config.progress,
    runName: config.runName,
  };
  return { config, job };
}
