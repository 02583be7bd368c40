/**
 * The objectives of docs/method.md sections 2-5 as pure functions of per-trajectory log-probability
 * sums (tensors, so gradients flow). zeta = gamma reduces EntroPO-DPO / EntroPO-KTO to the
 * M-DPO / M-KTO baselines.
 */
import * as tf from '@tensorflow/tfjs';

export interface Temperatures {
  zeta: number;
  gamma: number;
}

/** SFT: masked cross-entropy, mean over assistant tokens: -sum logp / sum tokens. */
export function sftLoss(logp: tf.Tensor1D, counts: number[]): tf.Scalar {
  const n = counts.reduce((a, b) => a + b, 0);
  if (n === 0) throw new Error('sftLoss: no assistant tokens in the batch');
  return tf.div(tf.neg(tf.sum(logp)), n) as tf.Scalar;
}

/**
 * rho_theta(tau) = log pi_theta(tau) - (gamma/zeta) log pi_ref(tau)   (Eq. 10), computed as
 * (lp - lpref) + (1 - gamma/zeta) lpref: at |log pi| ~ 5000 the direct form loses float32
 * precision (two large, nearly cancelling terms); this one subtracts the close values first.
 */
export function implicitReward(logp: tf.Tensor1D, refLogp: tf.Tensor1D, t: Temperatures): tf.Tensor1D {
  return tf.add(tf.sub(logp, refLogp), tf.mul(refLogp, 1 - t.gamma / t.zeta)) as tf.Tensor1D;
}

/** log sigmoid(x) = -softplus(-x), stable for large |x|. */
function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.neg(tf.softplus(tf.neg(x)));
}

export interface DpoInputs {
  chosen: tf.Tensor1D;
  rejected: tf.Tensor1D;
  refChosen: tf.Tensor1D;
  refRejected: tf.Tensor1D;
}

/**
 * EntroPO-DPO (Eq. 7): L = -log sigmoid( zeta*(lp+ - lp-) - gamma*(lpref+ - lpref-) )
 *                        = -log sigmoid( zeta * (rho(tau+) - rho(tau-)) ), mean over pairs,
 * computed from the stable form of rho (see implicitReward).
 * margins: rho(tau+) - rho(tau-) per pair.
 */
export function dpoLoss(x: DpoInputs, t: Temperatures): { loss: tf.Scalar; margins: tf.Tensor1D } {
  const margins = tf.sub(implicitReward(x.chosen, x.refChosen, t), implicitReward(x.rejected, x.refRejected, t)) as tf.Tensor1D;
  const loss = tf.mean(tf.neg(logSigmoid(tf.mul(margins, t.zeta)))) as tf.Scalar;
  return { loss, margins };
}

/** z0 estimate: the values of spec.preference.kto.referencePoint. */
export type ReferencePointMode = 'Exact' | 'AuthorsKL' | 'TRLKL';

export interface KtoOptions extends Temperatures {
  desirableWeight: number;
  undesirableWeight: number;
  mode: ReferencePointMode;
}

/**
 * EntroPO-KTO (Eqs. 11-12), z0 a constant:
 *   Exact:      u = rho (Eq. 10);    v+ = lD sigma(zeta (u - z0)),   v- = lU sigma(zeta (z0 - u))
 *   AuthorsKL:  u = lp - lpref;      v+ = lD sigma(gamma (u - z0)),  v- = lU sigma(gamma (z0 - u))
 *               (the authors' released code: gamma scales z0 too; z0 from authorsKlReferencePoint)
 *   TRLKL:      u = lp - lpref;      as AuthorsKL, with TRL's z0 (trlKlReferencePoint)
 * L = mean( lambda_y - v(tau) ).  rewards: u per trajectory.
 */
export function ktoLoss(
  logp: tf.Tensor1D,
  refLogp: tf.Tensor1D,
  labels: boolean[],
  z0: number,
  o: KtoOptions,
): { loss: tf.Scalar; rewards: tf.Tensor1D } {
  const sign = tf.tensor1d(labels.map((l) => (l ? 1 : -1)));
  const lambda = tf.tensor1d(labels.map((l) => (l ? o.desirableWeight : o.undesirableWeight)));
  let u: tf.Tensor1D;
  let scale: number;
  if (o.mode === 'Exact') {
    u = implicitReward(logp, refLogp, o);
    scale = o.zeta;
  } else {
    u = tf.sub(logp, refLogp) as tf.Tensor1D;
    scale = o.gamma;
  }
  const v = tf.mul(lambda, tf.sigmoid(tf.mul(tf.mul(tf.sub(u, z0), scale), sign)));
  return { loss: tf.mean(tf.sub(lambda, v)) as tf.Scalar, rewards: u };
}

/**
 * Exact reference point (Eq. 13): z0 = mean over trajectories of
 *   sum over assistant tokens t of ( -H_t + (gamma/zeta) CE_t ).
 * Inputs are per-sequence sums of H_t and CE_t over assistant tokens.
 */
export function exactReferencePoint(entropySums: number[], crossEntropySums: number[], t: Temperatures): number {
  if (entropySums.length === 0) throw new Error('exactReferencePoint: empty batch');
  const r = t.gamma / t.zeta;
  let s = 0;
  for (let i = 0; i < entropySums.length; i++) s += -entropySums[i] + r * crossEntropySums[i];
  return s / entropySums.length;
}

/** AuthorsKL: z0 = clamp_min(mean(zeta lp(y') - gamma lpref(y')), 0) over mismatched pairs. */
export function authorsKlReferencePoint(lp: number[], refLp: number[], t: Temperatures): number {
  const m = lp.reduce((a, x, i) => a + t.zeta * x - t.gamma * refLp[i], 0) / lp.length;
  return Math.max(m, 0);
}

/** TRLKL: z0 = clamp_min(mean(lp(y') - lpref(y')), 0) over mismatched pairs. */
export function trlKlReferencePoint(lp: number[], refLp: number[]): number {
  const m = lp.reduce((a, x, i) => a + x - refLp[i], 0) / lp.length;
  return Math.max(m, 0);
}
