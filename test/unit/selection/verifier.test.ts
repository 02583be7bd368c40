import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrajectoryRecord } from '../../../operator/api/records.ts';
import { trainVerifier, Verifier, isValidationTask, type VerifierConfig } from '../../../operator/selection/verifier.ts';
import { scoreAll, verifierMessages } from '../../../operator/selection/verifier-prompt.ts';
import { auc } from '../../../operator/selection/calibration.ts';
import { loadModel } from '../../../operator/training/model-io.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { logSoftmax } from '../../../operator/training/ops.ts';
import { record } from './_fixtures.ts';

const MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/training/qwen2');
const render = { systemPrompt: 'Judge.' };
// Serial: selectBackend of the training core is not safe to call concurrently (two first calls can
// race while the wasm backend initialises and one falls back to the much slower cpu backend).

/** A separable set: resolved trajectories add, unresolved ones subtract and give up. */
function synthetic(tasks: number, prefix: string): TrajectoryRecord[] {
  const out: TrajectoryRecord[] = [];
  for (let t = 0; t < tasks; t++) {
    for (let s = 0; s < 2; s++) {
      const good = (s + t) % 2 === 0;
      out.push(
        record({
          id: `${prefix}${t}/${s}/r`,
          taskId: `${prefix}${t}`,
          sample: s,
          messages: [
            { role: 'system', content: 'agent' },
            { role: 'user', content: `Fix add() in ${prefix}${t}.` },
            { role: 'assistant', content: good ? 'edit then test' : 'give up' },
          ],
          patch: good ? '+return a + b' : '+return a - b',
          finished: true,
          resolved: good,
          reward: good ? 1 : 0,
          verifierScore: undefined,
        }),
      );
    }
  }
  return out;
}

test.serial('answer log-probs from the KV-cache continuation equal a full forward of prompt + answer', async (t) => {
  const v = await Verifier.load(MODEL); // no verifier.json: the base model as a zero-shot judge
  try {
    const input = synthetic(1, 'x')[0];
    const { yes, no } = v.answerLogProbs(input);
    const model = loadModel(MODEL);
    const tok = loadChatTokenizer(MODEL);
    const prompt = tok.encode(tok.render(verifierMessages(input), { addGenerationPrompt: true }));
    const full = (answer: number[]) =>
      tf.tidy(() => {
        const ids = [...prompt, ...answer];
        const lp = logSoftmax(model.forward([ids]).logits.reshape([ids.length, -1])).arraySync() as number[][];
        return answer.reduce((a, id, j) => a + lp[prompt.length - 1 + j][id], 0);
      });
    t.true(Math.abs(yes - full(tok.encode('YES'))) < 1e-4, `${yes} vs ${full(tok.encode('YES'))}`);
    t.true(Math.abs(no - full(tok.encode('NO'))) < 1e-4);
    t.true(tok.encode('YES').length > 1, 'the fixture tokenizer splits YES: the multi-token path is exercised');
    const p = v.scoreOne(input);
    t.true(Math.abs(p - 1 / (1 + Math.exp(no - yes))) < 1e-12);
    model.dispose();
  } finally {
    v.dispose();
  }
});

test.serial('a verifier trained on a separable set reaches AUC >= 0.9 on unseen tasks; scores stay on their ids', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-verifier-'));
  try {
    const train = synthetic(12, 'train-');
    // unfinished trajectories are not training data
    train.push(record({ id: 'cut/0/r', taskId: 'cut', finished: false, exitReason: 'max_steps', resolved: true, reward: 1 }));
    const result = await trainVerifier({
      modelDir: MODEL,
      outputDir: dir,
      trajectories: train,
      render,
      validationFraction: 0.25,
      training: { method: 'Full', learningRate: 1e-2, epochs: 6, batchSize: 8, warmupRatio: 0, scheduler: 'Constant', maxSequenceLength: 512 },
    });
    const heldOut = train.filter((x) => x.finished && isValidationTask(x.taskId, 0.25, 0)).length;
    t.is(result.config.trainedOn!.skippedUnfinished, 1);
    t.is(result.config.trainedOn!.examples, 24 - heldOut);
    t.true(result.train.history[result.train.history.length - 1].loss < result.train.history[0].loss / 4, 'the SFT loss fell');
    const saved = JSON.parse(readFileSync(path.join(result.verifierDir, 'verifier.json'), 'utf8')) as VerifierConfig;
    t.deepEqual(saved.render, render);
    t.true(saved.calibration!.train!.auc >= 0.9);
    t.true(saved.calibration!.train!.ece >= 0 && saved.calibration!.train!.ece <= 1);

    const v = await Verifier.load(result.verifierDir);
    try {
      const unseen = synthetic(10, 'eval-');
      const scores = await v.scoreAll(unseen);
      const a = auc(unseen.map((x) => scores.get(x.id)!), unseen.map((x) => x.resolved));
      t.true(a >= 0.9, `held-out AUC ${a}`);
      // concurrent scoring, every trajectory in flight at once, released in reverse order: each
      // one is released when the one after it has been scored (deterministic out-of-order finish)
      const arrival: string[] = [];
      const release = [...unseen].reverse().map((x) => x.id);
      const gates = new Map<string, () => void>();
      let allIn!: () => void;
      const allInFlight = new Promise<void>((r) => (allIn = r));
      const pending = scoreAll(
        unseen,
        async (x) => {
          await new Promise<void>((r) => {
            gates.set(x.id, r);
            if (gates.size === unseen.length) allIn();
          });
          return v.scoreOne(x);
        },
        {
          concurrency: unseen.length,
          onScore: (id) => {
            arrival.push(id);
            if (arrival.length < release.length) gates.get(release[arrival.length])!();
          },
        },
      );
      await allInFlight;
      gates.get(release[0])!();
      const delayed = await pending;
      t.deepEqual(arrival, release, 'finished in reverse order');
      for (const x of unseen) t.is(delayed.get(x.id), scores.get(x.id), x.id);
      // and in a shuffled input order, each id keeps its score
      const shuffled = [...unseen].sort((p, q) => (p.taskId < q.taskId ? 1 : -1));
      const again = await v.scoreAll(shuffled, { concurrency: 4 });
      for (const x of unseen) t.is(again.get(x.id), scores.get(x.id), x.id);
    } finally {
      v.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.false(existsSync(dir));
});

test.serial('training refuses data with one answer only', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'entropo-verifier-'));
  try {
    const allGood = synthetic(4, 'g').filter((x) => x.resolved);
    await t.throwsAsync(() => trainVerifier({ modelDir: MODEL, outputDir: dir, trajectories: allGood, validationFraction: 0 }), { message: /needs both answers/ });
    await t.throwsAsync(() => trainVerifier({ modelDir: MODEL, outputDir: dir, trajectories: [], validationFraction: 0 }), { message: /no finished trajectories/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
