import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { isStarting, waitUntilServing } from '../../../operator/rollout/endpoint-wait.ts';

/** A port nothing listens on (bound, then closed). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A server on `port` answering GET /v1/models with `status` (200: a model list). */
async function serve(port: number, status: () => number): Promise<{ server: Server; polls: () => number }> {
  let polls = 0;
  const server = createServer((req, res) => {
    polls++;
    const code = status();
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(code === 200 ? { object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: 'x' }] } : { error: { message: 'the model is still loading', type: 'service_unavailable' } }));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, polls: () => polls };
}

test('waits while the port refuses connections and then while it answers 503; answered once it lists models', async (t) => {
  const port = await freePort();
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'x', maxRetries: 0 });
  let up: Awaited<ReturnType<typeof serve>> | undefined;
  let loading = 3;
  // nothing listens for a while, then a server that answers 503 three times, then 200
  const later = setTimeout(() => void serve(port, () => (loading-- > 0 ? 503 : 200)).then((s) => (up = s)), 300);
  t.teardown(() => {
    clearTimeout(later);
    up?.server.close();
  });
  const w = await waitUntilServing(client, { until: Date.now() + 60_000, pauseMs: 50, maxPauseMs: 200 });
  t.true(w.answered);
  t.true(w.seconds > 0);
  t.is(up!.polls(), 4, '3 answers of 503, then the model list');
});

test('an answer that is not a starting server ends the wait at once; a server that never comes gives up at until', async (t) => {
  const port = await freePort();
  const s = await serve(port, () => 401);
  t.teardown(() => s.server.close());
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'x', maxRetries: 0 });
  t.true((await waitUntilServing(client, { until: Date.now() + 60_000 })).answered);
  t.is(s.polls(), 1);

  const dead = new OpenAI({ baseURL: `http://127.0.0.1:${await freePort()}/v1`, apiKey: 'x', maxRetries: 0 });
  const gaveUp = await waitUntilServing(dead, { until: Date.now() + 400, pauseMs: 50, maxPauseMs: 100 });
  t.false(gaveUp.answered);
});

test('isStarting: refused connections and 502/503/504 are a server starting; 400/401/404/500 are not', (t) => {
  const err = (status: number) => OpenAI.APIError.generate(status, { error: { message: 'x' } }, 'x', new Headers());
  t.true(isStarting(new OpenAI.APIConnectionError({ message: 'refused' })));
  for (const s of [502, 503, 504]) t.true(isStarting(err(s)), String(s));
  for (const s of [400, 401, 404, 500]) t.false(isStarting(err(s)), String(s));
});
