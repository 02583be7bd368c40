/**
 * The OpenAI-compatible policy server (fastify + its TypeBox type provider): POST
 * /v1/chat/completions, GET /v1/models, GET /health, GET /metrics. Requests are validated against
 * protocol.ts's schema; every error, including a bad field, an unknown model or route, a method
 * a route does not take (405 with `Allow`, as vLLM and api.openai.com answer) or a body that is
 * not `application/json` (415), is OpenAI's `{error: {message, type, param, code}}` with the
 * matching HTTP status. The model runs
 * in a worker thread (engine-client.ts), so this thread keeps answering while it decodes.
 */
import Fastify, { type FastifyError } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { logger as rootLogger, type Logger } from '../logging/logger.ts';
import { EngineClient } from './engine-client.ts';
import { ServingMetrics } from './metrics.ts';
import { ApiError, ChatCompletionRequest, type ModelInfo } from './protocol.ts';
import { checkRequest } from './request-checks.ts';

export interface PolicyServerOptions {
  /** Model directory (config.json, safetensors, tokenizer files). */
  modelDir: string;
  /** PEFT LoRA adapter directory, applied on modelDir. */
  adapterDir?: string;
  /** The name clients send as `model` (and /v1/models lists). */
  servedModelName: string;
  host: string;
  /** 0: any free port. */
  port: number;
  /** Most sequences decoded together. Default 8. */
  maxBatch?: number;
  /** Serve /metrics. Default true. */
  metrics?: boolean;
  /** tfjs backend (auto, tfjs-node-gpu, tfjs-node, wasm, cpu). Default auto. */
  backend?: string;
  /** Cap on prompt + completion tokens; default the model's max_position_embeddings. */
  maxModelLen?: number;
  /** MiB of KV cache kept for prefix reuse across requests (an agent's turns); 0: off. Default 256. */
  prefixCacheMiB?: number;
  /** Seconds in-flight requests get to finish on close before they are failed. Default 30. */
  drainSeconds?: number;
  log?: Logger;
}

export interface PolicyServer {
  /** http://host:port */
  url: string;
  /** url + /v1: the base URL for OpenAI clients. */
  baseURL: string;
  info: ModelInfo;
  metrics: ServingMetrics;
  /** Stops accepting, lets in-flight requests finish (up to drainSeconds), stops the model. */
  close(): Promise<void>;
}

/** An ajv error's location as a field path: /messages/0/role -> messages[0].role. */
export function fieldOf(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (missing) parts.push(missing);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** The OpenAI error for any error fastify or a handler raised. */
export function toApiError(e: FastifyError | ApiError | Error): ApiError {
  if (e instanceof ApiError) return e;
  const fe = e as FastifyError;
  if (fe.validation && fe.validation.length) {
    const v = fe.validation[0];
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    const field = fieldOf(v.instancePath, missing);
    let what = missing ? 'is required' : (v.message ?? 'is invalid');
    // A string enum is a union of constants: list the allowed values.
    const allowed = fe.validation.filter((x) => x.instancePath === v.instancePath && x.keyword === 'const').map((x) => (x.params as { allowedValue?: unknown }).allowedValue);
    if (v.keyword === 'const' && allowed.length) what = `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`;
    return new ApiError(400, `${field || 'body'}: ${what}`, field || null, 'invalid_value');
  }
  const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 600 ? fe.statusCode : 500;
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e instanceof SyntaxError) return new ApiError(400, `the request body is not valid JSON: ${e.message}`, null, 'invalid_json');
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ApiError(400, 'the request body is empty; send a JSON object', null, 'invalid_json');
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType(undefined);
  return new ApiError(status, status >= 500 ? `internal error: ${e.message}` : e.message, null, status >= 500 ? null : 'invalid_request');
}

/** The methods fastify routes (HEAD is added with every GET). */
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * 405 for a method a known route does not take, as vLLM and api.openai.com answer: OpenAI's error
 * shape, code `method_not_allowed`. `allow` is the route's methods, for the `Allow` header.
 */
