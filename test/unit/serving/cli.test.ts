/** `entropo serve` as a process: the JSON line a parent reads, SIGTERM drains in-flight requests, start-up errors. */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import OpenAI from 'openai';
import { writeTinyModel } from '../../helpers/tiny-model.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'entropo-serve-cli-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

test('entropo serve --port 0 prints the bound URL as one JSON line; SIGTERM lets the in-flight request finish, then exits 0', async (t) => {
  const model = writeTinyModel(path.join(tmp, 'tiny'));
  const child = spawn('node', ['bin/entropo.js', 'serve', '--model', `file://${model}`, '--port', '0', '--served-model-name', 'tiny', '--backend', 'wasm', '--max-batch', '4'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const first = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout }).once('line', res);
    void exited.then((code) => rej(new Error(`exited ${code}: ${stderr}`)));
  });
  const line = JSON.parse(first) as { event: string; url: string; baseURL: string; model: string; backend: string; contextLength: number };
  t.like(line, { event: 'listening', model: 'tiny', backend: 'wasm', contextLength: 1024 });
  t.regex(line.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.is(line.baseURL, `${line.url}/v1`);

  const client = new OpenAI({ baseURL: line.baseURL, apiKey: 'unused', maxRetries: 0 });
  const inFlight = client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'go' }], max_tokens: 600, ignore_eos: true } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
  // SIGTERM once the request is decoding (the machine may be slow to send it).
  for (let running = 0; running === 0; ) {
    await new Promise((r) => setTimeout(r, 100));
    running = ((await (await fetch(`${line.url}/health`)).json()) as { running: number }).running;
  }
  child.kill('SIGTERM');
  // New requests during the drain: OpenAI's error shape, 503.
  await new Promise((r) => setTimeout(r, 300));
  // (or, on a new connection, a refusal: the listener is closed)
  const late = await fetch(`${line.baseURL}/models`).then(
    (r) => r,
    (e: Error & { cause?: { code?: string } }) => e,
  );
  if (late instanceof Response) {
    t.is(late.status, 503);
    t.like(await late.json(), { error: { type: 'service_unavailable', code: 'shutting_down' } });
  } else t.is(late.cause?.code, 'ECONNREFUSED');
  const r = await inFlight;
  t.is(r.usage!.completion_tokens, 600);
  t.is(r.choices[0].finish_reason, 'length');
  t.is(await exited, 0, stderr);
  // Every stderr line is a JSON log record.
  const records = stderr.trim().split('\n').map((l) => JSON.parse(l) as { message: string; signal?: string; url?: string });
  t.like(records.find((x) => x.message === 'policy server listening'), { url: line.url });
  t.like(records.find((x) => x.message === 'shutting down'), { signal: 'SIGTERM' });
  t.is(records[records.length - 1].message, 'stopped');
});

/** Runs the CLI to its end (asynchronously: the other test's server must keep being served). */
async function entropo(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    // A time limit: a command expected to fail that starts a server instead must not hang the run.
    const r = await promisify(execFile)('node', ['bin/entropo.js', ...args], { encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL' });
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

test('entropo serve: a source that is not a model fails with exit 1 naming it', async (t) => {
  const r = await entropo('serve', '--model', `file://${tmp}`, '--port', '0');
  t.is(r.code, 1);
  t.regex(r.stderr, /is neither a model \(config\.json\) nor a PEFT adapter/);
  const b = await entropo('serve', '--model', `file://${tmp}`, '--backend', 'tpu');
  t.is(b.code, 1);
  t.regex(b.stderr, /--backend: unknown tfjs backend "tpu"/);
});

test('entropo serve --backend with a tfjs package that is not installed fails naming --backend (not the trainer\'s training.backend)', async (t) => {
  // The CLI with a native package this machine lacks (CI installs tfjs-node, never tfjs-node-gpu;
  // a machine with both cannot show the error, said in the log).
  const require = createRequire(import.meta.url);
  const absent = ['tfjs-node-gpu', 'tfjs-node'].find((p) => {
    try {
      require.resolve(`@tensorflow/${p}`);
      return false;
    } catch {
      return true;
    }
  });
  if (!absent) {
    t.log('tfjs-node-gpu and tfjs-node are both installed: no native package is missing to fail with');
    t.pass();
    return;
  }
  const model = writeTinyModel(path.join(tmp, 'tiny-backend'));
  const r = await entropo('serve', '--model', `file://${model}`, '--port', '0', '--backend', absent);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`cannot load the model: --backend: no usable tfjs backend \\(${absent}: `));
  t.notRegex(r.stderr, /training\.backend/);
});
