/**
 * A stand-in for the model: a real HTTP server on 127.0.0.1 speaking the chat completions API,
 * replaying scripted assistant messages and recording every request it got. It replaces the
 * model only; the client (the official openai package) and everything above it are the real code.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ScriptedToolCall {
  id?: string;
  name: string;
  /** An object is sent as its JSON; a string is sent as is (it may be invalid JSON on purpose). */
  arguments: string | Record<string, unknown>;
}

export type ScriptedReply =
  | {
      content?: string | null;
      tool_calls?: ScriptedToolCall[];
      finish_reason?: 'stop' | 'length' | 'tool_calls';
      /** Reported usage; default: 4 characters a token; null: no usage field. */
      usage?: { prompt_tokens: number; completion_tokens: number } | null;
      /** Wait this long before answering. */
      delayMs?: number;
    }
  | { status: number; error: string };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

/** A fixed sequence of replies, or a function of the request (turn: assistant messages so far). */
export type Script = ScriptedReply[] | ((req: RecordedRequest, turn: number) => ScriptedReply);

export interface ScriptedLLM {
  /** Base URL for the client, ending in /v1. */
  url: string;
  /** Chat completion requests (GET /v1/models is counted in modelListRequests, not here). */
  requests: RecordedRequest[];
  /** How many times GET /v1/models was asked. */
  readonly modelListRequests: number;
  close(): Promise<void>;
}

const tokens = (s: string) => Math.ceil(s.length / 4);

/**
 * Starts the server. `options.host` (default 127.0.0.1) and `options.port` (default: any free
 * port) choose where it listens; a Pod serving other Pods listens on 0.0.0.0.
 */
export async function startScriptedLLM(script: Script, options: { host?: string; port?: number; models?: string[] } = {}): Promise<ScriptedLLM> {
  const requests: RecordedRequest[] = [];
  let modelListRequests = 0;
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      // GET /v1/models, as vLLM answers it (the models this server "serves": options.models, default ["scripted"]).
      if (req.method === 'GET' && /\/models$/.test(req.url ?? '')) {
        modelListRequests++;
        send(200, { object: 'list', data: (options.models ?? ['scripted']).map((id) => ({ id, object: 'model', created: 0, owned_by: 'scripted' })) });
        return;
      }
      const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(rec);
      if (req.method !== 'POST' || !/\/chat\/completions$/.test(req.url ?? '')) {
        send(404, { error: { message: `no route ${req.method} ${req.url}`, type: 'not_found' } });
        return;
      }
      const turn = Array.isArray(body?.messages) ? body.messages.filter((m: any) => m.role === 'assistant').length : 0;
      let reply: ScriptedReply;
      if (typeof script === 'function') reply = script(rec, turn);
      else reply = script[next++] ?? { content: 'I have nothing more to do.' };
      if ('status' in reply) {
        send(reply.status, { error: { message: reply.error, type: 'invalid_request_error', code: null } });
        return;
      }
      const toolCalls = (reply.tool_calls ?? []).map((c, i) => ({
        id: c.id ?? `call_${requests.length}_${i}`,
        type: 'function',
        function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
      }));
      const message: any = { role: 'assistant', content: reply.content ?? null };
      if (toolCalls.length) message.tool_calls = toolCalls;
      const prompt = tokens(JSON.stringify(body?.messages ?? []));
      const completion = tokens(JSON.stringify(message));
      const usage =
        reply.usage === null
          ? undefined
          : reply.usage
            ? { ...reply.usage, total_tokens: reply.usage.prompt_tokens + reply.usage.completion_tokens }
            : { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
      const payload = {
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body?.model ?? 'scripted',
        choices: [{ index: 0, message, finish_reason: reply.finish_reason ?? (toolCalls.length ? 'tool_calls' : 'stop'), logprobs: null }],
        ...(usage ? { usage } : {}),
      };
      const timer = setTimeout(() => send(200, payload), reply.delayMs ?? 0);
      res.on('close', () => clearTimeout(timer));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/v1`,
    requests,
    get modelListRequests() {
      return modelListRequests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
