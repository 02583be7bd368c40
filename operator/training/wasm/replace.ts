/**
 * Replacing one of tfjs-wasm's kernels with our own while keeping the stock one as the fallback
 * for what ours does not take (the kernels of this folder: Slice, SplitV, GatherV2, BatchMatMul).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The parts of tfjs-wasm's BackendWasm (@tensorflow/tfjs-backend-wasm 4.22, backend_wasm.ts) our
 * kernels use: outputs are allocated on the wasm heap and read or written through views of it.
 */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  /** A view of a tensor's bytes on the heap; an allocation that grows the heap detaches older views. */
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  /** Where each tensor lives on the heap (byte offset). */
  dataIdMap: { get(id: object): { memoryOffset: number } | undefined };
  /** The Emscripten module; asm.memory is its WebAssembly.Memory (the tfjs heap). */
  wasm: { asm: { memory: unknown } };
}

/** A kernel's arguments, with the backend typed as the wasm backend. */
export interface WasmKernelArgs {
  inputs: Record<string, tf.TensorInfo>;
  attrs: Record<string, unknown>;
  backend: WasmBackend;
}

/** A kernel's result: one tensor, or several (SplitV). */
export type WasmKernelResult = tf.TensorInfo | tf.TensorInfo[];

/** Our kernel: a result, or `stock(args)` for a case it leaves to the stock kernel. */
export type WasmKernelImpl = (args: WasmKernelArgs, stock: (args: WasmKernelArgs) => WasmKernelResult) => WasmKernelResult;

/**
 * Registers `impl` as the wasm backend's kernel `name`, in place of the stock one (which `impl`
 * receives for the cases it does not take). Returns false, changing nothing, when the active
 * backend is not wasm or tfjs-wasm has no kernel of that name.
 */
export function replaceWasmKernel(name: string, impl: WasmKernelImpl): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const stock = tf.getKernel(name, 'wasm');
  if (!stock) return false;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: (args) => impl(args as unknown as WasmKernelArgs, (a) => stock.kernelFunc(a as unknown as Parameters<tf.KernelFunc>[0])),
  });
  return true;
}
