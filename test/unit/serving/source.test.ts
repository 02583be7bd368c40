import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { FsStore } from '../../../operator/store/fs-store.ts';
import { resolveModel } from '../../../operator/serving/source.ts';
import { writeTinyModel } from '../../helpers/tiny-model.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-source-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
const model = writeTinyModel(path.join(tmp, 'model'));

test('file:// and plain paths resolve to the directory', async (t) => {
  t.deepEqual(await resolveModel(`file://${model}`), { modelDir: model });
  t.deepEqual(await resolveModel(model), { modelDir: model });
});

test('store:// copies every object under the key into the cache once, through the ArtifactStore interface', async (t) => {
  const root = path.join(tmp, 'store');
  const disk = new FsStore(root);
  for (const f of readdirSync(model)) await disk.put(`runs/r1/iter-1/model/${f}`, readFileSync(path.join(model, f)));
  await disk.put('runs/r1/iter-1/model/adapter/adapter_config.json', '{}');
  // A store without local paths (as S3 is): objects are fetched with get().
  const remote = { uri: disk.uri, put: disk.put.bind(disk), putStream: disk.putStream.bind(disk), get: disk.get.bind(disk), getStream: disk.getStream.bind(disk), getText: disk.getText.bind(disk), exists: disk.exists.bind(disk), list: disk.list.bind(disk), delete: disk.delete.bind(disk) };
  const cacheDir = path.join(tmp, 'cache');
  const r = await resolveModel('store://runs/r1/iter-1/model', { store: remote, cacheDir });
  t.true(r.modelDir.startsWith(cacheDir));
  t.deepEqual(readFileSync(path.join(r.modelDir, 'model.safetensors')), readFileSync(path.join(model, 'model.safetensors')));
  t.true(existsSync(path.join(r.modelDir, 'adapter', 'adapter_config.json')));
  // Cached: a second resolve does not read the store.
  const again = await resolveModel('store://runs/r1/iter-1/model', { store: { ...remote, list: () => Promise.reject(new Error('no second read')) }, cacheDir });
  t.is(again.modelDir, r.modelDir);
  // A store with local paths is used in place.
  t.deepEqual(await resolveModel('store://runs/r1/iter-1/model', { store: disk }), { modelDir: path.join(root, 'runs/r1/iter-1/model') });
  const missing = await t.throwsAsync(resolveModel('store://runs/none', { store: remote, cacheDir }));
  t.regex(missing!.message, /store:\/\/runs\/none: no objects under runs\/none\//);
  const noStore = await t.throwsAsync(resolveModel('store://runs/r1'));
  t.regex(noStore!.message, /needs the artifact store \(--store <uri>\)/);
});

test('an adapter directory is served on its base; bad sources are errors naming them', async (t) => {
  const adapter = path.join(tmp, 'adapter');
  mkdirSync(adapter);
  writeFileSync(path.join(adapter, 'adapter_config.json'), JSON.stringify({ base_model_name_or_path: `file://${model}` }));
  t.deepEqual(await resolveModel(`file://${adapter}`), { modelDir: model, adapterDir: adapter });
  t.deepEqual(await resolveModel(adapter, { base: model }), { modelDir: model, adapterDir: adapter });
  writeFileSync(path.join(adapter, 'adapter_config.json'), JSON.stringify({}));
  t.regex((await t.throwsAsync(resolveModel(adapter)))!.message, /does not name its base .* --base <source>/);
  t.regex((await t.throwsAsync(resolveModel(model, { base: model })))!.message, /--base is only for a LoRA adapter source/);
  t.regex((await t.throwsAsync(resolveModel(tmp)))!.message, /neither a model \(config.json\) nor a PEFT adapter/);
  t.regex((await t.throwsAsync(resolveModel('hf://Qwen/Qwen3-0.6B')))!.message, /unsupported model source \(expected builtin:<name>, store:\/\/<key> or file:\/\/<dir>\)/);
  t.regex((await t.throwsAsync(resolveModel('file:///nonexistent/x')))!.message, /no such directory/);
});

test('builtin:<name> resolves through operator/policy/builtin.ts; an unknown name is an error listing what exists', async (t) => {
  const { builtinModels } = await import('../../../operator/policy/builtin.ts');
  const e = await t.throwsAsync(resolveModel('builtin:no-such-model'));
  t.regex(e!.message, /builtin:no-such-model: no such built-in model \(available: /);
  for (const name of builtinModels()) t.true(existsSync(path.join((await resolveModel(`builtin:${name}`)).modelDir, 'config.json')), name);
});
