import test from 'ava';
import { Registry } from 'prom-client';
import { selectBackend, currentBackend, autoPreference, parseBackendName, BACKEND_ENV } from '../../../operator/training/backend.ts';
import { presentBackends } from '../../helpers/backends.ts';

/** API name -> the package name selectBackend reports. */
const PACKAGE = { TfjsNodeGPU: 'tfjs-node-gpu', TfjsNode: 'tfjs-node', Wasm: 'wasm', CPU: 'cpu' } as const;

test.serial('Auto takes the fastest backend present; concurrent first selections all get it (no race during start-up)', async (t) => {
  const registry = new Registry();
  const choices = await Promise.all([selectBackend('Auto', registry), selectBackend('Auto', registry), selectBackend('Auto', registry)]);
  // tfjs-node-gpu, then tfjs-node (when scripts/install-tfjs-node.sh put them in node_modules), then wasm.
  const fastest = PACKAGE[presentBackends()[0]];
  t.deepEqual(choices.map((c) => c.backend), [fastest, fastest, fastest]);
  const order = ['tfjs-node-gpu', 'tfjs-node', 'wasm'];
  t.deepEqual(choices[0].skipped.map((s) => s.backend), order.slice(0, order.indexOf(fastest)));
  t.is(currentBackend(), fastest);
  const metric = await registry.getSingleMetricAsString('entropo_training_backend_info');
  t.regex(metric, new RegExp(`entropo_training_backend_info\\{backend="${fastest}"\\} 1`));
});

test.serial(`${BACKEND_ENV} replaces Auto (not an explicit choice); a bad value is an error naming the variable`, async (t) => {
  const before = process.env[BACKEND_ENV];
  t.teardown(() => (before === undefined ? delete process.env[BACKEND_ENV] : (process.env[BACKEND_ENV] = before)));
  process.env[BACKEND_ENV] = 'cpu';
  t.is((await selectBackend('Auto', new Registry())).backend, 'cpu');
  t.is((await selectBackend('Wasm', new Registry())).backend, 'wasm');
  process.env[BACKEND_ENV] = 'tpu';
  const err = await t.throwsAsync(selectBackend('Auto', new Registry()));
  t.regex(err!.message, /^ENTROPO_TFJS_BACKEND="tpu": not a tfjs backend \(expected auto, tfjs-node-gpu, tfjs-node, wasm or cpu\)/);
});

test('backend names: API and package spellings, any case; unset or empty variable is Auto', (t) => {
  t.is(parseBackendName('tfjs-node'), 'TfjsNode');
  t.is(parseBackendName('TfjsNodeGPU'), 'TfjsNodeGPU');
  t.is(parseBackendName(' WASM '), 'Wasm');
  t.is(parseBackendName('gpu'), undefined);
  t.is(autoPreference({}), 'Auto');
  t.is(autoPreference({ [BACKEND_ENV]: '' }), 'Auto');
  t.is(autoPreference({ [BACKEND_ENV]: 'Tfjs-Node' }), 'TfjsNode');
  t.throws(() => autoPreference({ [BACKEND_ENV]: 'x' }), { message: /ENTROPO_TFJS_BACKEND="x"/ });
});

test.serial('a named backend that cannot load is an error naming training.backend', async (t) => {
  // tfjs-node-gpu is not installed on the CI machine (no GPU there; scripts/install-tfjs-node.sh --gpu installs it)
  t.false(presentBackends().includes('TfjsNodeGPU'), 'this test needs a machine without @tensorflow/tfjs-node-gpu');
  const err = await t.throwsAsync(selectBackend('TfjsNodeGPU', new Registry()));
  t.regex(err!.message, /training\.backend: no usable tfjs backend \(tfjs-node-gpu: /);
});
