import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import OpenAI from 'openai';
import { startPolicyServer, type PolicyServer } from '../../../operator/serving/server.ts';
import { loadChatTokenizer } from '../../../operator/training/chat.ts';
import { writeTinyModel } from '../../helpers/tiny-model.ts';
import { turnRequest } from '../../../operator/rollout/agent/loop.ts';
import { TOOLS } from '../../../operator/rollout/tools/schemas.ts';
import type { Toolbox } from '../../../operator/rollout/tools/toolbox.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-serve-'));
const modelDir = writeTinyModel(path.join(tmp, 'tiny'), { seed: 7, contextLength: 2048 });
const NAME = 'tiny';
let server: PolicyServer;
let client: OpenAI;

test.before(async () => {
  server = await startPolicyServer({ modelDir, servedModelName: NAME, host: '127.0.0.1', port: 0, maxBatch: 8, backend: 'wasm' });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0 });
});
test.after.always(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const user = (content: string) => [{ role: 'user' as const, content }];

test.serial('GET /v1/models lists the served name; /health is ok', async (t) => {
  const models = await client.models.list();
  t.deepEqual(models.data.map((m) => m.id), [NAME]);
  t.is((models.data[0] as unknown as { max_model_len: number }).max_model_len, 2048);
  const health = await fetch(`${server.url}/health`);
  t.is(health.status, 200);
  t.like(await health.json(), { status: 'ok', model: NAME, backend: 'wasm' });
});

test.serial('a seeded completion is reproducible; usage counts the prompt as the chat template renders it; n and logprobs', async (t) => {
  const body = { model: NAME, messages: user('Fix the bug in utils.py.'), temperature: 0.9, top_p: 0.95, seed: 42, max_tokens: 16, n: 2, logprobs: true, top_logprobs: 3 };
  const a = await client.chat.completions.create(body);
  const b = await client.chat.completions.create(body);
  const c = await client.chat.completions.create({ ...body, seed: 43 });
  t.is(a.object, 'chat.completion');
  t.is(a.model, NAME);
  t.is(a.choices.length, 2);
  t.deepEqual(a.choices.map((x) => x.message.content), b.choices.map((x) => x.message.content));
  t.notDeepEqual(a.choices.map((x) => x.message.content), c.choices.map((x) => x.message.content));
  t.notDeepEqual(a.choices[0].message.content, a.choices[1].message.content);
  const tok = loadChatTokenizer(modelDir);
  const promptTokens = tok.encode(tok.render(user('Fix the bug in utils.py.'), { addGenerationPrompt: true })).length;
  t.is(a.usage!.prompt_tokens, promptTokens);
  const completion = a.choices.reduce((s, ch) => s + ch.logprobs!.content!.length, 0);
  t.is(a.usage!.completion_tokens, completion);
  t.is(a.usage!.total_tokens, promptTokens + completion);
  for (const ch of a.choices) {
    t.is(ch.finish_reason, ch.logprobs!.content!.length === 16 ? 'length' : 'stop');
    for (const lp of ch.logprobs!.content!) {
      t.true(lp.logprob <= 0);
      t.is(lp.top_logprobs.length, 3);
      t.true(lp.top_logprobs[0].logprob >= lp.top_logprobs[2].logprob);
      t.true(lp.logprob <= lp.top_logprobs[0].logprob + 1e-9);
    }
  }
});

test.serial('concurrent requests give the same tokens as the same requests one by one', async (t) => {
  const reqs = [0, 1, 2, 3, 4, 5].map((i) => ({
    model: NAME,
    messages: user(`task ${i}: ${'x'.repeat(i * 7)}`),
    temperature: i % 3 === 0 ? 0 : 0.8,
    top_p: 0.9,
    top_k: 20,
    seed: 100 + i,
    max_tokens: 10 + 6 * i,
    logprobs: true,
  }));
  const alone = [];
  for (const r of reqs) alone.push(await client.chat.completions.create(r as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming));
  const together = await Promise.all(reqs.map((r) => client.chat.completions.create(r as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming)));
  const tokens = (c: OpenAI.Chat.Completions.ChatCompletion) => c.choices[0].logprobs!.content!.map((x) => x.token).join('|');
  t.deepEqual(together.map(tokens), alone.map(tokens));
  t.deepEqual(together.map((c) => c.usage), alone.map((c) => c.usage));
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const mean = Number(/^entropo_serving_mean_batch_size (\S+)$/m.exec(metrics)?.[1]);
  t.true(mean > 1, `mean batch ${mean}: the concurrent requests were decoded together`);
});

test.serial('bad input is an OpenAI error with the HTTP status and the field named', async (t) => {
  const bad = async (body: Record<string, unknown>) => {
    const e = await t.throwsAsync(client.chat.completions.create({ model: NAME, messages: user('hi'), ...body } as never));
    return e as InstanceType<typeof OpenAI.APIError>;
  };
  let e = await bad({ temperature: 3 });
  t.true(e instanceof OpenAI.BadRequestError);
  t.like(e.error, { type: 'invalid_request_error', param: 'temperature' });
  t.regex(e.message, /temperature: must be <= 2/);
  e = await bad({ messages: [{ role: 'wizard', content: 'x' }] });
  t.is(e.status, 400);
  t.like(e.error, { param: 'messages[0].role' });
  t.regex(e.message, /must be one of "system", "developer", "user", "assistant", "tool"/);
  e = await bad({ messages: [{ role: 'user' }] });
  t.like(e.error, { param: 'messages[0].content' });
  e = await bad({ max_tokens: 0 });
  t.like(e.error, { param: 'max_tokens' });
  e = await bad({ n: 1000 });
  t.like(e.error, { param: 'n' });
  e = await bad({ top_logprobs: 2 });
  t.like(e.error, { param: 'top_logprobs' });
  e = await bad({ presence_penalty: 1 });
  t.like(e.error, { param: 'presence_penalty', code: 'unsupported_parameter' });
  e = await bad({ model: 'gpt-4' });
  t.true(e instanceof OpenAI.NotFoundError);
  t.like(e.error, { type: 'invalid_request_error', param: 'model', code: 'model_not_found' }); // as api.openai.com: 404, invalid_request_error, model_not_found
  e = await bad({ messages: user('y'.repeat(5000)) });
  t.is(e.status, 400);
  t.like(e.error, { param: 'messages', code: 'context_length_exceeded' });
  t.regex(e.message, /maximum context length is 2048 tokens/);
  const raw = await fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": ' });
  t.is(raw.status, 400);
  t.like(await raw.json(), { error: { type: 'invalid_request_error', param: null, code: 'invalid_json' } });
  const missing = await fetch(`${server.baseURL}/nothing`);
  t.is(missing.status, 404);
  t.like(await missing.json(), { error: { type: 'invalid_request_error' } });
});

test.serial('what the server cannot honour is a 400 naming the parameter, with a code: response_format, tool_choice, non-text parts, unknown parameters, bad JSON', async (t) => {
  const post = async (body: string) => {
    const r = await fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: r.status, error: ((await r.json()) as { error: { message: string; type: string; param: string | null; code: string | null } }).error };
  };
  const bad = async (extra: Record<string, unknown>) => post(JSON.stringify({ model: NAME, messages: user('hi'), max_tokens: 2, ...extra }));
  const tool = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } });

  let r = await bad({ response_format: { type: 'json_object' } });
  t.is(r.status, 400);
  t.like(r.error, { type: 'invalid_request_error', param: 'response_format', code: 'unsupported_parameter' });
  t.regex(r.error.message, /only \{"type": "text"\} is supported.*got type "json_object"/);
  r = await bad({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } });
  t.like(r.error, { param: 'response_format' });
  t.regex(r.error.message, /got type "json_schema"/);

  r = await bad({ tools: [tool('view'), tool('finish')], tool_choice: { type: 'function', function: { name: 'deploy' } } });
  t.is(r.status, 400);
  t.like(r.error, { param: 'tool_choice', code: 'invalid_value' });
  t.regex(r.error.message, /"deploy", which is not in tools \(offered: "view", "finish"\)/);
  r = await bad({ tool_choice: { type: 'function', function: { name: 'deploy' } } });
  t.regex(r.error.message, /no tools were given/);

  r = await bad({ messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] });
  t.is(r.status, 400);
  t.like(r.error, { param: 'messages[0].content[1].type', code: 'unsupported_content' });
  t.regex(r.error.message, /only text content parts are supported \(got "image_url"\)/);

  r = await bad({ bogus_param: 1 });
  t.is(r.status, 400);
  t.like(r.error, { param: 'bogus_param', code: 'unknown_parameter' });
  t.is(r.error.message, 'Unrecognized request argument supplied: bogus_param');
  r = await bad({ logit_bias: { '42': 5 } });
  t.like(r.error, { param: 'logit_bias', code: 'unsupported_parameter' });

  // Every 400 carries a code: bad JSON, an empty body, a value that needs another.
  r = await post('{"model": ');
  t.like(r.error, { param: null, code: 'invalid_json' });
  t.is(r.status, 400);
  r = await post('');
  t.is(r.status, 400);
  t.like(r.error, { code: 'invalid_json' });
  r = await bad({ top_logprobs: 2 });
  t.like(r.error, { param: 'top_logprobs', code: 'invalid_value' });
  r = await bad({ temperature: 3 });
  t.like(r.error, { param: 'temperature', code: 'invalid_value' });
});

