import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openVerifier } from '../../../operator/selection/verifier-ref.ts';
import { Verifier } from '../../../operator/selection/verifier.ts';
import { yesProbability } from '../../../operator/selection/verifier-prompt.ts';
import { record } from './_fixtures.ts';

const MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/training/qwen2');
const records = [0, 1, 2].map((n) => record({ id: `t/${n}`, messages: [{ role: 'user', content: `Fix add() in task-${n}.` }], patch: `+return ${n}` }));

test.serial('a file:// source is scored in-process, keyed by id, equal to the Verifier', async (t) => {
  const opened = await openVerifier({ name: 'judge', source: pathToFileURL(MODEL).href });
  const direct = await Verifier.load(MODEL);
  try {
    t.regex(opened.description, /judge from .*qwen2/);
    const scores = await opened.scoreAll([...records].reverse());
    for (const r of records) t.is(scores.get(r.id), direct.scoreOne(r));
  } finally {
    opened.dispose();
    direct.dispose();
  }
  await t.throwsAsync(() => openVerifier({ name: 'judge', source: 'builtin:tiny-coder' }), { message: /no resolver/ });
  const viaResolver = await openVerifier({ name: 'judge', source: 'store://verifiers/v1' }, { resolveSource: async (s) => (s === 'store://verifiers/v1' ? MODEL : 'nowhere') });
  t.regex(viaResolver.description, /qwen2/);
  viaResolver.dispose();
});

test('an endpoint ModelRef is scored through the OpenAI-compatible API with the ref name as model', async (t) => {
  const models: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = JSON.parse(body) as { model: string; messages: { content: string }[] };
      models.push(r.model);
      const n = Number(/task-(\d+)/.exec(r.messages[1].content)![1]);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        id: 'x', object: 'chat.completion', created: 0, model: r.model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'NO' }, finish_reason: 'length', logprobs: { content: [{ token: 'NO', logprob: -0.5, bytes: null, top_logprobs: [{ token: 'NO', logprob: -0.5, bytes: null }, { token: 'YES', logprob: -1 - n, bytes: null }] }] } }],
      }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const opened = await openVerifier({ name: 'judge-7b', endpoint: { url: `http://127.0.0.1:${port}/v1` } });
    const scores = await opened.scoreAll(records);
    records.forEach((r, n) => t.true(Math.abs(scores.get(r.id)! - yesProbability(-1 - n, -0.5)) < 1e-12));
    t.true(models.every((m) => m === 'judge-7b'));
    opened.dispose();
  } finally {
    server.close();
  }
});
