/**
 * The artifact store: trajectories, preference data, checkpoints, evaluation results.
 * Keys are slash-separated relative paths ("runs/ns/name/iter-1/trajectories/abc.json").
 * Backends: a directory (local mode, or a PVC mounted in the Pod); S3-compatible comes later and
 * implements the same interface.
 */
export interface ArtifactStore {
  /** Where the store is, as a URI (file:///..., pvc://..., s3://...). */
  readonly uri: string;
  put(key: string, data: string | Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer>;
  getText(key: string): Promise<string>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** A local path for a key when the backend has one (file-based), for tools that need paths. */
  localPath?(key: string): string;
}

/** Rejects keys that would escape the store (absolute, "..", empty segments). */
export function checkKey(key: string): string {
  if (!key || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`invalid artifact key ${JSON.stringify(key)}: expected a relative path without "." or ".." segments`);
  }
  return key;
}
