import test from 'ava';
import { auc, ece, calibration } from '../../../operator/selection/calibration.ts';

test('AUC is the Mann-Whitney probability, ties counting one half', (t) => {
  // positives 0.9, 0.4; negatives 0.6, 0.1: pairs (0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1) = 3/4
  t.is(auc([0.9, 0.6, 0.4, 0.1], [true, false, true, false]), 0.75);
  t.is(auc([0.9, 0.8, 0.2, 0.1], [true, true, false, false]), 1);
  t.is(auc([0.9, 0.8, 0.2, 0.1], [false, false, true, true]), 0);
  // positive 0.5 vs negatives 0.5 (tie, 1/2) and 0.2 (win): (0.5 + 1) / 2
  t.is(auc([0.5, 0.5, 0.2], [true, false, false]), 0.75);
  t.is(auc([0.3, 0.3, 0.3], [true, false, true]), 0.5);
  t.true(Number.isNaN(auc([0.1, 0.2], [true, true])));
});

test('ECE over 10 bins matches a hand computation', (t) => {
  // bin [0.1,0.2): 0.1, 0.15 labels 0,1 -> mean score 0.125, accuracy 0.5, weight 2/5
  // bin [0.8,0.9): 0.8 label 1 -> |1 - 0.8| = 0.2, weight 1/5
  // bin [0.9,1.0]: 0.95, 1.0 labels 1,0 -> mean 0.975, accuracy 0.5, weight 2/5
  const scores = [0.1, 0.15, 0.8, 0.95, 1.0];
  const labels = [false, true, true, true, false];
  const expected = (2 / 5) * 0.375 + (1 / 5) * 0.2 + (2 / 5) * 0.475;
  t.true(Math.abs(ece(scores, labels) - expected) < 1e-12, `${ece(scores, labels)} vs ${expected}`);
  const c = calibration(scores, labels);
  t.deepEqual(c.bins.map((b) => [b.lo, b.count]), [[0.1, 2], [0.8, 1], [0.9, 2]]);
  t.is(c.count, 5);
  t.is(c.positives, 3);
  // perfectly calibrated: every bin's accuracy equals its mean score
  t.is(ece([0.5, 0.5, 0, 1], [true, false, false, true]), 0);
  t.throws(() => ece([1.2], [true]), { message: /outside \[0, 1\]/ });
});
