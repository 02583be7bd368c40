/**
 * The operator's HTTP layer to the API server. Every request the operator makes (lists, watches,
 * gets, patches, lease updates) goes through `RestClient.send`, which counts it in
 * rest_client_requests_total{code,method,host} (code "<error>" for a request that got no response,
 * like client-go).
 *
 * Authentication and TLS come from @kubernetes/client-node's KubeConfig (kubeconfig files, in-cluster
 * service-account tokens, exec plugins); the transport is node:https with ONE keep-alive agent, so
 * requests reuse connections (KubeConfig's own fetch path builds a new agent per request).
 *
 * Throttling (client-go's rest.Request retry rules): an answer 429, or 5xx, that carries a
 * Retry-After header is re-sent after that many seconds, up to `maxRetries` (default 10) times.
 * A Retry-After above `maxRetryAfterMs` (default 10 s) is not waited for here: the ApiError carries
 * `retryAfterMs` and the caller (the controller's work queue, the informer) waits at least that long
 * before trying again. No request is ever re-sent sooner than the server asked.
 */
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type ClientRequest } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RuntimeMetrics } from '../../metrics/registry.ts';
import type { KubeObject, WatchEvent } from './types.ts';
import { headChars } from '../../util/text.ts';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
    /** The server's Retry-After in ms (429 / 5xx answers that carried one). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The Retry-After of an error in ms, if it is an ApiError that carried one. */
export const retryAfterOf = (e: unknown): number | undefined => (e instanceof ApiError ? e.retryAfterMs : undefined);

/**
 * Retry-After (RFC 9110: delay-seconds or an HTTP-date) in ms, for the answers client-go retries:
 * 429 and 5xx. undefined when the status is another or the header is missing or malformed.
 */
export function retryAfterMs(status: number, header: string | string[] | undefined, now: number = Date.now()): number | undefined {
  if (status !== 429 && status < 500) return undefined;
  const v = Array.isArray(header) ? header[0] : header;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The watch got no bytes (not even a bookmark) for longer than its idle limit. */
export class WatchSilentError extends Error {
  constructor(ms: number) {
    super(`watch silent for ${ms} ms`);
    this.name = 'WatchSilentError';
  }
}

export const isConflict = (e: unknown): boolean => e instanceof ApiError && e.code === 409;
export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isGone = (e: unknown): boolean => e instanceof ApiError && e.code === 410;
export const isAlreadyExists = (e: unknown): boolean => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Content type of the body; default application/json. Patches: application/merge-patch+json, application/apply-patch+yaml. */
  contentType?: string;
  /** Socket idle timeout; default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Do not parse a successful answer's body (creates whose result the caller never reads). */
  discardResponse?: boolean;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Abort with WatchSilentError when no byte arrives for this long (the watchdog). */
  idleTimeoutMs: number;
}

export interface RestClientOptions {
  metrics?: RuntimeMetrics;
  userAgent?: string;
  /** How long an authorization header is reused before asking the KubeConfig again (token rotation). */
  authRefreshMs?: number;
  /** Re-sends of a request answered 429 / 5xx with Retry-After (client-go: 10). 0 disables. */
  maxRetries?: number;
  /** The longest Retry-After waited for inside the client; longer ones go back to the caller. Default 10 s. */
  maxRetryAfterMs?: number;
}

interface Transport {
  base: URL;
  tls: boolean;
  agent: HttpsAgent | HttpAgent;
  tlsOptions: Pick<HttpsRequestOptions, 'servername'>;
}

