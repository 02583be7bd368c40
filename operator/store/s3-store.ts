/**
 * S3-compatible artifact store (s3://bucket[/prefix]): AWS S3, GCS's S3 API, Ceph RGW, versitygw,
 * any server that speaks the S3 REST API. Built on the AWS SDK for JavaScript v3
 * (@aws-sdk/client-s3; its signing, retries and credential chain) and @aws-sdk/lib-storage's
 * Upload (multipart uploads for large objects, parts in parallel).
 *
 * Keys map to object keys `<prefix>/<key>`; listing treats "/" as a directory separator exactly
 * as the directory store does, so a key is the same in every store.
 *
 * Retries: the SDK's standard retry strategy (exponential backoff with jitter, a retry quota) on
 * throttling (SlowDown, 503), 5xx, timeouts and dropped connections, `maxAttempts` attempts in all.
 * Atomicity: S3 shows an object only when its PUT or CompleteMultipartUpload succeeds; a failed
 * multipart upload is aborted (leavePartsOnError: false), so nothing half-written is ever listed
 * or read.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { checkKey, StoreError, type ArtifactStore, type StoreErrorCode } from './store.ts';

/** Static credentials (from a Secret's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How to reach an s3:// store. Every field is optional: AWS S3 with the default credential chain. */
export interface S3Settings {
  /** S3-compatible endpoint URL (http://host:port, https://storage.googleapis.com); default: AWS S3 of the region. */
  endpoint?: string;
  /** Region (default us-east-1; S3-compatible servers mostly ignore it but it is signed). */
  region?: string;
  /**
   * Path-style addressing (http://endpoint/bucket/key) instead of virtual-hosted
   * (http://bucket.endpoint/key). Default: true with a custom endpoint, false for AWS S3.
   */
  forcePathStyle?: boolean;
  /** Static credentials; default: the SDK's chain (env AWS_ACCESS_KEY_ID..., shared files, web identity, IMDS). */
  credentials?: S3Credentials;
  /** Attempts per request, first one included (default 5). */
  maxAttempts?: number;
  /** Multipart part size, bytes (default 16 MiB; S3's minimum is 5 MiB). */
  partSizeBytes?: number;
  /** Parts uploaded at once (default 4). */
  queueSize?: number;
  /** Socket idle timeout per request, ms (default 60,000). */
  requestTimeoutMs?: number;
}

export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;

/** The bucket and key prefix of an s3:// URI; throws naming the URI and the expected form. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  const bucket = m?.[1] ?? '';
  // S3's bucket naming rules (3-63 lowercase letters, digits, dots, hyphens; letter or digit at both ends).
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`storage.uri ${JSON.stringify(uri)}: expected s3://<bucket>[/prefix] with a bucket name of 3-63 lowercase letters, digits, dots and hyphens`);
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix) {
    try {
      checkKey(prefix);
    } catch {
      throw new Error(`storage.uri ${JSON.stringify(uri)}: the prefix ${JSON.stringify(prefix)} must be a relative path without empty, "." or ".." segments`);
    }
  }
  return { bucket, prefix };
}

/** Errors of a connection that failed or dropped (retried by the SDK, then reported as Unavailable). */
const NETWORK_ERRORS = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|TimeoutError|RequestTimeout|socket hang up/;

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

