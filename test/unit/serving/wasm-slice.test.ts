import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { Registry } from 'prom-client';
import { selectBackend } from '../../../operator/training/backend.ts';
import { installWasmSlice } from '../../../operator/serving/wasm-slice.ts';
import { Rng } from '../../../operator/training/rng.ts';

test('installWasmSlice: every slice (contiguous or not, ranks 1-5, float32 / int32 / bool) equals the stock kernel\'s, bit for bit', async (t) => {
  await selectBackend('Wasm', new Registry());
  t.is(tf.getBackend(), 'wasm');
  const rng = new Rng(4);
  const int = (n: number) => Math.floor(rng.next() * n);
  const cases: { x: tf.Tensor; begin: number[]; size: number[] }[] = [];
  for (let i = 0; i < 300; i++) {
    const rank = 1 + int(5);
    const shape = Array.from({ length: rank }, () => 1 + int(6));
    const begin = shape.map((d) => int(d));
    // -1 (to the end) now and then, and empty boxes
    const size = shape.map((d, k) => (rng.next() < 0.2 ? -1 : int(d - begin[k] + 1)));
    const dtype = (['float32', 'int32', 'bool'] as const)[int(3)];
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (dtype === 'bool' ? int(2) : dtype === 'int32' ? int(1000) - 500 : rng.next() * 10 - 5));
    cases.push({ x: tf.tensor(values, shape, dtype), begin, size });
  }
  const stock = cases.map((c) => tf.slice(c.x, c.begin, c.size));
  t.true(installWasmSlice());
  t.true(installWasmSlice(), 'idempotent');
  for (const [i, c] of cases.entries()) {
    const got = tf.slice(c.x, c.begin, c.size);
    t.deepEqual(got.shape, stock[i].shape, `case ${i} shape`);
    t.is(got.dtype, stock[i].dtype);
    t.deepEqual(Array.from(got.dataSync()), Array.from(stock[i].dataSync()), `case ${i}: ${JSON.stringify(c)}`);
    got.dispose();
  }
  // A reshaped view (shared data) and a scalar slice of a large tensor.
  const big = tf.range(0, 4 * 300 * 32).reshape([4, 300, 32]);
  const cut = tf.slice(tf.reshape(big, [2, 2, 300, 32]), [1, 0, 299, 0], [1, 2, 1, 32]);
  t.deepEqual(Array.from(cut.dataSync()), [...Array.from({ length: 32 }, (_, j) => (2 * 300 + 299) * 32 + j), ...Array.from({ length: 32 }, (_, j) => (3 * 300 + 299) * 32 + j)]);
  tf.dispose([...cases.map((c) => c.x), ...stock, big, cut]);
});