export function buildQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts = Object.entries(q)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export class RestClient {
  readonly host: string;
  private authHeaders: Record<string, string> = {};
  private authAt = -Infinity;

  private constructor(
    private readonly kc: KubeConfig,
    private readonly transport: Transport,
    private readonly options: RestClientOptions,
  ) {
    this.host = transport.base.host;
  }

  static async fromKubeConfig(kc: KubeConfig, options: RestClientOptions = {}): Promise<RestClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const base = new URL(cluster.server);
    const tls = base.protocol === 'https:';
    const probe: HttpsRequestOptions = {};
    await kc.applyToHTTPSOptions(probe);
    const agentOptions = { keepAlive: true, maxSockets: 128, keepAliveMsecs: 30_000 };
    const agent = tls
      ? new HttpsAgent({
          ...agentOptions,
          ca: probe.ca,
          cert: probe.cert,
          key: probe.key,
          pfx: probe.pfx,
          passphrase: probe.passphrase,
          rejectUnauthorized: probe.rejectUnauthorized,
        })
      : new HttpAgent(agentOptions);
    return new RestClient(kc, { base, tls, agent, tlsOptions: { servername: probe.servername } }, options);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.transport.agent.destroy();
  }

  private async headers(): Promise<Record<string, string>> {
    const now = Date.now();
    if (now - this.authAt > (this.options.authRefreshMs ?? 60_000)) {
      const o: HttpsRequestOptions = {};
      await this.kc.applyToHTTPSOptions(o);
      const h: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers ?? {})) if (typeof v === 'string') h[k] = v;
      if (o.auth) h.Authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
      this.authHeaders = h;
      this.authAt = now;
    }
    return this.authHeaders;
  }

  private count(code: string, method: string): void {
    this.options.metrics?.restRequests.inc({ code, method, host: this.host });
  }

  /** Opens a request; resolves with the response once headers arrived. Counts it. */
  private async open(method: string, path: string, opts: RequestOptions): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    const { base, tls, agent, tlsOptions } = this.transport;
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = {
      ...(await this.headers()),
      Accept: 'application/json',
      'User-Agent': this.options.userAgent ?? 'entropo-operator',
    };
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const prefix = base.pathname.replace(/\/$/, '');
    const send = tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const req = send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port || (tls ? 443 : 80),
          method,
          path: `${prefix}${path}${buildQuery(opts.query)}`,
          headers,
          agent,
          signal: opts.signal,
          ...tlsOptions,
        },
        (res) => {
          settled = true;
          this.count(String(res.statusCode ?? 0), method);
          resolve({ req, res });
        },
      );
      req.on('error', (e) => {
        if (!settled) {
          settled = true;
          this.count('<error>', method);
          reject(e);
        }
      });
      if (opts.timeoutMs !== 0) req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.end(body);
    });
  }

  /**
   * One request with a JSON answer; a non-2xx answer throws ApiError (from the Status object).
   * 429 / 5xx with Retry-After: waits and re-sends (see the module comment); the final error
   * carries retryAfterMs.
   */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const maxRetries = this.options.maxRetries ?? 10;
    const cap = this.options.maxRetryAfterMs ?? 10_000;
    for (let attempt = 0; ; attempt++) {
      const { res } = await this.open(method, path, opts);
      const text = await readAll(res);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return (text && !opts.discardResponse ? JSON.parse(text) : undefined) as T;
      const wait = retryAfterMs(status, res.headers['retry-after']);
      const err = toApiError(status, text, `${method} ${path}`, wait);
      if (wait === undefined || attempt >= maxRetries || wait > cap || opts.signal?.aborted) throw err;
      await delay(wait, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }

  /**
   * A watch: calls onEvent for each event line until the server ends the stream (resolves), the
   * signal aborts (resolves), the connection fails (rejects) or nothing arrives for idleTimeoutMs
   * (rejects with WatchSilentError). A non-200 answer rejects with ApiError (e.g. 410 Gone).
   */
  async watch<T extends KubeObject>(path: string, query: Query, onEvent: (e: WatchEvent<T>) => void, opts: WatchOptions): Promise<void> {
    if (opts.signal?.aborted) return;
    // The socket timeout bounds the wait for the answer's headers; the watchdog below, the stream.
    const { req, res } = await this.open('GET', path, { query: { ...query, watch: true }, timeoutMs: opts.idleTimeoutMs + 1_000, signal: opts.signal });
    const status = res.statusCode ?? 0;
    if (status !== 200) throw toApiError(status, await readAll(res), `WATCH ${path}`, retryAfterMs(status, res.headers['retry-after']));
    return new Promise<void>((resolve, reject) => {
      let buffered = '';
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve();
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => finish(new WatchSilentError(opts.idleTimeoutMs)), opts.idleTimeoutMs);
      };
      const onAbort = () => {
        req.destroy();
        finish();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      arm();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        arm();
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent<T>);
          } catch (e) {
            finish(e as Error);
            return;
          }
        }
      });
      res.on('end', () => finish());
      res.on('error', (e) => finish(opts.signal?.aborted ? undefined : e));
      res.on('close', () => finish(opts.signal?.aborted || res.complete ? undefined : new Error('watch connection closed')));
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function toApiError(code: number, text: string, what: string, retryAfter?: number): ApiError {
  try {
    const s = JSON.parse(text) as { kind?: string; code?: number; reason?: string; message?: string; details?: unknown };
    if (s.kind === 'Status') return new ApiError(s.code ?? code, s.reason ?? '', `${what}: ${s.message ?? text}`, s.details, retryAfter);
  } catch {
    /* not JSON */
  }
  return new ApiError(code, '', `${what}: HTTP ${code} ${headChars(text, 200)}`, undefined, retryAfter);
}
