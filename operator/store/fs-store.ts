/** Directory-backed artifact store: local mode (file:///dir) and PVCs mounted into Pods (pvc://claim/prefix). */
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, writeFile, rename, readdir, rm, stat } from 'node:fs/promises';
import { join, dirname, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkKey, type ArtifactStore } from './store.ts';

export class FsStore implements ArtifactStore {
  constructor(
    readonly root: string,
    readonly uri = `file://${root}`,
  ) {}

  localPath(key: string): string {
    return join(this.root, checkKey(key));
  }

  /** A temporary file next to the key's file: renamed over it when complete, never listed. */
  private async tmpFor(key: string): Promise<{ path: string; tmp: string }> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    return { path, tmp: `${path}.${randomBytes(4).toString('hex')}.tmp` };
  }

  async put(key: string, data: string | Uint8Array): Promise<void> {
    // Write then rename: a reader never sees half a file, a crash never leaves one.
    const { path, tmp } = await this.tmpFor(key);
    await writeFile(tmp, data);
    await rename(tmp, path);
  }

  async putStream(key: string, body: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    const { path, tmp } = await this.tmpFor(key);
    try {
      await pipeline(body instanceof Readable ? body : Readable.from(body), createWriteStream(tmp));
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.localPath(key));
  }

  async getStream(key: string): Promise<Readable> {
    // Opened first, so a missing file fails here (as get does), not later on the stream.
    const fh = await open(this.localPath(key), 'r');
    return fh.createReadStream();
  }

  async getText(key: string): Promise<string> {
    return (await this.get(key)).toString('utf8');
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.localPath(key))).isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const base = prefix ? join(this.root, checkKey(prefix.replace(/\/$/, ''))) : this.root;
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (!e.name.endsWith('.tmp')) out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    await walk(base);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.localPath(key), { force: true, recursive: true });
  }
}

/** Where a PVC is mounted inside operator-made Pods. */
export const PVC_MOUNT = '/artifacts';
