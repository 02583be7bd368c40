/**
 * Opening the artifact store of a spec.storage (uri + s3 settings):
 *   file:///dir             a directory (local mode)
 *   pvc://claim[/prefix]    the PVC mounted at /artifacts in operator-made Pods (or opts.pvcMount)
 *   s3://bucket[/prefix]    S3-compatible object storage (./s3-store.ts)
 *
 * In a Pod the s3 settings come from the environment the workload builders set
 * (operator/workloads/store-env.ts): AWS_ENDPOINT_URL_S3, AWS_REGION, ENTROPO_S3_FORCE_PATH_STYLE,
 * and the credentials AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN from the
 * Secret by reference (read by the SDK's default chain, which also covers web identity / IRSA and
 * instance roles when no Secret is given).
 */
import { join } from 'node:path';
import { FsStore, PVC_MOUNT } from './fs-store.ts';
import { S3Store, type S3Credentials, type S3Settings } from './s3-store.ts';
import type { ArtifactStore } from './store.ts';

/** Environment variables that carry an s3:// store's settings into a process. */
export const S3_ENV = {
  endpoint: 'AWS_ENDPOINT_URL_S3',
  region: 'AWS_REGION',
  forcePathStyle: 'ENTROPO_S3_FORCE_PATH_STYLE',
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
} as const;

/** spec.storage.s3 (api/common.ts Storage), as far as opening a store needs it. */
export interface StorageS3Spec {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentialsSecretRef?: { name: string };
}

/**
 * S3 settings from an environment (a Pod's, or the CLI's): AWS_ENDPOINT_URL_S3 (else
 * AWS_ENDPOINT_URL), AWS_REGION (else AWS_DEFAULT_REGION), ENTROPO_S3_FORCE_PATH_STYLE
 * (true/false). Credentials are left to the SDK's default chain, which reads AWS_ACCESS_KEY_ID etc.
 */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3Settings {
  const endpoint = env[S3_ENV.endpoint] || env.AWS_ENDPOINT_URL || undefined;
  const region = env[S3_ENV.region] || env.AWS_DEFAULT_REGION || undefined;
  const fps = env[S3_ENV.forcePathStyle];
  if (fps !== undefined && fps !== '' && fps !== 'true' && fps !== 'false') {
    throw new Error(`${S3_ENV.forcePathStyle}=${JSON.stringify(fps)}: expected true or false`);
  }
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(fps === 'true' || fps === 'false' ? { forcePathStyle: fps === 'true' } : {}),
  };
}

/** S3 settings from spec.storage.s3 and, when the spec names a Secret, its data (the operator reads it). */
export function s3SettingsFromSpec(s3: StorageS3Spec | undefined, credentials?: S3Credentials): S3Settings {
  return {
    ...(s3?.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3?.region ? { region: s3.region } : {}),
    ...(s3?.forcePathStyle !== undefined ? { forcePathStyle: s3.forcePathStyle } : {}),
    ...(credentials ? { credentials } : {}),
  };
}

/**
 * Credentials from a Secret's data (base64 values, as the API returns them): AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY required, AWS_SESSION_TOKEN optional. Throws naming the Secret and the key.
 */
export function credentialsFromSecretData(secret: string, data: Record<string, string> | undefined): S3Credentials {
  const get = (k: string) => (data?.[k] ? Buffer.from(data[k], 'base64').toString('utf8') : undefined);
  const accessKeyId = get(S3_ENV.accessKeyId);
  const secretAccessKey = get(S3_ENV.secretAccessKey);
  const missing = [!accessKeyId && S3_ENV.accessKeyId, !secretAccessKey && S3_ENV.secretAccessKey].filter(Boolean);
  if (missing.length) throw new Error(`Secret ${secret}: no ${missing.join(' or ')} in its data (spec.storage.s3.credentialsSecretRef)`);
  const sessionToken = get(S3_ENV.sessionToken);
  return { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey!, ...(sessionToken ? { sessionToken } : {}) };
}

export interface OpenStoreOptions {
  /** Where pvc:// stores are mounted (default /artifacts). */
  pvcMount?: string;
  /** Settings of an s3:// store (default: s3SettingsFromEnv()). */
  s3?: S3Settings;
}

const registered = new Map<string, ArtifactStore>();

/**
 * Makes openStore(uri) without settings return this store in this process (local mode: the
 * phases of an in-process sandbox open the store by URI; the runner opened it with the spec's
 * settings). Returns the function that takes it back.
 */
export function registerStore(store: ArtifactStore): () => void {
  registered.set(store.uri, store);
  return () => {
    if (registered.get(store.uri) === store) registered.delete(store.uri);
  };
}

/** Opens a store from a spec.storage.uri. Errors name the URI and the forms expected. */
export function openStore(uri: string, opts: OpenStoreOptions = {}): ArtifactStore {
  if (!opts.s3 && !opts.pvcMount) {
    const r = registered.get(uri);
    if (r) return r;
  }
  if (uri.startsWith('file://')) return new FsStore(uri.slice('file://'.length), uri);
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\/.*)?$/.exec(uri);
  if (pvc) return new FsStore(join(opts.pvcMount ?? PVC_MOUNT, pvc[3] ?? ''), uri);
  if (uri.startsWith('s3://')) return new S3Store(uri, opts.s3 ?? s3SettingsFromEnv());
  throw new Error(`storage.uri ${JSON.stringify(uri)}: expected file:///dir, pvc://claim[/prefix] or s3://bucket[/prefix]`);
}
