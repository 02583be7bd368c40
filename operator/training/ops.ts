/**
 * Small tensor ops written so that their gradients exist on every backend: the wasm backend has
 * no UnsortedSegmentSum (gather's gradient) and no LogSoftmax kernel, so embedding lookup and
 * target picking carry custom gradients built from matMul / oneHot / mul.
 */
import * as tf from '@tensorflow/tfjs';
import { hasKernel } from './backend.ts';

/** Rows of `table` [V, D] at `ids` (int32 [N]) -> [N, D]; gradient without UnsortedSegmentSum where missing. */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const V = table.shape[0];
  const f = tf.customGrad((t: tf.Tensor) => ({
    value: tf.gather(t, ids) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor) =>
      hasKernel('UnsortedSegmentSum')
        ? tf.unsortedSegmentSum(dy, ids, V)
        : tf.matMul(tf.oneHot(ids, V, 1, 0, 'float32'), dy as tf.Tensor2D, true, false),
  }));
  return f(table) as tf.Tensor2D;
}

/** log softmax over the last axis, from primitive ops (x - max - log sum exp(x - max)). */
export function logSoftmax(x: tf.Tensor): tf.Tensor {
  const m = tf.max(x, -1, true);
  // The max is a shift that cancels analytically; treat it as a constant.
  const shifted = tf.sub(x, stopGradient(m));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
}

/** Value of x, gradient zero (tfjs has no stop_gradient op). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((t: tf.Tensor) => ({ value: tf.clone(t), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));
  return f(x) as T;
}

/** x[i, targets[i]] for x [N, V] -> [N]; gradient oneHot(targets) * dy (no gather gradient needed). */
export function pickTargets(x: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const V = x.shape[1];
  const f = tf.customGrad((t: tf.Tensor) => {
    const oh = tf.oneHot(targets, V, 1, 0, 'float32');
    return {
      value: tf.sum(tf.mul(t, oh), -1) as tf.Tensor1D,
      gradFunc: (dy: tf.Tensor) => tf.mul(oh, tf.expandDims(dy, -1)),
    };
  });
  return f(x) as tf.Tensor1D;
}