test.serial('text content parts, response_format text, the parameters real clients send and our own agent loop\'s request are accepted', async (t) => {
  const ok = await client.chat.completions.create({
    model: NAME,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Fix ' }, { type: 'text', text: 'the bug.' }] }],
    max_tokens: 2,
    seed: 1,
    response_format: { type: 'text' },
    user: 'u-1',
    metadata: { run: 'x' },
    store: false,
    parallel_tool_calls: false,
    stream: false,
    stream_options: null,
    service_tier: 'auto',
    reasoning_effort: 'low',
    frequency_penalty: 0,
    presence_penalty: 0,
    logit_bias: {},
    modalities: ['text'],
  });
  t.is(ok.choices.length, 1);
  const same = await client.chat.completions.create({ model: NAME, messages: user('Fix the bug.'), max_tokens: 2, seed: 1 });
  t.is(ok.usage!.prompt_tokens, same.usage!.prompt_tokens, 'text parts are joined as one string');
  const toolbox = { tools: TOOLS } as unknown as Toolbox;
  const body = turnRequest(
    { model: NAME, sampling: { temperature: 0.7, top_p: 0.8, top_k: 20, seed: 9, max_tokens: 4 }, limits: { maxSteps: 1, maxTokens: 1000, toolTimeoutSeconds: 1, toolCallFormat: 'Native' }, toolbox },
    user('hi'),
    4,
  );
  const turn = await client.chat.completions.create(body as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
  t.is(turn.model, NAME);
  const named = await client.chat.completions.create({ model: NAME, messages: user('hi'), max_tokens: 2, tools: TOOLS as never, tool_choice: { type: 'function', function: { name: TOOLS[0].function.name } } });
  t.is(named.choices.length, 1);
});

test.serial('a known route asked with another method is a 405 with Allow; unknown paths stay 404', async (t) => {
  const wrong = async (method: string, route: string, allow: string) => {
    const r = await fetch(`${server.url}${route}`, { method });
    t.is(r.status, 405, `${method} ${route}`);
    t.is(r.headers.get('allow'), allow);
    const body = (await r.json()) as { error: { message: string; type: string; param: null; code: string } };
    t.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    t.like(body.error, { type: 'invalid_request_error', param: null, code: 'method_not_allowed' });
    t.true(body.error.message.includes(`${method} ${route}`), body.error.message);
  };
  await wrong('GET', '/v1/chat/completions', 'POST');
  await wrong('PUT', '/v1/chat/completions', 'POST');
  await wrong('POST', '/v1/models', 'GET, HEAD');
  await wrong('DELETE', `/v1/models/${NAME}`, 'GET, HEAD');
  await wrong('POST', '/health', 'GET, HEAD');
  // The OpenAI client's view: an APIError with status 405.
  const e = await t.throwsAsync(client.get('/chat/completions'));
  t.is((e as InstanceType<typeof OpenAI.APIError>).status, 405);
  for (const [method, route] of [['GET', '/v1/nothing'], ['POST', '/v1/completions'], ['GET', '/v1/chat/completions/x']]) {
    const r = await fetch(`${server.url}${route}`, { method });
    t.is(r.status, 404, `${method} ${route}`);
    t.like(await r.json(), { error: { type: 'invalid_request_error', code: 'not_found' } });
  }
  t.is((await fetch(`${server.url}/v1/models`)).status, 200);
  t.is((await fetch(`${server.url}/health`, { method: 'HEAD' })).status, 200);
});

test.serial('a chat request whose body is not sent as application/json is a 415 naming the expected Content-Type', async (t) => {
  const json = JSON.stringify({ model: NAME, messages: user('hi'), max_tokens: 2 });
  const post = (headers: Record<string, string>, body: string | Uint8Array) => fetch(`${server.baseURL}/chat/completions`, { method: 'POST', headers, body });
  for (const [headers, sent] of [
    [{ 'content-type': 'text/plain' }, 'Content-Type: text/plain'],
    [{ 'content-type': 'application/x-www-form-urlencoded' }, 'Content-Type: application/x-www-form-urlencoded'],
  ] as const) {
    const r = await post(headers, json);
    t.is(r.status, 415, sent);
    const body = (await r.json()) as { error: { message: string } };
    t.like(body.error, { type: 'invalid_request_error', param: null, code: 'unsupported_media_type' });
    t.true(body.error.message.includes(sent), body.error.message);
    t.true(body.error.message.includes('Content-Type: application/json'), body.error.message);
    t.false(body.error.message.includes('must be object'), body.error.message);
  }
  // No Content-Type at all (a Uint8Array body: fetch adds none).
  const none = await post({}, new TextEncoder().encode(json));
  t.is(none.status, 415);
  t.regex(((await none.json()) as { error: { message: string } }).error.message, /no Content-Type.*Content-Type: application\/json/);
  // The same body as JSON (charset allowed) is served.
  const ok = await post({ 'content-type': 'application/json; charset=utf-8' }, json);
  t.is(ok.status, 200);
  t.is(((await ok.json()) as { object: string }).object, 'chat.completion');
});

test.serial('/health answers while a long completion decodes', async (t) => {
  const long = client.chat.completions.create({ model: NAME, messages: user('write a lot'), temperature: 1, seed: 1, max_tokens: 1800, ignore_eos: true } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
  let done = false;
  void long.finally(() => (done = true));
  const answered: number[] = [];
  // Polled every 20 ms from the start: a fast machine decodes the 1800 tokens in well under a second.
  while (!done) {
    const t0 = performance.now();
    const h = await fetch(`${server.url}/health`);
    if (!done) {
      t.is(h.status, 200);
      answered.push(performance.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const r = await long;
  t.log(`health answered ${answered.length} times`);
  t.is(r.usage!.completion_tokens, 1800);
  t.true(answered.length >= 3, `health answered ${answered.length} times during the decode`);
  // Generous: the machine is shared; a blocked event loop would hold /health for the whole decode.
  t.true(Math.max(...answered) < 1000, `slowest /health ${Math.max(...answered).toFixed(0)} ms`);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.regex(metrics, /entropo_serving_requests_total\{route="\/health",code="200"\} \d+/);
  t.regex(metrics, /entropo_serving_time_to_first_token_seconds_count \d+/);
  const generated = Number(/^entropo_serving_generation_tokens_total (\S+)$/m.exec(metrics)?.[1]);
  t.true(generated >= r.usage!.completion_tokens);
});
