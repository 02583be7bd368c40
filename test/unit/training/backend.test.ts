import test from 'ava';
import { Registry } from 'prom-client';
import { selectBackend, currentBackend } from '../../../operator/training/backend.ts';

test('concurrent first selections all get the same backend (no race during wasm start-up)', async (t) => {
  const registry = new Registry();
  const choices = await Promise.all([selectBackend('Auto', registry), selectBackend('Auto', registry), selectBackend('Auto', registry)]);
  // Here tfjs-node-gpu and tfjs-node are not installed: auto must land on wasm every time.
  t.deepEqual(choices.map((c) => c.backend), ['wasm', 'wasm', 'wasm']);
  t.deepEqual(choices[0].skipped.map((s) => s.backend), ['tfjs-node-gpu', 'tfjs-node']);
  t.is(currentBackend(), 'wasm');
  const metric = await registry.getSingleMetricAsString('entropo_training_backend_info');
  t.regex(metric, /entropo_training_backend_info\{backend="wasm"\} 1/);
});

test('a named backend that cannot load is an error naming training.backend', async (t) => {
  const err = await t.throwsAsync(selectBackend('TfjsNodeGPU', new Registry()));
  t.regex(err!.message, /training\.backend: no usable tfjs backend \(tfjs-node-gpu: /);
});
