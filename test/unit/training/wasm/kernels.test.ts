import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers the stock kernels before the selection
import { Registry } from 'prom-client';
import { selectBackend } from '../../../../operator/training/backend.ts';
import { installWasmKernels, wasmKernelMode, WASM_KERNELS_ENV } from '../../../../operator/training/wasm/kernels.ts';

test('wasmKernelMode: simd unless ENTROPO_WASM_KERNELS=stock; another value is an error naming the variable', (t) => {
  t.is(wasmKernelMode({}), 'simd');
  t.is(wasmKernelMode({ [WASM_KERNELS_ENV]: '' }), 'simd');
  t.is(wasmKernelMode({ [WASM_KERNELS_ENV]: ' SIMD ' }), 'simd');
  t.is(wasmKernelMode({ [WASM_KERNELS_ENV]: 'Stock' }), 'stock');
  t.throws(() => wasmKernelMode({ [WASM_KERNELS_ENV]: 'fast' }), { message: 'ENTROPO_WASM_KERNELS="fast": expected simd (the default) or stock' });
});

test('selecting the wasm backend installs the kernels (a bad ENTROPO_WASM_KERNELS fails the selection instead of falling through to cpu)', async (t) => {
  process.env[WASM_KERNELS_ENV] = 'fast';
  await t.throwsAsync(selectBackend('Auto', new Registry()), { message: /ENTROPO_WASM_KERNELS="fast"/ });
  delete process.env[WASM_KERNELS_ENV];
  const stockMatMul = tf.getKernel('BatchMatMul', 'wasm');
  t.truthy(stockMatMul);
  await selectBackend('Wasm', new Registry());
  t.is(tf.getBackend(), 'wasm');
  t.not(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, stockMatMul?.kernelFunc, 'BatchMatMul replaced');
  // idempotent: a second call keeps the same kernels in place
  const ours = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
  t.deepEqual(installWasmKernels({}), ['Slice', 'SplitV', 'GatherV2', 'BatchMatMul']);
  t.is(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, ours);
  t.deepEqual(installWasmKernels({ [WASM_KERNELS_ENV]: 'stock' }), []);
  // a product in the SIMD kernel, end to end
  const y = tf.matMul(tf.ones([2, 3, 5]), tf.ones([2, 4, 5]), false, true);
  t.deepEqual(Array.from(y.dataSync()), new Array(24).fill(5));
});
