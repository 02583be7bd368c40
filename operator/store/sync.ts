/**
 * Files and directories to and from any artifact store, streamed (never a whole checkpoint in
 * memory), for the tools that need local paths: the trainer (its trajectories file, its output
 * and checkpoint directory), model caches of the policy server and the verifier.
 *
 * A download writes a temporary file and renames it, so a failed one leaves no file; an upload of
 * a directory writes `last` files (completion markers such as a checkpoint's state.json) after
 * every other file of their directory, so a reader that waits for the marker never reads a
 * partial directory.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from './store.ts';

/** Uploads one local file to key (streamed). */
export async function putFile(store: ArtifactStore, key: string, file: string): Promise<void> {
  await store.putStream(key, createReadStream(file));
}

/** Downloads key to a local file (streamed; the file appears only when complete). */
export async function getFile(store: ArtifactStore, key: string, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}.part`;
  try {
    await pipeline(await store.getStream(key), createWriteStream(tmp));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Relative paths (with "/") of every file under dir, sorted; [] when dir does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk(dir, '');
  return out.sort();
}

export interface SyncOptions {
  /** Files (relative paths) to write after all others of their directory (completion markers). */
  last?: (rel: string) => boolean;
  /** Files to leave out. */
  skip?: (rel: string) => boolean;
  /** Files at once (default 4). */
  concurrency?: number;
}

async function inBatches<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += n) await Promise.all(items.slice(i, i + n).map(f));
}

/** Uploads every file under dir to prefix/<relative path>; returns the number of files. */
export async function uploadDir(store: ArtifactStore, dir: string, prefix: string, o: SyncOptions = {}): Promise<number> {
  const files = (await listFiles(dir)).filter((r) => !o.skip?.(r));
  const markers = files.filter((r) => o.last?.(r));
  const rest = files.filter((r) => !o.last?.(r));
  const up = (r: string) => putFile(store, `${prefix.replace(/\/+$/, '')}/${r}`, path.join(dir, ...r.split('/')));
  await inBatches(rest, o.concurrency ?? 4, up);
  await inBatches(markers, o.concurrency ?? 4, up);
  return files.length;
}

/** Downloads every object under prefix/ into dir/<relative key>; returns the number of objects. */
export async function downloadPrefix(store: ArtifactStore, prefix: string, dir: string, o: Pick<SyncOptions, 'skip' | 'concurrency'> = {}): Promise<number> {
  const base = prefix.replace(/\/+$/, '');
  const keys = (await store.list(base)).map((k) => k.slice(base.length + 1)).filter((r) => !o.skip?.(r));
  await inBatches(keys, o.concurrency ?? 4, (r) => getFile(store, `${base}/${r}`, path.join(dir, ...r.split('/'))));
  return keys.length;
}
