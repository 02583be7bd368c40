import * as tf from '@tensorflow/tfjs';
import {
  authorsKlReferencePoint,
  dpoLoss,
  exactReferencePoint,
  implicitReward,
  ktoLoss,
  sftLoss,
  trlKlReferencePoint,
} from '../../../operator/training/losses.ts';
import { AdamW, clipByGlobalNorm, lrFactor, warmupSteps } from '../../../operator/training/optimizer.ts';

import { backendCases } from '../../helpers/backends.ts';

/** The cases below, run on every tfjs backend present (registered at the end of the file). */
const { it, register } = backendCases();

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const t1 = (xs: number[]) => tf.tensor1d(xs);
const val = (x: tf.Tensor) => x.dataSync()[0];
const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

it('SFT loss is the masked mean negative log-likelihood per assistant token', (t) => {
  // sums of log-probs -12 (6 tokens) and -3 (2 tokens): 15 / 8
  t.true(close(val(sftLoss(t1([-12, -3]), [6, 2])), 15 / 8));
  t.throws(() => sftLoss(t1([0]), [0]), { message: /no assistant tokens/ });
});

it('implicit reward rho = lp - (gamma/zeta) lpref (Eq. 10)', (t) => {
  const r = implicitReward(t1([-10]), t1([-11]), { zeta: 0.11, gamma: 0.1 }).dataSync()[0];
  t.true(close(r, -10 + (0.1 / 0.11) * 11));
});

it('EntroPO-DPO (Eq. 7) against a hand-computed pair', (t) => {
  // lp+ = -10, lp- = -14, lpref+ = -11, lpref- = -12; zeta 0.11, gamma 0.1
  // logit = 0.11 * 4 - 0.1 * 1 = 0.34; L = -log sigmoid(0.34) = log(1 + e^-0.34) = 0.5375281
  const { loss, margins } = dpoLoss({ chosen: t1([-10]), rejected: t1([-14]), refChosen: t1([-11]), refRejected: t1([-12]) }, { zeta: 0.11, gamma: 0.1 });
  t.true(close(val(loss), -Math.log(sig(0.34))));
  t.true(close(val(loss), 0.5375281, 1e-6));
  // margin = rho+ - rho- = 4 - (0.1/0.11) * 1
  t.true(close(margins.dataSync()[0], 4 - 0.1 / 0.11));
});

it('EntroPO-DPO with zeta = gamma is M-DPO: -log sigmoid(beta ((lp+ - lpref+) - (lp- - lpref-)))', (t) => {
  const x = { chosen: t1([-10, -30, -5]), rejected: t1([-14, -20, -9]), refChosen: t1([-11, -28, -6]), refRejected: t1([-12, -22, -7]) };
  const beta = 0.2;
  const want = [
    [-10, -14, -11, -12],
    [-30, -20, -28, -22],
    [-5, -9, -6, -7],
  ].map(([c, r, rc, rr]) => -Math.log(sig(beta * (c - rc - (r - rr)))));
  const mean = want.reduce((a, b) => a + b) / 3;
  t.true(close(val(dpoLoss(x, { zeta: beta, gamma: beta }).loss), mean));
  // and a different zeta gives a different value (the test can fail)
  t.false(close(val(dpoLoss(x, { zeta: 0.3, gamma: beta }).loss), mean, 1e-3));
});

it('EntroPO-KTO (Eqs. 11-12, exact reference point) against hand-computed values', (t) => {
  // zeta 0.11, gamma 0.1, z0 = -2, lambda_D = 1, lambda_U = 1.5
  // tau1 desirable: lp -10, lpref -9: rho = -10 + 0.1/0.11*9
  // tau2 undesirable: lp -20, lpref -18
  const z = 0.11;
  const g = 0.1;
  const rho1 = -10 + (g / z) * 9;
  const rho2 = -20 + (g / z) * 18;
  const v1 = 1 * sig(z * (rho1 - -2));
  const v2 = 1.5 * sig(z * (-2 - rho2));
  const want = (1 - v1 + (1.5 - v2)) / 2;
  const r = ktoLoss(t1([-10, -20]), t1([-9, -18]), [true, false], -2, { zeta: z, gamma: g, desirableWeight: 1, undesirableWeight: 1.5, mode: 'Exact' });
  t.true(close(val(r.loss), want));
  t.deepEqual(Array.from(r.rewards.dataSync()).map((x) => Math.round(x * 1e4) / 1e4), [rho1, rho2].map((x) => Math.round(x * 1e4) / 1e4));
});

