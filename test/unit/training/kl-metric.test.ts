import test from 'ava';
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Registry } from 'prom-client';
import { parse } from '../../../operator/api/validate.ts';
import { Preference, Training } from '../../../operator/api/common.ts';
import { train } from '../../../operator/training/trainer.ts';
import { syntheticTrajectories } from '../../../operator/training/synthetic.ts';
import { readSafetensors } from '../../../operator/training/safetensors.ts';
import { latestCheckpoint } from '../../../operator/training/checkpoint.ts';
import { writeTinyModel } from '../../helpers/tiny-model.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-kl-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
const modelDir = writeTinyModel(path.join(tmp, 'tiny'), { seed: 3, contextLength: 1024 });

// A DPO run shorter than the KL metric's period (referenceMetricsEvery defaults to 10): the KL
// was measured only at step 0, where the LoRA policy still is the reference, and reported 0.
for (const epochs of [1, 2]) {
  test.serial(`a ${epochs}-epoch DPO run that moved the policy reports its KL to the reference (> 0), measured on the last step`, async (t) => {
    const outputDir = path.join(tmp, `dpo-${epochs}`);
    const r = await train({
      modelDir,
      outputDir,
      trajectories: syntheticTrajectories({ tasks: 2, samplesPerTask: 2, tools: false }),
      training: parse(Training, { learningRate: 5e-2, batchSize: 1, epochs, backend: 'Wasm', warmupRatio: 0, lora: { rank: 4 } }, 'training'),
      preference: parse(Preference, { algorithm: 'DPO' }, 'preference'),
      registry: new Registry(),
      saveModel: false,
    });
    t.true(r.totalSteps >= 2 && r.totalSteps < 10, `${r.totalSteps} steps: shorter than the metric's period`);
    t.is(r.history.length, r.totalSteps);
    // the training changed the weights: LoRA B starts at zero
    const tensors = readSafetensors(readFileSync(path.join(latestCheckpoint(outputDir)!, 'trainable.safetensors'))).tensors;
    const moved = [...tensors].filter(([k]) => k.includes('lora_B')).reduce((m, [, x]) => Math.max(m, ...Array.from(x.data, Math.abs)), 0);
    t.true(moved > 1e-4, `largest |lora_B| ${moved}`);
    const last = r.history[r.history.length - 1];
    t.true(last.kl !== undefined && last.kl > 1e-6, `last step's KL ${last.kl}`);
    t.true(Math.abs(r.history[0].kl ?? NaN) < 1e-6, `step 0 is measured before any update, where the policy is the reference: KL ${r.history[0].kl}`);
    t.true(r.summary.klToReference !== undefined && r.summary.klToReference > 1e-6, `summary KL ${r.summary.klToReference}`);
    t.is(r.summary.klToReference, last.kl, 'the reported KL is the last measured one');
    const stored = JSON.parse(readFileSync(path.join(outputDir, 'summary.json'), 'utf8')) as { klToReference?: number };
    t.is(stored.klToReference, last.kl);
    const lines = readFileSync(path.join(outputDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; kl?: number });
    t.is(lines[lines.length - 1].kl, last.kl);
    t.deepEqual(lines.filter((l) => l.kl !== undefined).map((l) => l.step), [1, r.totalSteps], 'measured at step 0 (the 1st) and on the last step only');
  });
}
