/** Directory-backed artifact store: local mode (file:///dir) and PVCs mounted into Pods (pvc://claim/prefix). */
import { mkdir, readFile, writeFile, rename, readdir, rm, stat } from 'node:fs/promises';
import { join, dirname, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkKey, type ArtifactStore } from './store.ts';

export class FsStore implements ArtifactStore {
  constructor(
    readonly root: string,
    readonly uri = `file://${root}`,
  ) {}

  localPath(key: string): string {
    return join(this.root, checkKey(key));
  }

  async put(key: string, data: string | Uint8Array): Promise<void> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    // Write then rename: a reader never sees half a file, a crash never leaves one.
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, path);
  }

  get(key: string): Promise<Buffer> {
    return readFile(this.localPath(key));
  }

  async getText(key: string): Promise<string> {
    return (await this.get(key)).toString('utf8');
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.localPath(key));
      return true;
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

/** Opens a store from a spec.storage.uri. In a Pod, pvc:// resolves to the mounted volume. */
export function openStore(uri: string, opts: { pvcMount?: string } = {}): ArtifactStore {
  if (uri.startsWith('file://')) return new FsStore(uri.slice('file://'.length), uri);
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(uri);
  if (pvc) return new FsStore(join(opts.pvcMount ?? PVC_MOUNT, pvc[3] ?? ''), uri);
  if (uri.startsWith('s3://')) throw new Error(`storage.uri ${uri}: the s3 backend is on the roadmap and not available in this version`);
  throw new Error(`storage.uri ${JSON.stringify(uri)}: expected file:///dir, pvc://claim[/prefix] or s3://bucket[/prefix]`);
}