it('EntroPO-KTO with zeta = gamma is M-KTO: lambda_y (1 - sigmoid(+-beta (lp - lpref - z0)))', (t) => {
  const beta = 0.1;
  const lp = [-10, -20, -7];
  const ref = [-9, -18, -8];
  const labels = [true, false, true];
  const z0 = 0.5;
  const want =
    lp
      .map((l, i) => {
        const u = l - ref[i] - z0;
        return labels[i] ? 1 - sig(beta * u) : 1 - sig(-beta * u);
      })
      .reduce((a, b) => a + b) / 3;
  const r = ktoLoss(t1(lp), t1(ref), labels, z0, { zeta: beta, gamma: beta, desirableWeight: 1, undesirableWeight: 1, mode: 'Exact' });
  t.true(close(val(r.loss), want));
  // trl-kl with beta = gamma is the same function of (lp, lpref, z0)
  const trl = ktoLoss(t1(lp), t1(ref), labels, z0, { zeta: 0.2, gamma: beta, desirableWeight: 1, undesirableWeight: 1, mode: 'TRLKL' });
  t.true(close(val(trl.loss), want));
});

it('AuthorsKL is the released code: v = lambda sigmoid(gamma ((lp - lpref) - z0)), z0 = clamp(mean(zeta lp\' - gamma lpref\'))', (t) => {
  // one desirable trajectory lp = lpref = 0, one mismatched pair lp' = 10, lpref' = 0; zeta 0.11, gamma 0.1
  const temps = { zeta: 0.11, gamma: 0.1 };
  const z0 = authorsKlReferencePoint([10], [0], temps);
  t.true(close(z0, 1.1), `z0 ${z0}`);
  const r = ktoLoss(t1([0]), t1([0]), [true], z0, { ...temps, desirableWeight: 1, undesirableWeight: 1, mode: 'AuthorsKL' });
  t.true(close(val(r.loss), 0.52747, 1e-5), `loss ${val(r.loss)} (the old gamma-scaled u with unscaled z0 gave 0.75026)`);
  t.false(close(val(r.loss), 0.75026, 1e-3));
  // undesirable: lambda_U (1 - sigmoid(gamma (z0 - u)))
  const u = ktoLoss(t1([-10]), t1([-9]), [false], 0.05, { ...temps, desirableWeight: 1, undesirableWeight: 2, mode: 'AuthorsKL' });
  t.true(close(val(u.loss), 2 * (1 - sig(0.1 * (0.05 - -1)))));
  t.true(close(u.rewards.dataSync()[0], -1));
});

it('rho keeps float32 precision at |log pi| ~ 5000: (lp - lpref) + (1 - gamma/zeta) lpref', (t) => {
  // float64 truth of lp - (gamma/zeta) lpref for long trajectories
  const lp = [-5000.123, -4999.5, -5123.25];
  const ref = [-5000.5, -4998.75, -5124.0];
  const temps = { zeta: 0.11, gamma: 0.1 };
  const want = lp.map((x, i) => x - (temps.gamma / temps.zeta) * ref[i]);
  const got = Array.from(implicitReward(t1(lp), t1(ref), temps).dataSync());
  const rel = Math.max(...got.map((g, i) => Math.abs(g - want[i]) / Math.abs(want[i])));
  t.true(rel < 5e-6, `relative error ${rel}`);
  // the direct float32 form is measurably worse here (so the test can fail)
  const direct = Array.from(tf.sub(t1(lp), tf.mul(t1(ref), temps.gamma / temps.zeta)).dataSync());
  const relDirect = Math.max(...direct.map((g, i) => Math.abs(g - want[i]) / Math.abs(want[i])));
  t.true(relDirect > rel, `direct ${relDirect} vs stable ${rel}`);
  // DPO margins use the same stable form
  const { margins } = dpoLoss({ chosen: t1([lp[0]]), rejected: t1([lp[1]]), refChosen: t1([ref[0]]), refRejected: t1([ref[1]]) }, temps);
  t.true(Math.abs(margins.dataSync()[0] - (want[0] - want[1])) < 2e-3);
});

