/**
 * Model sources (the API's ModelRef.source) to local directories:
 *   builtin:<name>   a checkpoint shipped with the operator (operator/policy/builtin.ts)
 *   store://<key>    a directory of the artifact store (every object under <key>/), copied into
 *                    a local cache directory once (atomically: a half-copied model is never used)
 *   file://<dir>     a local directory (a plain path works too)
 * A directory with adapter_config.json and no config.json is a PEFT LoRA adapter: it is served on
 * its base, given explicitly or read from the adapter's base_model_name_or_path (itself a source).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveBuiltinModel } from '../policy/builtin.ts';
import type { ArtifactStore } from '../store/store.ts';
import { downloadPrefix } from '../store/sync.ts';

export interface ResolvedModel {
  /** The base model directory (config.json, weights, tokenizer). */
  modelDir: string;
  /** The PEFT adapter directory, when the source is an adapter. */
  adapterDir?: string;
}

export interface ResolveOptions {
  /** The artifact store for store:// sources. */
  store?: ArtifactStore;
  /** Where store:// copies go. Default $ENTROPO_MODEL_CACHE or <tmp>/entropo-models. */
  cacheDir?: string;
  /** Base model source for an adapter source (default: the adapter's base_model_name_or_path). */
  base?: string;
}

/** Copies every object under key/ into the cache (once, streamed) and returns the local directory. */
export async function fetchStoreDir(store: ArtifactStore, key: string, cacheDir: string): Promise<string> {
  const prefix = key.replace(/\/+$/, '');
  const local = store.localPath?.(prefix);
  if (local && existsSync(local)) return local;
  const digest = createHash('sha256').update(`${store.uri}\n${prefix}`).digest('hex').slice(0, 16);
  const dest = path.join(cacheDir, `${path.basename(prefix)}-${digest}`);
  if (existsSync(path.join(dest, '.complete'))) return dest;
  const keys = await store.list(`${prefix}/`);
  if (keys.length === 0) throw new Error(`store://${prefix}: no objects under ${prefix}/ in ${store.uri}`);
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  // streamed object by object (checkpoints are large); the .complete marker goes last
  await downloadPrefix(store, prefix, tmp);
  writeFileSync(path.join(tmp, '.complete'), `${store.uri} ${prefix}\n`);
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
  return dest;
}

/** A source to a local directory (no adapter handling). */
export async function resolveSourceDir(source: string, o: ResolveOptions = {}): Promise<string> {
  if (source.startsWith('builtin:')) return resolveBuiltinModel(source);
  if (source.startsWith('store://')) {
    if (!o.store) throw new Error(`${source}: a store:// source needs the artifact store (--store <uri>)`);
    const cache = o.cacheDir ?? process.env.ENTROPO_MODEL_CACHE ?? path.join(os.tmpdir(), 'entropo-models');
    return fetchStoreDir(o.store, source.slice('store://'.length), cache);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !source.startsWith('file://')) {
    throw new Error(`${source}: unsupported model source (expected builtin:<name>, store://<key> or file://<dir>)`);
  }
  const dir = path.resolve(source.startsWith('file://') ? source.slice('file://'.length) : source);
  if (!existsSync(dir)) throw new Error(`${source}: no such directory ${dir}`);
  return dir;
}

/**
 * Resolves a model source to its model directory and, for an adapter, the adapter directory.
 * Errors name the source and what was expected.
 */
export async function resolveModel(source: string, o: ResolveOptions = {}): Promise<ResolvedModel> {
  const dir = await resolveSourceDir(source, o);
  if (existsSync(path.join(dir, 'config.json'))) {
    if (o.base) throw new Error(`${source}: --base is only for a LoRA adapter source, but ${dir} is a whole model (it has config.json)`);
    return { modelDir: dir };
  }
  const adapterCfg = path.join(dir, 'adapter_config.json');
  if (!existsSync(adapterCfg)) throw new Error(`${source}: ${dir} is neither a model (config.json) nor a PEFT adapter (adapter_config.json)`);
  let base = o.base;
  if (!base) {
    const cfg = JSON.parse(readFileSync(adapterCfg, 'utf8')) as { base_model_name_or_path?: unknown };
    const named = typeof cfg.base_model_name_or_path === 'string' ? cfg.base_model_name_or_path : '';
    if (!named) throw new Error(`${source}: the adapter does not name its base (adapter_config.json base_model_name_or_path); give it with --base <source>`);
    base = named;
  }
  const baseDir = await resolveSourceDir(base, o);
  if (!existsSync(path.join(baseDir, 'config.json'))) throw new Error(`${source}: the adapter's base ${base} (${baseDir}) has no config.json`);
  return { modelDir: baseDir, adapterDir: dir };
}
