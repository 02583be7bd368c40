import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configuredParameters, SERVE_ON_WASM_BELOW_PARAMETERS, servingPreference } from '../../../operator/serving/loaded-model.ts';
import { loadModel } from '../../../operator/training/model-io.ts';
import { writeTinyModel } from '../../helpers/tiny-model.ts';

test('servingPreference: --backend wins, then ENTROPO_TFJS_BACKEND; Auto serves a small model on wasm and a large one on the fastest backend', (t) => {
  const small = 600_000;
  const large = SERVE_ON_WASM_BELOW_PARAMETERS;
  t.deepEqual(servingPreference('tfjs-node', small, {}), { pref: 'TfjsNode' });
  t.deepEqual(servingPreference('wasm', large, {}), { pref: 'Wasm' });
  t.deepEqual(servingPreference('auto', small, { ENTROPO_TFJS_BACKEND: 'tfjs-node' }), { pref: 'TfjsNode' });
  const auto = servingPreference('auto', small, {});
  t.is(auto.pref, 'Wasm');
  t.regex(auto.reason ?? '', /^0\.6M parameters: small models decode faster on wasm \(--backend to choose\)$/);
  t.deepEqual(servingPreference('Auto', large, { ENTROPO_TFJS_BACKEND: ' ' }), { pref: 'Auto' });
  t.throws(() => servingPreference('tpu', small, {}), { message: /--backend: unknown tfjs backend "tpu"/ });
  t.throws(() => servingPreference('auto', small, { ENTROPO_TFJS_BACKEND: 'bogus' }), { message: /ENTROPO_TFJS_BACKEND="bogus"/ });
});

test('configuredParameters counts the weights config.json describes (no weights read); 0 when there is no readable config', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'entropo-params-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const model = writeTinyModel(path.join(dir, 'm'), { hiddenSize: 64, layers: 2, vocabSize: 320 });
  let loaded = 0;
  for (const p of loadModel(model).params.values()) loaded += p.size;
  t.is(configuredParameters(model), loaded);
  t.true(loaded > 10_000);
  t.is(configuredParameters(path.join(dir, 'missing')), 0);
  mkdirSync(path.join(dir, 'bad'));
  writeFileSync(path.join(dir, 'bad', 'config.json'), '{not json');
  t.is(configuredParameters(path.join(dir, 'bad')), 0);
});
