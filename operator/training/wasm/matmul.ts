/**
 * A BatchMatMul kernel for tfjs-wasm that runs batched products with 128-bit SIMD.
 *
 * The stock kernel (@tensorflow/tfjs-backend-wasm 4.22, cc/kernels/BatchMatMul.cc) hands a product
 * to XNNPACK only when it is a single matrix (batch 1) with neither operand transposed; everything
 * else (every attention product: Q K^T [B*KV, n*T, hd] x [B*KV, C, hd]^T and P V) runs a scalar
 * triple loop at about 1.6 GFLOP/s here. In continuous batching that loop is the part of a decode
 * step that grows with the batch (measured on the bench model, KV cache ~220 columns: 0.08 ms of
 * attention products per step at 1 row, 0.29 ms at 4, 0.56 ms at 8).
 *
 * This kernel takes A B^T (`transposeB`), A B and A^T B (`transposeA`: the gradients of the
 * keys and values) over a batch (either operand may be broadcast, as the stock kernel allows),
 * and computes them in a small hand-written WebAssembly module (matmul.wat) that imports the
 * tfjs-wasm module's memory: it reads both operands and writes the result where they are, on the
 * tfjs heap, with no copy (an offset outside the heap traps; it cannot write elsewhere).
 * Everything else goes to the stock kernel: both operands transposed, a single A B product
 * (XNNPACK, whose packed weights are cached per tensor), non-float32 input, empty shapes.
 * The sums are the same products added in another order (4 lanes, then the lanes), so results
 * equal the stock kernel's up to float32 rounding (test/unit/training/wasm/matmul.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { WASM_BASE64 } from './matmul-module.ts';
import { replaceWasmKernel } from './replace.ts';

/**
 * The WebAssembly JS API, typed here (the project compiles without the DOM library, and
 * @types/node 20 does not declare it).
 */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The module's exports: pointers and batch strides in bytes (stride 0: broadcast). */
interface MatMulExports {
  /** out[t,i,j] = sum_k a[t,i,k] b[t,j,k] (A [M,K], B [N,K]). */
  mm_nt(a: number, b: number, out: number, batch: number, M: number, N: number, K: number, aStride: number, bStride: number): void;
  /** out[t,i,j] = sum_k A[t,i,k] b[t,k,j] (B [K,N]); A's (i, k) at a + t*aStride + i*aRow + k*aCol bytes. */
  mm_xn(a: number, b: number, out: number, batch: number, M: number, N: number, K: number, aStride: number, bStride: number, aRow: number, aCol: number): void;
}

let installed = false;

/**
 * Replaces the wasm backend's BatchMatMul kernel with the SIMD one for batched and transposed
 * products (idempotent). Returns whether it is in place: false when the active backend is not
 * wasm or the runtime lacks WebAssembly SIMD.
 */
export function installWasmMatMul(): boolean {
  if (installed) return true;
  if (tf.getBackend() !== 'wasm') return false;
  const bytes = Buffer.from(WASM_BASE64, 'base64');
  if (!WebAssemblyApi.validate(bytes)) return false;
  let mm: MatMulExports | undefined;
  installed = replaceWasmKernel('BatchMatMul', (args, stock) => {
    const { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const plan = planMatMul(a.shape, b.shape, transposeA, transposeB);
    if (!plan || a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const be = args.backend;
    // The module reads and writes the tfjs heap itself: it imports the tfjs module's memory.
    mm ??= new WebAssemblyApi.Instance(new WebAssemblyApi.Module(bytes), { env: { memory: be.wasm.asm.memory } }).exports as unknown as MatMulExports;
    const out = be.makeOutput(plan.outShape, 'float32');
    // Offsets read after makeOutput (an allocation may grow the heap; offsets stay valid).
    const at = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId)!.memoryOffset;
    const { batch, M, N, K, aStride, bStride } = plan;
    if (transposeB) mm.mm_nt(at(a), at(b), at(out), batch, M, N, K, aStride * 4, bStride * 4);
    else if (transposeA) mm.mm_xn(at(a), at(b), at(out), batch, M, N, K, aStride * 4, bStride * 4, 4, M * 4);
    else mm.mm_xn(at(a), at(b), at(out), batch, M, N, K, aStride * 4, bStride * 4, K * 4, 4);
    return out;
  });
  return installed;
}

/** How a product runs in the SIMD kernel: sizes, strides in elements, the output shape. */
export interface MatMulPlan {
  batch: number;
  M: number;
  N: number;
  K: number;
  /** Elements between consecutive batch matrices of A (0: broadcast). */
  aStride: number;
  bStride: number;
  outShape: number[];
}

/**
 * Whether the SIMD kernel takes a product of `a` ([..., M, K], or [..., K, M] with transposeA)
 * and `b` ([..., N, K] with transposeB, else [..., K, N]) and how; undefined when the stock kernel
 * keeps it: both transposed, a single A B product (XNNPACK), an empty operand, or batch
 * dimensions that broadcast other than whole-operand (the stock kernel's own rule: the batch
 * sizes are equal or one is 1). Throws like tf.matMul on inner dimensions that do not match.
 */
export function planMatMul(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): MatMulPlan | undefined {
  if ((transposeA && transposeB) || aShape.length < 2 || bShape.length < 2) return undefined;
  const M = transposeA ? aShape[aShape.length - 1] : aShape[aShape.length - 2];
  const K = transposeA ? aShape[aShape.length - 2] : aShape[aShape.length - 1];
  const N = transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
  const Kb = transposeB ? bShape[bShape.length - 1] : bShape[bShape.length - 2];
  if (K !== Kb) throw new Error(`matMul: inner dimensions ${K} and ${Kb} of shapes [${aShape}] and [${bShape}] (transposeB=${transposeB}) must match`);
  const aOuter = aShape.slice(0, -2);
  const bOuter = bShape.slice(0, -2);
  const batchA = aOuter.reduce((x, y) => x * y, 1);
  const batchB = bOuter.reduce((x, y) => x * y, 1);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  const batch = Math.max(batchA, batchB);
  if (!transposeA && !transposeB && batch === 1) return undefined;
  if (M * N * K === 0) return undefined;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(aOuter, bOuter);
  return { batch, M, N, K, aStride: batchA === 1 ? 0 : M * K, bStride: batchB === 1 ? 0 : N * K, outShape: [...outer, M, N] };
}
