/**
 * Run-time choice of the tfjs backend (docs/architecture.md, docs/native-backend.md): `Auto` takes
 * the fastest one present: @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node (the native
 * TensorFlow library; scripts/install-tfjs-node.sh installs them), then
 * @tensorflow/tfjs-backend-wasm, then the pure-JS CPU backend. Each candidate is imported
 * dynamically; a failure falls through to the next one. An explicit choice (spec.training.backend,
 * `entropo serve --backend`) must load or is an error; the environment variable
 * ENTROPO_TFJS_BACKEND (auto, tfjs-node-gpu, tfjs-node, wasm, cpu, or the API names) replaces
 * `Auto` for a whole process tree (an operator, a test run). The backend in use is logged and
 * exported as entropo_training_backend_info{backend}.
 */
import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Gauge, register as globalRegistry, type Registry } from 'prom-client';
import { logger } from '../logging/logger.ts';
import type { TrainingBackends } from '../api/common.ts';
import { installWasmKernels, wasmKernelMode } from './wasm/kernels.ts';

/** What spec.training.backend may ask for (API values, CamelCase): Auto or one backend. */
export type BackendPreference = (typeof TrainingBackends)[number];
/** The backend in use, named as its package (logs, results, entropo_training_backend_info{backend}). */
export type BackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

/** API value -> the backend it names. */
const NAME_OF: Record<Exclude<BackendPreference, 'Auto'>, BackendName> = {
  TfjsNodeGPU: 'tfjs-node-gpu',
  TfjsNode: 'tfjs-node',
  Wasm: 'wasm',
  CPU: 'cpu',
};

/** The API's backend names (Auto, Wasm, ...) and the tfjs package names (auto, wasm, tfjs-node, ...), lower-cased. */
const BY_NAME: Record<string, BackendPreference> = {
  auto: 'Auto',
  'tfjs-node-gpu': 'TfjsNodeGPU',
  tfjsnodegpu: 'TfjsNodeGPU',
  'tfjs-node': 'TfjsNode',
  tfjsnode: 'TfjsNode',
  wasm: 'Wasm',
  cpu: 'CPU',
};

/** The environment variable that replaces `Auto` (see the module comment). */
export const BACKEND_ENV = 'ENTROPO_TFJS_BACKEND';

/**
 * The backend preference for a name, case-insensitive (API or package name); undefined when the
 * name is none of auto, tfjs-node-gpu, tfjs-node, wasm, cpu (TfjsNodeGPU, TfjsNode, ...).
 */
export function parseBackendName(name: string): BackendPreference | undefined {
  return BY_NAME[name.trim().toLowerCase()];
}

/**
 * What `Auto` means in this process: the backend named by ENTROPO_TFJS_BACKEND, or `Auto`.
 * Throws naming the variable when its value is not a backend name.
 */
export function autoPreference(env: NodeJS.ProcessEnv = process.env): BackendPreference {
  const v = env[BACKEND_ENV];
  if (v === undefined || v.trim() === '') return 'Auto';
  const p = parseBackendName(v);
  if (!p) throw new Error(`${BACKEND_ENV}=${JSON.stringify(v)}: not a tfjs backend (expected auto, tfjs-node-gpu, tfjs-node, wasm or cpu)`);
  return p;
}

const ORDER: BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

/** What each candidate registers with tfjs once imported. */
const TF_NAME: Record<BackendName, string> = { 'tfjs-node-gpu': 'tensorflow', 'tfjs-node': 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

async function activate(name: BackendName): Promise<void> {
  if (name === 'tfjs-node-gpu' || name === 'tfjs-node') {
    // A variable specifier: these optional packages are usually absent and have no types here.
    const spec = `@tensorflow/${name}`;
    // TensorFlow's own start-up lines (oneDNN, CPU features) are INFO: keep stderr for our JSON logs.
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
    await import(spec);
  } else if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(`${dir}${path.sep}`);
  }
  const ok = await tf.setBackend(TF_NAME[name]);
  if (!ok) throw new Error(`tf.setBackend('${TF_NAME[name]}') failed`);
  await tf.ready();
  // SIMD products, row gathers and copy-what-you-return slices (wasm/kernels.ts).
  if (name === 'wasm') wasmKernels = installWasmKernels();
}

/** The operator's kernels in place on wasm (logged with the selection; [] with ENTROPO_WASM_KERNELS=stock). */
let wasmKernels: string[] = [];

export interface BackendChoice {
  backend: BackendName;
  /** Why each earlier candidate was skipped. */
  skipped: { backend: BackendName; reason: string }[];
}

let current: BackendName | undefined;
/** Selections run one at a time: two concurrent first calls would race the wasm start-up. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Selects and initialises the backend. `Auto` (after ENTROPO_TFJS_BACKEND, see autoPreference)
 * walks the order above; a named one must work. Errors name `setting` (the trainer's
 * training.backend; a policy server's --backend) and why each candidate failed.
 */
export function selectBackend(pref: BackendPreference = 'Auto', registry: Registry = globalRegistry, setting = 'training.backend'): Promise<BackendChoice> {
  const run = queue.then(() => select(pref === 'Auto' ? autoPreference() : pref, registry, setting));
  queue = run.catch(() => undefined);
  return run;
}

async function select(pref: BackendPreference, registry: Registry, setting: string): Promise<BackendChoice> {
  wasmKernelMode(); // a bad ENTROPO_WASM_KERNELS is an error here, not a silent fall-through to cpu
  const candidates = pref === 'Auto' ? ORDER : [NAME_OF[pref]];
  const skipped: BackendChoice['skipped'] = [];
  for (const name of candidates) {
    try {
      if (current !== name) await activate(name);
      current = name;
      logger.info('tfjs backend selected', { component: 'training', backend: name, skipped, ...(name === 'wasm' ? { kernels: wasmKernels.length ? `operator's (${wasmKernels.join(', ')})` : 'stock (ENTROPO_WASM_KERNELS=stock)' } : {}) });
      recordBackend(name, registry);
      return { backend: name, skipped };
    } catch (e) {
      skipped.push({ backend: name, reason: (e as Error).message.split('\n')[0] });
    }
  }
  throw new Error(`${setting}: no usable tfjs backend (${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')})`);
}

export function currentBackend(): BackendName | undefined {
  return current;
}

function recordBackend(name: BackendName, registry: Registry): void {
  const metricName = 'entropo_training_backend_info';
  const g =
    (registry.getSingleMetric(metricName) as Gauge<'backend'> | undefined) ??
    new Gauge({ name: metricName, help: 'tfjs backend the trainer runs on (value 1 for the one in use).', labelNames: ['backend'], registers: [registry] });
  g.reset();
  g.set({ backend: name }, 1);
}

/** Whether the active backend has a kernel (the wasm backend lacks e.g. UnsortedSegmentSum). */
export function hasKernel(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
}
