/**
 * Training throughput benchmark: tokens/s and step time of SFT, M-KTO, EntroPO-KTO (each z0 mode),
 * M-DPO and EntroPO-DPO on every tfjs backend available here, with the ratio of each step time
 * to SFT's in the same run, and the peak memory (max RSS) of each configuration, each measured in
 * its own child process. Prints a markdown table.
 *
 *   npm run bench:train [-- --steps 5 --backends wasm,wasm-stock,cpu --hidden 64 --layers 2 --batch 4]
 *
 * `wasm-stock` is the wasm backend with tfjs-wasm's own kernels (ENTROPO_WASM_KERNELS=stock), so
 * the gain of the operator's wasm kernels (operator/training/wasm/) is measured in the same run.
 *
 * Then (unless --no-lengths) the length / vocabulary sweep: one SFT and one EntroPO-KTO (exact z0)
 * step on ONE trajectory of 1k, 4k, 8k and 18k tokens, for the test model (the fixture's shape:
 * hidden 32, 2 layers, vocab 320) and a synthetic model with a 151,936-token vocabulary, on every
 * backend present: tokens/s and peak memory (max RSS of the child process), each in its own
 * process with a time limit (--sweep-timeout seconds, default 900; the pure-JS cpu backend only up
 * to --cpu-max-tokens, default 1024, on the test model; a series stops at its first time-out).
 *
 *   npm run bench:train -- --only-lengths [--lengths 1024,4096 --sweep-models test,150k --sweep-backends wasm --sweep-objectives 'SFT|SFT, gradient checkpointing|EntroPO-KTO']
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

/** Backend package name (as reported) -> the API value of training.backend. */
const API_BACKEND: Record<string, string> = { 'tfjs-node-gpu': 'TfjsNodeGPU', 'tfjs-node': 'TfjsNode', wasm: 'Wasm', cpu: 'CPU' };
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

/** A child process's backend and environment for a name of --backends (`wasm-stock`: wasm with tfjs-wasm's own kernels). */
function childBackend(name: string): { backend: string; env: NodeJS.ProcessEnv } {
  const env = { ...process.env, ENTROPO_LOG_LEVEL: 'error' };
  return name === 'wasm-stock' ? { backend: 'wasm', env: { ...env, ENTROPO_WASM_KERNELS: 'stock' } } : { backend: name, env };
}

function args(argv: string[]): Args & { child?: string } {
  const get = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    steps: Number(get('steps') ?? 5),
    backends: (get('backends') ?? 'tfjs-node-gpu,tfjs-node,wasm,wasm-stock,cpu').split(','),
    hidden: Number(get('hidden') ?? 64),
    layers: Number(get('layers') ?? 2),
    batch: Number(get('batch') ?? 4),
    child: get('child'),
  };
}

