/**
 * The artifact store: trajectories, preference data, checkpoints, evaluation results.
 * Keys are slash-separated relative paths ("runs/ns/name/iter-1/trajectories/abc.json"), the same
 * in every backend. Backends: a directory (local mode, or a PVC mounted in the Pod:
 * ./fs-store.ts) and S3-compatible object storage (./s3-store.ts); ./open.ts opens one from a
 * spec.storage.uri.
 *
 * Every write is whole or absent: a reader never sees half an object (the directory store writes a
 * temporary file and renames it; S3 makes an object visible only when its PUT or multipart upload
 * completes).
 */
import type { Readable } from 'node:stream';

export interface ArtifactStore {
  /** Where the store is, as a URI (file:///..., pvc://..., s3://...). */
  readonly uri: string;
  put(key: string, data: string | Uint8Array): Promise<void>;
  /**
   * Writes an object from a stream of bytes (large checkpoints: never held in memory whole; S3
   * uploads it in parts). The object appears only once the stream has been read to its end; a
   * failed stream or write leaves no object (and no part of one) under the key.
   */
  putStream(key: string, body: Readable | AsyncIterable<Uint8Array>): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** Reads an object as a stream (large checkpoints). Errors like get() for a missing object. */
  getStream(key: string): Promise<Readable>;
  getText(key: string): Promise<string>;
  /** True when an object is stored under exactly this key. */
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix (a "directory": "a/b" lists "a/b/..." and never "a/bc"), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Deletes the object under key and every object under key/ (a "directory"). Absent keys are no error. */
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

/** Why a store operation failed, in words a user can act on. */
export type StoreErrorCode = 'NoSuchKey' | 'NoSuchBucket' | 'AccessDenied' | 'InvalidCredentials' | 'Unavailable' | 'Other';

/**
 * A store operation that failed. The message names the store, the bucket and the key (S3) or the
 * path, and what to check; `code` is the class of failure, `status` the HTTP status if any.
 */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly code: StoreErrorCode,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}
