/** The wasm backend with tfjs-wasm's own kernels (ENTROPO_WASM_KERNELS=stock), for tests that compare ours with them. */
import * as tf from '@tensorflow/tfjs';
import { Registry } from 'prom-client';
import { selectBackend } from '../../operator/training/backend.ts';
import { WASM_KERNELS_ENV } from '../../operator/training/wasm/kernels.ts';

export async function stockWasm(): Promise<void> {
  process.env[WASM_KERNELS_ENV] = 'stock';
  await selectBackend('Wasm', new Registry());
  if (tf.getBackend() !== 'wasm') throw new Error(`expected the wasm backend, got ${tf.getBackend()}`);
}
