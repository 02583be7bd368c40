/**
 * Faster tfjs-wasm kernels, installed whenever the wasm backend is selected (backend.ts), for
 * training and serving alike: a SIMD BatchMatMul for batched and A B^T products (matmul.ts),
 * a row-copying GatherV2 (gather.ts), and Slice / SplitV that copy only what they return
 * (slice.ts). Each equals the stock kernel's result (bit for bit, or within float32 rounding for
 * the products: test/unit/training/wasm/). ENTROPO_WASM_KERNELS=stock keeps tfjs-wasm's own
 * kernels (to compare, e.g. `ENTROPO_WASM_KERNELS=stock npm run bench:serve`).
 */
import { installWasmGather } from './gather.ts';
import { installWasmMatMul } from './matmul.ts';
import { installWasmSlice } from './slice.ts';

/** The environment variable that keeps the stock kernels (value `stock`). */
export const WASM_KERNELS_ENV = 'ENTROPO_WASM_KERNELS';

/**
 * Which kernels ENTROPO_WASM_KERNELS asks for: `simd` (unset, empty or simd) or `stock`. Any
 * other value is an error naming the variable.
 */
export function wasmKernelMode(env: NodeJS.ProcessEnv = process.env): 'simd' | 'stock' {
  const mode = (env[WASM_KERNELS_ENV] ?? '').trim().toLowerCase();
  if (mode === '' || mode === 'simd') return 'simd';
  if (mode === 'stock') return 'stock';
  throw new Error(`${WASM_KERNELS_ENV}=${JSON.stringify(env[WASM_KERNELS_ENV])}: expected simd (the default) or stock`);
}

/**
 * Installs the kernels on the active wasm backend (idempotent); returns the names in place
 * ([] when the backend is not wasm or ENTROPO_WASM_KERNELS=stock). Throws as wasmKernelMode.
 */
export function installWasmKernels(env: NodeJS.ProcessEnv = process.env): string[] {
  if (wasmKernelMode(env) === 'stock') return [];
  const out: string[] = [];
  if (installWasmSlice()) out.push('Slice', 'SplitV');
  if (installWasmGather()) out.push('GatherV2');
  if (installWasmMatMul()) out.push('BatchMatMul');
  return out;
}
