/**
 * Training throughput benchmark: tokens/s and step time of SFT, M-KTO, EntroPO-KTO (each z0 mode),
 * M-DPO and EntroPO-DPO on every tfjs backend available here, with the ratio of each step time
 * to SFT's in the same run, and the peak memory (max RSS) of each configuration, each measured in
 * its own child process. Prints a markdown table.
 *
 *   npm run bench:train [-- --steps 5 --backends wasm,cpu --hidden 64 --layers 2 --batch 4]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { parse } from '../operator/api/validate.ts';
import { Preference, Training } from '../operator/api/common.ts';
import { train } from '../operator/training/trainer.ts';
import { syntheticTrajectories } from '../operator/training/synthetic.ts';
import { writeSafetensors, type TensorMap } from '../operator/training/safetensors.ts';
import { expectedTensors, parseModelConfig } from '../operator/training/model-config.ts';
import { Rng } from '../operator/training/rng.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.join(HERE, '..', 'test', 'fixtures', 'training', 'qwen3');

interface Case {
  name: string;
  objective: 'sft' | 'preference';
  preference: Record<string, unknown>;
}

const CASES: Case[] = [
  { name: 'SFT', objective: 'sft', preference: {} },
  { name: 'M-KTO (exact z0, every step)', objective: 'preference', preference: { algorithm: 'KTO', zeta: 0.1, gamma: 0.1 } },
  { name: 'EntroPO-KTO exact z0, every step', objective: 'preference', preference: { algorithm: 'KTO', kto: { referencePoint: 'Exact', referencePointEvery: 1 } } },
  { name: 'EntroPO-KTO exact z0, every 4 steps', objective: 'preference', preference: { algorithm: 'KTO', kto: { referencePoint: 'Exact', referencePointEvery: 4 } } },
  { name: 'EntroPO-KTO authors-kl z0', objective: 'preference', preference: { algorithm: 'KTO', kto: { referencePoint: 'AuthorsKL' } } },
  { name: 'EntroPO-KTO trl-kl z0', objective: 'preference', preference: { algorithm: 'KTO', kto: { referencePoint: 'TRLKL' } } },
  { name: 'M-DPO', objective: 'preference', preference: { algorithm: 'DPO', zeta: 0.1, gamma: 0.1 } },
  { name: 'EntroPO-DPO', objective: 'preference', preference: { algorithm: 'DPO' } },
];

interface Args {
  steps: number;
  backends: string[];
  hidden: number;
  layers: number;
  batch: number;
}

function args(argv: string[]): Args & { child?: string } {
  const get = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    steps: Number(get('steps') ?? 5),
    backends: (get('backends') ?? 'tfjs-node-gpu,tfjs-node,wasm,cpu').split(','),
    hidden: Number(get('hidden') ?? 64),
    layers: Number(get('layers') ?? 2),
    batch: Number(get('batch') ?? 4),
    child: get('child'),
  };
}

/** A random Qwen3-style checkpoint (with the fixture's tokenizer) of the requested size. */
function makeModel(dir: string, hidden: number, layers: number): string {
  const raw = {
    model_type: 'qwen3',
    vocab_size: 320,
    hidden_size: hidden,
    intermediate_size: hidden * 3,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: hidden / 4,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    max_position_embeddings: 4096,
    hidden_act: 'silu',
  };
  const cfg = parseModelConfig(raw);
  const rng = new Rng(1);
  const tensors: TensorMap = new Map();
  for (const [name, shape] of expectedTensors(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = name.includes('norm') ? 1 : 0.05 * rng.normal();
    tensors.set(name, { shape, data });
  }
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(tensors));
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  return dir;
}

interface Result {
  backend: string;
  name: string;
  stepSeconds: number;
  tokensPerSecond: number;
  tokensPerStep: number;
  maxRssMiB: number;
}

async function child(spec: { backend: string; c: Case; modelDir: string; a: Args }): Promise<Result> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'entropo-bench-'));
  try {
    const r = await train({
      modelDir: spec.modelDir,
      outputDir: out,
      objective: spec.c.objective,
      trajectories: syntheticTrajectories({ tasks: spec.a.batch, samplesPerTask: 2 }),
      training: parse(Training, { backend: spec.backend, batchSize: spec.a.batch, maxSequenceLength: 4096, lora: { rank: 8, alpha: 16 }, epochs: 10 }, 'training'),
      preference: parse(Preference, spec.c.preference, 'preference'),
      maxSteps: spec.a.steps + 1,
      referenceMetricsEvery: 0,
      saveModel: false,
      registry: new Registry(),
      progress: false,
    });
    // The first step warms up kernels. The median step time resists other load on the machine.
    const timed = r.history.slice(1);
    const times = timed.map((h) => h.stepSeconds).sort((x, y) => x - y);
    const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    const tokensPerStep = timed.reduce((acc, h) => acc + h.tokens, 0) / timed.length;
    return {
      backend: r.backend,
      name: spec.c.name,
      stepSeconds: median,
      tokensPerSecond: tokensPerStep / median,
      tokensPerStep,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const a = args(process.argv);
  if (a.child) {
    const spec = JSON.parse(a.child) as { backend: string; c: Case; modelDir: string; a: Args };
    try {
      console.log(JSON.stringify(await child(spec)));
    } catch (e) {
      console.error((e as Error).message);
      process.exitCode = /no usable tfjs backend|backend: must be one of/.test((e as Error).message) ? 3 : 1;
    }
    return;
  }
  const modelDir = makeModel(mkdtempSync(path.join(os.tmpdir(), 'entropo-bench-model-')), a.hidden, a.layers);
  const results: Result[] = [];
  const skipped: string[] = [];
  for (const backend of a.backends) {
    for (const c of CASES) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify({ backend, c, modelDir, a })], {
        encoding: 'utf8',
        env: { ...process.env, ENTROPO_LOG_LEVEL: 'error' },
      });
      if (r.status === 3) {
        skipped.push(`${backend} (${r.stderr.trim().split('\n').pop()})`);
        break;
      }
      if (r.status !== 0) throw new Error(`${backend} ${c.name} failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
      results.push(res);
      process.stderr.write(`${backend} ${c.name}: ${res.tokensPerSecond.toFixed(0)} tok/s\n`);
    }
  }
  rmSync(modelDir, { recursive: true, force: true });
  const lines = [
    `Model: random Qwen3-style, hidden ${a.hidden}, ${a.layers} layers, 4 heads / 2 KV heads, vocab 320, LoRA r8 on all linear layers; ` +
      `batch ${a.batch} (DPO: ${a.batch} pairs), synthetic multi-turn trajectories with tools; median of ${a.steps} steps after 1 warm-up step; ${os.cpus().length} CPU cores (${os.cpus()[0]?.model ?? 'unknown'}).`,
    '',
    '| backend | objective | step time (s) | tokens/step | tokens/s | step time / SFT | tokens/s / SFT | peak RSS (MiB) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const sft = results.find((x) => x.backend === r.backend && x.name === 'SFT')!;
    lines.push(
      `| ${r.backend} | ${r.name} | ${r.stepSeconds.toFixed(3)} | ${r.tokensPerStep.toFixed(0)} | ${r.tokensPerSecond.toFixed(0)} | ${(r.stepSeconds / sft.stepSeconds).toFixed(2)} | ${(r.tokensPerSecond / sft.tokensPerSecond).toFixed(2)} | ${r.maxRssMiB.toFixed(0)} |`,
    );
  }
  if (skipped.length) lines.push('', `Not available here: ${skipped.join('; ')}.`);
  console.log(lines.join('\n'));
}

await main();
