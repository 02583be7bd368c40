/**
 * CausalLM.lastHiddenStates: the final hidden state at each row's last real token (the input of
 * the paper's diversity measure), checked against the full forward pass of each row alone.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { selectBackend } from '../../../operator/training/backend.ts';
import { loadModel } from '../../../operator/training/model-io.ts';
import { lastPositions } from '../../../operator/training/model.ts';
import { FIXTURES, maxAbsDiff } from './helpers.ts';

test.before(async () => {
  await selectBackend('Wasm', new Registry());
});

test('lastHiddenStates of right-padded rows equals each row run alone, and the LM head of it gives the last logits', (t) => {
  const model = loadModel(path.join(FIXTURES, 'llama'));
  const rows = [
    [5, 9, 2, 7, 11, 3],
    [4, 8, 1],
  ];
  const T = 6;
  const padded = rows.map((r) => [...r, ...Array(T - r.length).fill(0)]);
  const last = model.lastHiddenStates(padded, rows.map((r) => r.length));
  t.deepEqual(last.shape, [2, model.config.hiddenSize]);
  const got = last.arraySync();
  for (const [b, r] of rows.entries()) {
    const alone = tf.tidy(() => {
      const h = model.forward([r], { hiddenOnly: true }).logits;
      return Array.from(tf.slice(h, [0, r.length - 1, 0], [1, 1, model.config.hiddenSize]).dataSync());
    });
    t.true(maxAbsDiff(got[b], alone) < 1e-5, `row ${b}: padding changes nothing`);
    const logits = tf.tidy(() => Array.from(tf.slice(model.forward([r]).logits, [0, r.length - 1, 0], [1, 1, model.config.vocabSize]).dataSync()));
    const viaHead = tf.tidy(() => Array.from(model.lmHead(tf.tensor2d([got[b]])).dataSync()));
    t.true(maxAbsDiff(viaHead, logits) < 1e-4, `row ${b}: it is the LM head's input`);
  }
  // lastPositions of a forward pass one already holds gives the same
  const again = tf.tidy(() => lastPositions(model.forward(padded, { hiddenOnly: true }).logits, rows.map((r) => r.length)).arraySync());
  for (const b of [0, 1]) t.true(maxAbsDiff(again[b], got[b]) < 1e-6);
  // different rows give different states (not a constant)
  t.true(maxAbsDiff(got[0], got[1]) > 1e-3);
  last.dispose();
  t.throws(() => model.lastHiddenStates(padded, [6]), { instanceOf: RangeError, message: /1 lengths for 2 rows/ });
  t.throws(() => model.lastHiddenStates(padded, [6, 0]), { instanceOf: RangeError, message: /length 0 of row 1 is outside 1\.\.6/ });
  t.throws(() => model.lastHiddenStates(padded, [7, 3]), { instanceOf: RangeError, message: /length 7 of row 0/ });
  model.dispose();
});
