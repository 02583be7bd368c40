/** `entropo rollout` checks the endpoint once (GET /v1/models, the real openai client) before any rollout. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkEndpoint, EndpointCheckError } from '../../../operator/rollout/endpoint-check.ts';
import { startScriptedLLM } from '../../helpers/scripted-llm.ts';
import { fixtureTask } from './helpers/fixture.ts';

const BIN = path.resolve('bin/entropo.js');

function entropo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ENTROPO_LOG_LEVEL: 'warn' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('entropo rollout: an unreachable endpoint or a model the server does not serve stops it with exit 4 before any rollout', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-endpoint-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tasks.jsonl'), JSON.stringify(fixtureTask()) + '\n');
  const common = ['rollout', '--tasks', path.join(dir, 'tasks.jsonl'), '--out-dir', path.join(dir, 'out'), '--no-progress'];

  const port = await deadPort();
  const down = await entropo([...common, '--endpoint', `http://127.0.0.1:${port}/v1`, '--model', 'scripted']);
  t.is(down.code, 4, down.stderr);
  t.regex(down.stderr, new RegExp(`the endpoint http://127\\.0\\.0\\.1:${port}/v1 cannot be reached`));

  const llm = await startScriptedLLM([], { models: ['qwen3-8b', 'qwen3-8b-lora'] });
  t.teardown(() => llm.close());
  const wrong = await entropo([...common, '--endpoint', llm.url, '--model', 'Qwen3-8B']);
  t.is(wrong.code, 4);
  t.regex(wrong.stderr, /does not serve model "Qwen3-8B"; it serves: "qwen3-8b", "qwen3-8b-lora" \(pass one of them as --model\)/);
  t.is(llm.requests.length, 0, 'no chat request was made');
  t.is(llm.modelListRequests, 1);
});

test('checkEndpoint: the served models; a server without /v1/models is named as such', async (t) => {
  const llm = await startScriptedLLM([], { models: ['a', 'b'] });
  t.teardown(() => llm.close());
  t.deepEqual(await checkEndpoint({ baseURL: llm.url }, 'b'), ['a', 'b']);
  const bare = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"Not Found"}}');
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => bare.close(() => r())));
  const url = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  const e = await t.throwsAsync(checkEndpoint({ baseURL: url }, 'b'), { instanceOf: EndpointCheckError });
  t.is(e?.reason, 'NoModelList');
  t.regex(e?.message ?? '', /GET .*\/models answered 404/);
});