/** A random Qwen3-style checkpoint (with the fixture's tokenizer) of the requested size. */
function makeModel(dir: string, hidden: number, layers: number, vocab = 320): string {
  const raw = {
    model_type: 'qwen3',
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: hidden * 3,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: hidden / 4,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    max_position_embeddings: 32768,
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
      training: parse(Training, { backend: API_BACKEND[spec.backend] ?? spec.backend, batchSize: spec.a.batch, maxSequenceLength: 4096, lora: { rank: 8, alpha: 16 }, epochs: 10 }, 'training'),
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

interface SweepSpec {
  backend: string;
  model: string;
  modelDir: string;
  tokens: number;
  objective: 'SFT' | 'SFT, gradient checkpointing' | 'EntroPO-KTO';
}

interface SweepResult extends SweepSpec {
  tokensTrained: number;
  stepSeconds: number;
  tokensPerSecond: number;
  maxRssMiB: number;
}

/** One trajectory of about `tokens` tokens: the synthetic tool exchange repeated. */
function longTrajectories(tokens: number) {
  const per = 60; // tokens of one tool exchange with the fixture tokenizer, about
  return syntheticTrajectories({ tasks: 1, samplesPerTask: 2, turns: Math.ceil(tokens / per), tools: false });
}

async function sweepChild(spec: SweepSpec): Promise<SweepResult> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'entropo-bench-'));
  try {
    const r = await train({
      modelDir: spec.modelDir,
      outputDir: out,
      objective: spec.objective === 'EntroPO-KTO' ? 'preference' : 'sft',
      gradientCheckpointing: spec.objective === 'SFT, gradient checkpointing',
      trajectories: longTrajectories(spec.tokens),
      // the trajectories are a little longer than `tokens`: KeepEnd cuts them to exactly that
      training: parse(Training, { backend: API_BACKEND[spec.backend] ?? spec.backend, batchSize: 1, maxSequenceLength: spec.tokens, truncation: 'KeepEnd', epochs: 10 }, 'training'),
      preference: parse(Preference, { algorithm: 'KTO' }, 'preference'),
      maxSteps: 1,
      referenceMetricsEvery: 0,
      saveModel: false,
      registry: new Registry(),
      progress: false,
    });
    const h = r.history[r.history.length - 1];
    return { ...spec, tokensTrained: h.tokens, stepSeconds: h.stepSeconds, tokensPerSecond: h.tokens / h.stepSeconds, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function sweep(a: Args & { lengths: number[]; sweepBackends: string[]; sweepTimeout: number; cpuMaxTokens: number; sweepModels: string[]; sweepObjectives: SweepSpec['objective'][] }): string[] {
  const dirs: Record<string, string> = {};
  if (a.sweepModels.includes('test')) dirs['test model (vocab 320)'] = makeModel(mkdtempSync(path.join(os.tmpdir(), 'entropo-bench-test-')), 32, 2, 320);
  if (a.sweepModels.includes('150k')) dirs['vocab 151,936 (synthetic)'] = makeModel(mkdtempSync(path.join(os.tmpdir(), 'entropo-bench-150k-')), 32, 2, 151936);
  const rows: string[] = [];
  const skipped = new Set<string>();
  const overLimit = new Set<string>();
  for (const backend of a.sweepBackends) {
    for (const [model, modelDir] of Object.entries(dirs)) {
      for (const objective of a.sweepObjectives) {
        for (const tokens of a.lengths) {
          if (skipped.has(backend)) continue;
          if (backend === 'cpu' && (tokens > a.cpuMaxTokens || model.startsWith('vocab'))) {
            rows.push(`| ${backend} | ${model} | ${objective} | ${tokens} | - | - | - | not run: pure-JS backend (test model up to --cpu-max-tokens ${a.cpuMaxTokens} only) |`);
            continue;
          }
          const series = `${backend}/${model}/${objective}`;
          if (overLimit.has(series)) {
            rows.push(`| ${backend} | ${model} | ${objective} | ${tokens} | - | - | - | not run: a shorter length already took over ${a.sweepTimeout} s |`);
            continue;
          }
          const run = childBackend(backend);
          const spec: SweepSpec = { backend: run.backend, model, modelDir, tokens, objective };
          const t0 = Date.now();
          const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--sweep-child', JSON.stringify(spec)], {
            encoding: 'utf8',
            env: run.env,
            timeout: a.sweepTimeout * 1000,
            maxBuffer: 64 * 1024 * 1024,
          });
          const label = `| ${backend} | ${model} | ${objective} | ${tokens} |`;
          if (r.status === 3) {
            skipped.add(backend);
            rows.push(`| ${backend} | - | - | - | not available: ${r.stderr.trim().split('\n').pop()} | | | |`);
            continue;
          }
          if (r.error || r.status !== 0) {
            if (r.error) overLimit.add(series);
            const why = `${r.error ? `stopped after ${a.sweepTimeout} s` : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).slice(0, 240)}; load average ${os.loadavg()[0].toFixed(1)}`;
            rows.push(`${label} - | - | - | ${why} |`);
            process.stderr.write(`${label} ${why}\n`);
            continue;
          }
          const x = JSON.parse(r.stdout.trim().split('\n').pop()!) as SweepResult;
          rows.push(`${label} ${x.tokensTrained} | ${x.tokensPerSecond.toFixed(0)} | ${x.maxRssMiB.toFixed(0)} | ${((Date.now() - t0) / 1000).toFixed(0)} s wall in all; load average ${os.loadavg()[0].toFixed(1)} |`);
          process.stderr.write(`${rows[rows.length - 1]}\n`);
        }
      }
    }
  }
  for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
  return [
    '',
    `Length / vocabulary sweep: one step on one trajectory (batch 1; KTO exact z0 adds the reference and entropy terms), LoRA r8 on all linear layers, hidden 32, 2 layers; KeepEnd cuts each trajectory to the length; peak RSS of the whole child process; ${os.cpus().length} CPU cores.`,
    '',
    '| backend | model | objective | tokens per sequence | tokens/step | tokens/s | peak RSS (MiB) | note |',
    '|---|---|---|---:|---:|---:|---:|---|',
    ...rows,
  ];
}

async function main(): Promise<void> {
  const a = args(process.argv);
  const argv = process.argv;
  const opt = (k: string) => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sweepChildSpec = opt('sweep-child');
  if (sweepChildSpec) {
    try {
      console.log(JSON.stringify(await sweepChild(JSON.parse(sweepChildSpec) as SweepSpec)));
    } catch (e) {
      console.error((e as Error).message.split('\n')[0]);
      process.exitCode = /no usable tfjs backend|backend: must be one of|cannot be loaded|Cannot find (module|package)/.test((e as Error).message) ? 3 : 1;
    }
    return;
  }
  const sweepArgs = {
    ...a,
    lengths: (opt('lengths') ?? '1024,4096,8192,18432').split(',').map(Number),
    sweepBackends: (opt('sweep-backends') ?? a.backends.filter((b) => b !== 'wasm-stock').join(',')).split(','),
    sweepTimeout: Number(opt('sweep-timeout') ?? 900),
    cpuMaxTokens: Number(opt('cpu-max-tokens') ?? 1024),
    sweepModels: (opt('sweep-models') ?? 'test,150k').split(','),
    sweepObjectives: (opt('sweep-objectives') ?? 'SFT|SFT, gradient checkpointing|EntroPO-KTO').split('|') as SweepSpec['objective'][],
  };
  if (argv.includes('--only-lengths')) {
    console.log(sweep(sweepArgs).join('\n'));
    return;
  }
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
      const run = childBackend(backend);
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify({ backend: run.backend, c, modelDir, a })], {
        encoding: 'utf8',
        env: run.env,
      });
      if (r.status === 3) {
        skipped.push(`${backend} (${r.stderr.trim().split('\n').pop()})`);
        break;
      }
      if (r.status !== 0) throw new Error(`${backend} ${c.name} failed: ${r.stderr}`);
      const res = { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Result), backend };
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
  const stockRows = results.filter((r) => r.backend === 'wasm-stock');
  if (stockRows.length) {
    lines.push('', "The operator's wasm kernels against tfjs-wasm's own (same run): step time of wasm-stock / wasm per objective:", '');
    for (const r of stockRows) {
      const ours = results.find((x) => x.backend === 'wasm' && x.name === r.name);
      if (ours) lines.push(`- ${r.name}: ${(r.stepSeconds / ours.stepSeconds).toFixed(2)}x`);
    }
  }
  if (!argv.includes('--no-lengths')) lines.push(...sweep(sweepArgs));
  console.log(lines.join('\n'));
}

await main();
