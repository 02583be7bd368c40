import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { stockWasm } from '../../../helpers/stock-wasm.ts';
import { gatherRows, installWasmGather } from '../../../../operator/training/wasm/gather.ts';
import { Rng } from '../../../../operator/training/rng.ts';

test('installWasmGather: every gather (axes 0 and others, ranks 1-4, float32 / int32 / bool, repeated and empty indices) equals the stock kernel\'s, bit for bit', async (t) => {
  await stockWasm();
  t.is(tf.getBackend(), 'wasm');
  const rng = new Rng(11);
  const int = (n: number) => Math.floor(rng.next() * n);
  const cases: { x: tf.Tensor; idx: tf.Tensor; axis: number }[] = [];
  for (let i = 0; i < 200; i++) {
    const rank = 1 + int(4);
    const shape = Array.from({ length: rank }, () => 1 + int(6));
    const axis = rng.next() < 0.7 ? 0 : int(rank);
    const dtype = (['float32', 'int32', 'bool'] as const)[int(3)];
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (dtype === 'bool' ? int(2) : dtype === 'int32' ? int(1000) - 500 : rng.next() * 10 - 5));
    const idxShape = rng.next() < 0.3 ? [int(3), 1 + int(3)] : [int(8)];
    const idx = tf.tensor(Array.from({ length: idxShape.reduce((a, b) => a * b, 1) }, () => int(shape[axis])), idxShape, 'int32');
    cases.push({ x: tf.tensor(values, shape, dtype), idx, axis });
  }
  const stock = cases.map((c) => tf.gather(c.x, c.idx, c.axis));
  t.true(installWasmGather());
  t.true(installWasmGather(), 'idempotent');
  for (const [i, c] of cases.entries()) {
    const got = tf.gather(c.x, c.idx, c.axis);
    t.deepEqual(got.shape, stock[i].shape, `case ${i} shape`);
    t.is(got.dtype, stock[i].dtype);
    t.deepEqual(Array.from(got.dataSync()), Array.from(stock[i].dataSync()), `case ${i}`);
    got.dispose();
  }
  // an embedding lookup, and an index outside the table
  const table = tf.range(0, 1024 * 8).reshape([1024, 8]);
  t.deepEqual(Array.from(tf.gather(table, tf.tensor1d([1023, 0, 1023], 'int32')).dataSync()), [...Array.from({ length: 8 }, (_, j) => 1023 * 8 + j), ...Array.from({ length: 8 }, (_, j) => j), ...Array.from({ length: 8 }, (_, j) => 1023 * 8 + j)]);
  t.throws(() => tf.gather(table, tf.tensor1d([3, 1024], 'int32')), { message: /index value 1024 is not in \[0, 1023\]/ });
  t.throws(() => tf.gather(table, tf.tensor1d([-1], 'int32')), { message: /index value -1/ });
  tf.dispose([table, ...stock, ...cases.flatMap((c) => [c.x, c.idx])]);
});

test('gatherRows copies whole rows in index order', (t) => {
  const src = Float32Array.from({ length: 12 }, (_, i) => i);
  const dst = new Float32Array(9);
  gatherRows(src, 4, 3, [3, 0, 3], dst);
  t.deepEqual(Array.from(dst), [9, 10, 11, 0, 1, 2, 9, 10, 11]);
  t.throws(() => gatherRows(src, 4, 3, [4], dst), { instanceOf: RangeError, message: /index value 4 is not in \[0, 3\]/ });
});
