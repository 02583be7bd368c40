/**
 * A Slice kernel for tfjs-wasm that copies only what it returns. The stock kernel
 * (@tensorflow/tfjs-backend-wasm 4.22, kernels/Slice.js) starts with backend.readSync(x), a copy
 * of the WHOLE input out of the wasm heap, so cutting a tensor into k parts copies it k times:
 * serving cuts caches and per-head attention operands out of large tensors every step (measured:
 * 16 slices of a [16, 304, 183] tensor 7-35 ms, against 0.2 ms for one elementwise op over it).
 * This kernel reads the input through a view of the heap instead and copies the selected runs
 * along the last axis. Same values, bit for bit (a copy either way); string tensors go to the
 * stock kernel. SplitV (RoPE's rotate-half cuts q and k in two every layer) gets the same
 * treatment: the stock one calls the stock Slice once per part. Unpack keeps the stock path.
 */
import * as tf from '@tensorflow/tfjs';
import { replaceWasmKernel } from './replace.ts';

let installed = false;

/**
 * Replaces the wasm backend's Slice and SplitV kernels with copy-what-you-return ones (idempotent).
 * Returns whether they are in place: false when the active backend is not wasm.
 */
export function installWasmSlice(): boolean {
  if (installed) return true;
  installed = replaceWasmKernel('Slice', (args, stock) => {
    const x = args.inputs.x;
    if (x.dtype === 'string') return stock(args);
    const attrs = args.attrs as { begin: number | number[]; size?: number | number[] };
    const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size);
    const out = args.backend.makeOutput(size, x.dtype);
    // Views taken after makeOutput: an allocation that grows the heap detaches older views.
    copySlice(args.backend.typedArrayFromHeap(x), x.shape, begin, size, args.backend.typedArrayFromHeap(out));
    return out;
  });
  if (installed) {
    replaceWasmKernel('SplitV', (args, stock) => {
      const x = args.inputs.x;
      if (x.dtype === 'string') return stock(args);
      const attrs = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
      const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0];
      const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis);
      const begin = x.shape.map(() => 0);
      return sizes.map((n) => {
        const size = [...x.shape];
        size[axis] = n;
        const out = args.backend.makeOutput(size, x.dtype);
        copySlice(args.backend.typedArrayFromHeap(x), x.shape, begin, size, args.backend.typedArrayFromHeap(out));
        begin[axis] += n;
        return out;
      });
    });
  }
  return installed;
}

/**
 * Copies the box begin..begin+size of `src` (row-major, shape `shape`) into `dst` (row-major,
 * shape `size`), one contiguous run along the last axis at a time (the whole box at once when it
 * is contiguous in src).
 */
export function copySlice(src: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }, shape: number[], begin: number[], size: number[], dst: { set(a: ArrayLike<number>, offset?: number): void }): void {
  const rank = shape.length;
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  if (rank === 0) {
    dst.set(src.subarray(0, 1));
    return;
  }
  const strides = tf.util.computeStrides(shape);
  if (tf.slice_util.isSliceContinous(shape, begin, size)) {
    const at = tf.slice_util.computeFlatOffset(begin, strides);
    dst.set(src.subarray(at, at + total));
    return;
  }
  const run = size[rank - 1];
  const outer = total / run;
  const idx = new Array<number>(rank - 1).fill(0);
  for (let o = 0; o < outer; o++) {
    let at = begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) at += (begin[d] + idx[d]) * strides[d];
    dst.set(src.subarray(at, at + run), o * run);
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}