export function methodNotAllowed(method: string, url: string, allow: readonly string[]): ApiError {
  return new ApiError(405, `Invalid method for URL (${method} ${url}): this route takes ${allow.join(', ')}`, null, 'method_not_allowed');
}

/** 415 for a request body that is not JSON; `contentType` is the header as sent (undefined: none). */
export function unsupportedMediaType(contentType: string | undefined): ApiError {
  const sent = contentType ? `\`Content-Type: ${contentType}\`` : 'no Content-Type';
  return new ApiError(415, `Unsupported Media Type: the request was sent with ${sent}; send the body as JSON with \`Content-Type: application/json\``, null, 'unsupported_media_type');
}

/** Whether a Content-Type header names JSON (`application/json`, any parameters such as charset). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

/** Starts the server; resolves once it listens AND the model is loaded (rejects if loading fails). */
export async function startPolicyServer(o: PolicyServerOptions): Promise<PolicyServer> {
  const log = (o.log ?? rootLogger).child({ component: 'serve', model: o.servedModelName });
  const metrics = new ServingMetrics({ model: o.servedModelName });
  const engine = new EngineClient({ modelDir: o.modelDir, adapterDir: o.adapterDir, backend: o.backend ?? 'auto', maxBatch: o.maxBatch ?? 8, maxModelLen: o.maxModelLen, prefixCacheMiB: o.prefixCacheMiB });
  engine.onStats = (s) => metrics.engine(s);
  let info: ModelInfo | undefined;
  let draining = false;
  let loadError: string | undefined;
  const created = Math.floor(Date.now() / 1000);

  const app = buildApp({
    name: o.servedModelName,
    created,
    info: () => info,
    loadError: () => loadError,
    engine,
    metrics,
    serveMetrics: o.metrics !== false,
    log,
  });
  // While draining, new requests get an OpenAI 503 (probes included: the Pod is going away).
  app.addHook('onRequest', async (_req, reply) => {
    if (draining) return reply.status(503).header('connection', 'close').send(new ApiError(503, 'the server is shutting down', null, 'shutting_down').body());
  });
  // While draining, every response asks the client to close its connection.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (draining) void reply.header('connection', 'close');
    return payload;
  });

  engine.ready.then(
    (i) => (info = i),
    (e: Error) => (loadError = e.message),
  );
  try {
    await app.listen({ host: o.host, port: o.port });
  } catch (e) {
    // The port is taken (EADDRINUSE) or not allowed: stop the model worker too, then report.
    await engine.close().catch(() => undefined);
    throw e;
  }
  try {
    await engine.ready;
  } catch (e) {
    await app.close();
    await engine.close();
    throw new Error(`cannot load the model: ${(e as Error).message}`);
  }
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    baseURL: `${url}/v1`,
    info: info!,
    metrics,
    close: () =>
      (closing ??= (async () => {
        draining = true;
        const drain = setTimeout(() => void engine.close(), (o.drainSeconds ?? 30) * 1000);
        // Keep-alive connections that go idle after their last response are closed at once
        // (server.close() only closes those idle when it is called).
        const idle = setInterval(() => app.server.closeIdleConnections(), 100);
        await app.close();
        clearTimeout(drain);
        clearInterval(idle);
        await engine.close();
      })()),
  };
}

interface AppContext {
  name: string;
  created: number;
  info: () => ModelInfo | undefined;
  loadError: () => string | undefined;
  engine: EngineClient;
  metrics: ServingMetrics;
  serveMetrics: boolean;
  log: Logger;
}

