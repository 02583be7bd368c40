import test from 'ava';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { compileWat } from '../../../../scripts/wasm-compile.ts';
import { stockWasm } from '../../../helpers/stock-wasm.ts';
import { installWasmMatMul, planMatMul } from '../../../../operator/training/wasm/matmul.ts';
import { WASM_BASE64 } from '../../../../operator/training/wasm/matmul-module.ts';
import { Rng } from '../../../../operator/training/rng.ts';

test('the checked-in module is the compiled matmul.wat (run `npm run build:wasm` after editing it)', async (t) => {
  const wat = readFileSync(new URL('../../../../operator/training/wasm/matmul.wat', import.meta.url), 'utf8');
  const bytes = await compileWat(wat, 'matmul.wat');
  t.is(Buffer.from(bytes).toString('base64'), WASM_BASE64);
});

test('planMatMul: the SIMD kernel takes batched, A B^T and A^T B products; the stock kernel keeps both transposed, single A B, odd broadcasts', (t) => {
  t.like(planMatMul([4, 2, 2, 32], [4, 2, 220, 32], false, true), { batch: 8, M: 2, N: 220, K: 32, aStride: 64, bStride: 220 * 32, outShape: [4, 2, 2, 220] });
  t.like(planMatMul([4, 2, 2, 220], [4, 2, 220, 32], false, false), { batch: 8, M: 2, N: 32, K: 220, aStride: 440, bStride: 220 * 32, outShape: [4, 2, 2, 32] });
  // broadcast of a whole operand (stride 0), as the stock kernel allows
  t.like(planMatMul([3, 5, 7], [7, 9], false, false), { batch: 3, aStride: 35, bStride: 0, outShape: [3, 5, 9] });
  t.like(planMatMul([5, 7], [2, 3, 9, 7], false, true), { batch: 6, aStride: 0, bStride: 63, outShape: [2, 3, 5, 9] });
  // a single A B^T (e.g. logits against tied embeddings): the stock kernel's scalar loop, so ours
  t.like(planMatMul([5, 128], [1000, 128], false, true), { batch: 1, M: 5, N: 1000, K: 128 });
  t.is(planMatMul([5, 128], [128, 1000], false, false), undefined, 'single A B: XNNPACK');
  t.is(planMatMul([1, 5, 128], [1, 128, 1000], false, false), undefined, 'batch of one A B: XNNPACK');
  t.like(planMatMul([3, 7, 5], [3, 7, 9], true, false), { batch: 3, M: 5, N: 9, K: 7, aStride: 35, outShape: [3, 5, 9] }, 'transposed A (a gradient)');
  t.like(planMatMul([7, 5], [7, 9], true, false), { batch: 1, M: 5, N: 9, K: 7 }, 'a single Aᵀ B');
  t.is(planMatMul([3, 7, 5], [3, 9, 7], true, true), undefined, 'both transposed');
  t.is(planMatMul([2, 5, 7], [3, 7, 9], false, false), undefined, 'batches 2 and 3');
  t.is(planMatMul([2, 0, 7], [2, 7, 9], false, false), undefined, 'empty');
  t.throws(() => planMatMul([2, 5, 7], [2, 8, 9], false, false), { message: /inner dimensions 7 and 8/ });
});

test('installWasmMatMul: products and their gradients equal the stock kernel\'s within float32 rounding (ranks 2-5, odd sizes, broadcasts, A Bᵀ / A B / Aᵀ B)', async (t) => {
  await stockWasm();
  t.is(tf.getBackend(), 'wasm');
  const rng = new Rng(7);
  const int = (lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo + 1));
  const rand = (shape: number[]) => tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1), shape);
  interface Case { a: tf.Tensor; b: tf.Tensor; tA: boolean; tB: boolean }
  const cases: Case[] = [];
  for (let i = 0; i < 120; i++) {
    const M = int(1, 9), N = int(1, 37), K = int(1, 37);
    const tB = rng.next() < 0.5;
    const tA = rng.next() < 0.15;
    const outer = Array.from({ length: int(0, 3) }, () => int(1, 3));
    const bcast = rng.next();
    const aOuter = bcast < 0.2 ? [] : outer;
    const bOuter = bcast > 0.8 ? [] : outer;
    const a = rand([...aOuter, ...(tA ? [K, M] : [M, K])]);
    const b = rand([...bOuter, ...(tB ? [N, K] : [K, N])]);
    cases.push({ a, b, tA, tB });
  }
  // attention-sized products (the decode step and a prefill)
  cases.push({ a: rand([4, 2, 2, 32]), b: rand([4, 2, 220, 32]), tA: false, tB: true });
  cases.push({ a: rand([4, 2, 2, 220]), b: rand([4, 2, 220, 32]), tA: false, tB: false });
  cases.push({ a: rand([2, 2, 90, 183]), b: rand([2, 2, 183, 32]), tA: false, tB: false });
  const product = (c: Case) => tf.matMul(c.a, c.b, c.tA, c.tB);
  // Gradients where no operand is broadcast (tfjs's BatchMatMul gradient does not reduce a
  // broadcast batch: it fails on the stock kernel too).
  const sameOuter = (c: Case) => c.a.rank === c.b.rank;
  const grads = (c: Case) => !sameOuter(c) ? [] : tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, c.tA, c.tB), tf.range(0, product(c).size).reshape(product(c).shape).mul(0.01))))([c.a, c.b]);
  const stock = cases.map((c) => [product(c), ...grads(c)]);
  t.true(installWasmMatMul());
  t.true(installWasmMatMul(), 'idempotent');
  let simd = 0;
  for (const [i, c] of cases.entries()) {
    if (planMatMul(c.a.shape, c.b.shape, c.tA, c.tB)) simd++;
    const got = [product(c), ...grads(c)];
    for (const [j, g] of got.entries()) {
      const want = stock[i][j];
      t.deepEqual(g.shape, want.shape, `case ${i} output ${j} shape`);
      const x = g.dataSync();
      const y = want.dataSync();
      // Error relative to the output's largest magnitude: sums with cancellation round to a
      // small result whose own relative error says nothing (float32 epsilon is 6e-8).
      let worst = 0;
      let scale = 1;
      for (let k = 0; k < x.length; k++) scale = Math.max(scale, Math.abs(y[k]));
      for (let k = 0; k < x.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]) / scale);
      t.true(worst < 1e-5, `case ${i} output ${j} (a [${c.a.shape}] b [${c.b.shape}] tA ${c.tA} tB ${c.tB}): error ${worst} of the largest magnitude ${scale}`);
    }
    tf.dispose(got);
  }
  t.true(simd > 60, `${simd} of ${cases.length} products ran in the SIMD kernel`);
  // a product whose output grows the heap still reads its operands right
  const big = tf.matMul(tf.ones([1, 8, 64]), tf.ones([1, 300_000, 64]), false, true);
  t.deepEqual(Array.from(tf.max(big).dataSync()), [64]);
  t.deepEqual(Array.from(tf.min(big).dataSync()), [64]);
  tf.dispose([big, ...stock.flat(), ...cases.flatMap((c) => [c.a, c.b])]);
});