it('exact reference point (Eq. 13): mean over trajectories of sum_t (-H_t + (gamma/zeta) CE_t)', (t) => {
  // two trajectories: sums H = 3, 5; CE = 4, 5.5; gamma/zeta = 10/11
  const want = (-3 + (10 / 11) * 4 + (-5 + (10 / 11) * 5.5)) / 2;
  t.true(close(exactReferencePoint([3, 5], [4, 5.5], { zeta: 0.11, gamma: 0.1 }), want));
  // unclamped: negative when entropy outweighs cross-entropy
  t.true(exactReferencePoint([5], [5], { zeta: 0.11, gamma: 0.1 }) < 0);
  // zeta = gamma: z0 = mean sum KL(pi || pi_ref) >= 0
  t.true(close(exactReferencePoint([3, 5], [4, 5.5], { zeta: 0.1, gamma: 0.1 }), (1 + 0.5) / 2));
});

it('KL-trick reference points are clamped at 0', (t) => {
  t.true(close(authorsKlReferencePoint([-10, -12], [-9, -13], { zeta: 0.11, gamma: 0.1 }), Math.max(0, (0.11 * -10 + 0.9 + (0.11 * -12 + 1.3)) / 2)));
  t.is(authorsKlReferencePoint([-100], [-10], { zeta: 0.11, gamma: 0.1 }), 0);
  t.true(close(trlKlReferencePoint([-10, -12], [-11, -12.5]), 0.75));
  t.is(trlKlReferencePoint([-12], [-10]), 0);
});

it('learning-rate schedule: linear warm-up then cosine / linear / constant (HF semantics)', (t) => {
  t.is(warmupSteps(10, 0.1), 1);
  t.is(warmupSteps(25, 0.1), 3);
  t.is(lrFactor(0, 10, 0.1, 'Cosine'), 0);
  t.is(lrFactor(1, 10, 0.1, 'Cosine'), 1);
  t.true(close(lrFactor(5, 10, 0.1, 'Cosine'), 0.5 * (1 + Math.cos((Math.PI * 4) / 9))));
  t.true(close(lrFactor(5, 10, 0.1, 'Linear'), 1 - 4 / 9));
  t.is(lrFactor(7, 10, 0.1, 'Constant'), 1);
  t.is(lrFactor(3, 10, 0, 'Constant'), 1);
});

it('global-norm clipping and one AdamW step against hand computation', (t) => {
  const g = new Map<string, tf.Tensor>([['w', tf.tensor1d([3, 4])]]);
  const c = clipByGlobalNorm(g, 1);
  t.is(c.norm, 5);
  const clipped = Array.from(c.grads.get('w')!.dataSync());
  t.true(close(clipped[0], 0.6, 1e-5) && close(clipped[1], 0.8, 1e-5));
  const p = tf.variable(tf.tensor1d([1, -2]));
  const opt = new AdamW(new Map([['w', p]]), { weightDecay: 0.1 });
  opt.apply(new Map([['w', tf.tensor1d([0.5, -0.25])]]), 0.01);
  // step 1: mhat = g, vhat = g^2 -> update = lr * g / (|g| + eps) = lr * sign(g); decay first: p (1 - lr wd)
  const got = Array.from(p.dataSync());
  t.true(close(got[0], 1 * (1 - 0.001) - 0.01, 1e-6));
  t.true(close(got[1], -2 * (1 - 0.001) + 0.01, 1e-6));
});

register();
