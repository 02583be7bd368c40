/**
 * Small tensor ops written so that their gradients exist on every backend: the wasm backend has
 * no UnsortedSegmentSum (gather's gradient) and no LogSoftmax kernel, so embedding lookup and
 * target picking carry custom gradients built from matMul / oneHot / mul.
 * (tf.customGrad disposes the forward's intermediates and closure tensors are not kept for the
 * backward pass, so integer inputs are passed as inputs and saved.)
 */
import * as tf from '@tensorflow/tfjs';
import { hasKernel } from './backend.ts';

type Args = (tf.Tensor | tf.GradSaveFunc)[];

/** Rows of `table` [V, D] at `ids` (int32 [N]) -> [N, D]; gradient without UnsortedSegmentSum where missing. */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const V = table.shape[0];
  const f = tf.customGrad((...args: Args) => {
    const [t, i, save] = args as [tf.Tensor, tf.Tensor1D, tf.GradSaveFunc];
    save([i]);
    return {
      value: tf.gather(t, i),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const idx = saved[0] as tf.Tensor1D;
        const dTable = hasKernel('UnsortedSegmentSum')
          ? tf.unsortedSegmentSum(dy, idx, V)
          : tf.matMul(tf.cast(tf.oneHot(idx, V), 'float32') as tf.Tensor2D, dy as tf.Tensor2D, true, false);
        return [dTable, tf.zerosLike(idx)];
      },
    };
  });
  return f(table, ids) as tf.Tensor2D;
}

/** Value of x, gradient zero (tfjs has no stop_gradient op). */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: Args) => ({ value: tf.clone(args[0] as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));
  return f(x) as T;
}

/** log softmax over the last axis, from primitive ops (x - max - log sum exp(x - max)). */
export function logSoftmax(x: tf.Tensor): tf.Tensor {
  // The max is a shift that cancels analytically; treat it as a constant.
  const shifted = tf.sub(x, stopGradient(tf.max(x, -1, true)));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
}

/** x[i, targets[i]] for x [N, V] -> [N]; gradient oneHot(targets) * dy (no gather gradient needed). */
export function pickTargets(x: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const V = x.shape[1];
  const f = tf.customGrad((...args: Args) => {
    const [t, i, save] = args as [tf.Tensor, tf.Tensor1D, tf.GradSaveFunc];
    save([i]);
    return {
      value: tf.sum(tf.mul(t, tf.cast(tf.oneHot(i, V), 'float32')), -1),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.mul(tf.cast(tf.oneHot(saved[0] as tf.Tensor1D, V), 'float32'), tf.expandDims(dy, -1)),
        tf.zerosLike(saved[0]),
      ],
    };
  });
  return f(x, targets) as tf.Tensor1D;
}