/** The fastify app: error shape, metrics hook and routes. */
function buildApp(ctx: AppContext) {
  const { log, metrics } = ctx;
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const api = toApiError(err);
    // 503 is a state, not a fault (the model still loading, the server draining): clients wait and retry
    if (api.status === 503) log.info('request refused: the server is not ready', { error: err.message });
    else if (api.status >= 500) log.error('request failed', { error: err.message });
    void reply.status(api.status).send(api.body());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(new ApiError(404, `no route ${req.method} ${req.url}`, null, 'not_found').body());
  });
  // Each route's methods, collected as routes are added (onRoute runs synchronously), for the 405s below.
  const routeMethods = new Map<string, Set<string>>();
  let collecting = true;
  app.addHook('onRoute', (r) => {
    if (!collecting) return;
    const methods = routeMethods.get(r.url) ?? new Set<string>();
    for (const m of [r.method].flat()) methods.add(m);
    if (methods.has('GET')) methods.add('HEAD');
    routeMethods.set(r.url, methods);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, code: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    done();
  });

  app.get('/health', async (_req, reply) => {
    const info = ctx.info();
    if (!info) return reply.status(503).send({ status: ctx.loadError() ? 'failed' : 'loading', error: ctx.loadError() });
    const s = ctx.engine.stats;
    return { status: 'ok', model: ctx.name, backend: info.backend, running: s.running, waiting: s.waiting };
  });

  const modelCard = () => ({ id: ctx.name, object: 'model', created: ctx.created, owned_by: 'entropo', max_model_len: ctx.info()?.contextLength ?? null });
  app.get('/v1/models', async () => ({ object: 'list', data: [modelCard()] }));
  app.get<{ Params: { model: string } }>('/v1/models/:model', async (req) => {
    if (req.params.model !== ctx.name) throw new ApiError(404, `The model \`${req.params.model}\` does not exist. This server serves \`${ctx.name}\`.`, 'model', 'model_not_found');
    return modelCard();
  });

  if (ctx.serveMetrics) {
    const registry = metrics.registry;
    app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  }

  // Checked before the body is parsed: fastify would read text/plain as a string and report
  // "body: must be object", which does not say what is wrong.
  const jsonOnly = async (req: { headers: Record<string, string | string[] | undefined> }) => {
    const ct = req.headers['content-type'];
    const sent = Array.isArray(ct) ? ct.join(', ') : ct;
    if (!isJsonContentType(sent)) throw unsupportedMediaType(sent);
  };
  app.post('/v1/chat/completions', { schema: { body: ChatCompletionRequest }, onRequest: jsonOnly }, async (req, reply) => {
    const body = req.body;
    checkRequest(body as Record<string, unknown>);
    if (body.model !== ctx.name) throw new ApiError(404, `The model \`${body.model}\` does not exist. This server serves \`${ctx.name}\`.`, 'model', 'model_not_found');
    if (!ctx.info()) throw new ApiError(503, 'the model is still loading');
    const abort = new AbortController();
    // The response closing before it was written: the client went away; stop generating.
    const onClose = () => {
      if (!reply.raw.writableEnded) abort.abort();
    };
    reply.raw.on('close', onClose);
    try {
      const r = await ctx.engine.complete(body, abort.signal);
      metrics.firstToken.observe(r.firstTokenSeconds);
      metrics.queueTime.observe(r.queueSeconds);
      return {
        id: `chatcmpl-${randomBytes(12).toString('hex')}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: ctx.name,
        choices: r.choices,
        usage: r.usage,
        system_fingerprint: null,
      };
    } finally {
      reply.raw.off('close', onClose);
    }
  });

  // A known route asked with another method: 405 with `Allow` (an unknown path stays 404).
  collecting = false;
  for (const [url, methods] of routeMethods) {
    const allow = HTTP_METHODS.filter((m) => methods.has(m));
    const others = HTTP_METHODS.filter((m) => !methods.has(m));
    if (!others.length) continue;
    app.route({
      method: others,
      url,
      handler: async (req, reply) => reply.status(405).header('allow', allow.join(', ')).send(methodNotAllowed(req.method, req.url, allow).body()),
    });
  }
  return app;
}