export class S3Store implements ArtifactStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private bucketChecked = false;

  constructor(
    readonly uri: string,
    readonly settings: S3Settings = {},
  ) {
    ({ bucket: this.bucket, prefix: this.prefix } = parseS3Uri(uri));
    this.partSize = Math.max(MIN_PART_SIZE, settings.partSizeBytes ?? DEFAULT_PART_SIZE);
    this.queueSize = Math.max(1, settings.queueSize ?? 4);
    const config: S3ClientConfig = {
      region: settings.region || 'us-east-1',
      forcePathStyle: settings.forcePathStyle ?? Boolean(settings.endpoint),
      maxAttempts: settings.maxAttempts ?? 5,
      retryMode: 'standard',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: settings.requestTimeoutMs ?? 60_000 },
      ...(settings.endpoint ? { endpoint: settings.endpoint, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
    };
    this.client = new S3Client(config);
  }

  /** The object key of a store key. */
  objectKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private where(key?: string): string {
    const k = key === undefined ? this.prefix : this.objectKey(key);
    return `s3://${this.bucket}/${k}${this.settings.endpoint ? ` (endpoint ${this.settings.endpoint})` : ''}`;
  }

  /** An SDK error as a StoreError naming the bucket and key and what to check. */
  private fail(e: unknown, op: string, key?: string): StoreError {
    if (e instanceof StoreError) return e;
    const err = (e ?? {}) as SdkError;
    const status = err.$metadata?.httpStatusCode;
    const name = err.name ?? err.Code ?? err.code ?? 'Error';
    const tag = `[${status ? `HTTP ${status} ` : ''}${name}]`;
    const at = this.where(key);
    let code: StoreErrorCode = 'Other';
    let text: string;
    if (name === 'NoSuchBucket') {
      code = 'NoSuchBucket';
      text = `${op} ${at}: bucket "${this.bucket}" does not exist; create it or fix spec.storage.uri ${tag}`;
    } else if ((name === 'NoSuchKey' || name === 'NotFound') && key !== undefined) {
      code = 'NoSuchKey';
      text = `${op} ${at}: no such key "${this.objectKey(key!)}" in bucket "${this.bucket}" ${tag}`;
    } else if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'InvalidClientTokenId'].includes(name) || /UserNotFound$/.test(name)) {
      // (versitygw answers an unknown access key with 404 XAdminUserNotFound; AWS with 403 InvalidAccessKeyId)
      code = 'InvalidCredentials';
      text = `${op} ${at}: the server rejected the credentials for bucket "${this.bucket}"; check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (spec.storage.s3.credentialsSecretRef) ${tag}`;
    } else if (status === 403 || name === 'AccessDenied') {
      code = 'AccessDenied';
      text = `${op} ${at}: access denied to key "${key === undefined ? this.prefix : this.objectKey(key)}" in bucket "${this.bucket}"; check the credentials and the bucket's policy ${tag}`;
    } else if (status === undefined && !err.$metadata && !NETWORK_ERRORS.test(`${name} ${err.code ?? ''}`)) {
      // not a response nor a dropped connection: e.g. the body stream being uploaded failed
      text = `${op} ${at}: ${err.message ?? name}`;
    } else if (status === undefined || status >= 500 || status === 429) {
      code = 'Unavailable';
      text = `${op} ${at}: the store is unavailable after ${this.settings.maxAttempts ?? 5} attempts: ${err.message ?? name} ${tag}`;
    } else {
      text = `${op} ${at}: ${err.message ?? name} ${tag}`;
    }
    return new StoreError(text, code, status, { cause: e });
  }

  /** Runs one SDK call, mapping its errors. */
  private async call<R>(op: string, key: string | undefined, f: () => Promise<R>): Promise<R> {
    try {
      return await f();
    } catch (e) {
      throw this.fail(e, op, key);
    }
  }

  async put(key: string, data: string | Uint8Array): Promise<void> {
    const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (body.byteLength > this.partSize) return this.putStream(key, Readable.from([body]));
    const Key = this.objectKey(key);
    await this.call('put', key, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: body.byteLength })));
  }

  async putStream(key: string, body: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    const Key = this.objectKey(key);
    const stream = body instanceof Readable ? body : Readable.from(body);
    await this.call('put', key, async () => {
      // Small bodies go as one PUT, larger ones in parts; a failure aborts the multipart upload.
      const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key, Body: stream }, partSize: this.partSize, queueSize: this.queueSize, leavePartsOnError: false });
      await upload.done();
    });
  }

  async getStream(key: string): Promise<Readable> {
    const Key = this.objectKey(key);
    const res = await this.call('get', key, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key })));
    const body = res.Body as Readable | undefined;
    if (!body) throw new StoreError(`get ${this.where(key)}: the server sent no body`, 'Other');
    return body;
  }

  async get(key: string): Promise<Buffer> {
    const Key = this.objectKey(key);
    return this.call('get', key, async () => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!res.Body) throw new StoreError(`get ${this.where(key)}: the server sent no body`, 'Other');
      return Buffer.from(await res.Body.transformToByteArray());
    });
  }

  async getText(key: string): Promise<string> {
    return (await this.get(key)).toString('utf8');
  }

  /** Throws (NoSuchBucket, credentials...) unless the bucket can be listed; checked once per store. */
  private async checkBucket(op: string, key?: string): Promise<void> {
    if (this.bucketChecked) return;
    // a GET, not HEAD: its error has a body that tells a missing bucket from rejected credentials
    await this.call(op, key, () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, ...(this.prefix ? { Prefix: `${this.prefix}/` } : {}) })));
    this.bucketChecked = true;
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      this.bucketChecked = true;
      return true;
    } catch (e) {
      if ((e as SdkError).$metadata?.httpStatusCode !== 404) throw this.fail(e, 'exists', key);
    }
    // HEAD's 404 says "no such key", "no such bucket" (or, on some servers, "no such user") alike:
    // only a missing key is "absent"
    await this.checkBucket('exists', key);
    return false;
  }

  async list(prefix: string): Promise<string[]> {
    const rel = prefix.replace(/\/+$/, '');
    if (rel) checkKey(rel);
    const base = this.prefix ? `${this.prefix}/` : '';
    const Prefix = rel ? `${base}${rel}/` : base;
    const out: string[] = [];
    await this.call('list', rel || undefined, async () => {
      for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix })) {
        for (const o of page.Contents ?? []) if (o.Key?.startsWith(base)) out.push(o.Key.slice(base.length));
      }
    });
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    await this.call('delete', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })));
    // and the "directory" under it, 1,000 keys per request
    const under = await this.list(key);
    for (let i = 0; i < under.length; i += 1000) {
      const Objects = under.slice(i, i + 1000).map((k) => ({ Key: this.objectKey(k) }));
      const res = await this.call('delete', key, () => this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects, Quiet: true } })));
      if (res.Errors?.length) throw this.fail(Object.assign(new Error(res.Errors[0].Message ?? 'delete failed'), { name: res.Errors[0].Code }), 'delete', key);
    }
  }

  /** Closes the client's sockets. */
  destroy(): void {
    this.client.destroy();
  }
}
