import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { stockWasm } from '../../../helpers/stock-wasm.ts';
import { installWasmSlice } from '../../../../operator/training/wasm/slice.ts';
import { Rng } from '../../../../operator/training/rng.ts';

test('installWasmSlice: every slice (contiguous or not, ranks 1-5, float32 / int32 / bool) equals the stock kernel\'s, bit for bit', async (t) => {
  await stockWasm();
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

test('installWasmSlice: every split (sizes or a count, any axis, ranks 1-4, float32 / int32 / bool) equals the stock SplitV\'s, bit for bit', async (t) => {
  await stockWasm();
  const rng = new Rng(5);
  const int = (n: number) => Math.floor(rng.next() * n);
  const cases: { x: tf.Tensor; splits: number | number[]; axis: number }[] = [];
  for (let i = 0; i < 150; i++) {
    const rank = 1 + int(4);
    const shape = Array.from({ length: rank }, () => 1 + int(6));
    const axis = int(rank);
    const d = shape[axis];
    let splits: number | number[];
    if (rng.next() < 0.4) {
      const divisors = Array.from({ length: d }, (_, k) => k + 1).filter((k) => d % k === 0);
      splits = divisors[int(divisors.length)];
    } else {
      const parts: number[] = [];
      for (let left = d; left > 0; ) {
        const p = 1 + int(left);
        parts.push(p);
        left -= p;
      }
      // -1: the rest (not first: tfjs's prepareSplitSize miscounts a leading -1)
      if (rng.next() < 0.3 && parts.length > 1) parts[1 + int(parts.length - 1)] = -1;
      splits = parts;
    }
    const dtype = (['float32', 'int32', 'bool'] as const)[int(3)];
    const n = shape.reduce((a, b) => a * b, 1);
    cases.push({ x: tf.tensor(Array.from({ length: n }, () => (dtype === 'bool' ? int(2) : int(1000) - 500)), shape, dtype), splits, axis });
  }
  // a copy of the sizes per call: prepareSplitSize writes the -1's value into the array
  const sizes = (c: (typeof cases)[number]) => (typeof c.splits === 'number' ? c.splits : [...c.splits]);
  const stock = cases.map((c) => tf.split(c.x, sizes(c), c.axis));
  t.true(installWasmSlice());
  for (const [i, c] of cases.entries()) {
    const got = tf.split(c.x, sizes(c), c.axis);
    t.is(got.length, stock[i].length, `case ${i} parts`);
    for (const [k, g] of got.entries()) {
      t.deepEqual(g.shape, stock[i][k].shape, `case ${i} part ${k} shape`);
      t.is(g.dtype, stock[i][k].dtype);
      t.deepEqual(Array.from(g.dataSync()), Array.from(stock[i][k].dataSync()), `case ${i} part ${k}: ${JSON.stringify({ shape: c.x.shape, splits: c.splits, axis: c.axis })}`);
    }
    tf.dispose(got);
  }
  tf.dispose([...stock.flat(), ...cases.map((c) => c.x)]);
});
