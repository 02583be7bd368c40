/**
 * The tiny model (tiny-model.ts) loaded for serving, shared by the serving unit tests: ava hooks
 * that write it into a fresh temp directory and load it (loaded-model.ts) before the file's tests,
 * and dispose it and remove the directory after them.
 */
import type { TestFn } from 'ava';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadServedModel, type LoadedModel } from '../../operator/serving/loaded-model.ts';
import { writeTinyModel, type TinyModelOptions } from './tiny-model.ts';

export interface ServedTinyModelOptions extends TinyModelOptions {
  /** Temp directory name prefix, e.g. 'entropo-engine-'. */
  prefix: string;
  /** tfjs backend to load on. Default wasm. */
  backend?: string;
}

/**
 * Registers the hooks on `test`; `onLoad` receives the loaded model in the before hook. Returns
 * the model directory (written at once, so the file's tests may load it in other ways too).
 */
export function useServedTinyModel(test: TestFn, o: ServedTinyModelOptions, onLoad: (m: LoadedModel) => void): string {
  const { prefix, backend, ...tiny } = o;
  const tmp = mkdtempSync(path.join(os.tmpdir(), prefix));
  const modelDir = writeTinyModel(path.join(tmp, 'tiny'), tiny);
  let m: LoadedModel | undefined;
  test.before(async () => {
    m = await loadServedModel({ modelDir, backend: backend ?? 'wasm' });
    onLoad(m);
  });
  test.after.always(() => {
    m?.model.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });
  return modelDir;
}
