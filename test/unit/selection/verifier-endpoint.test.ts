import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { endpointScorer, scoreFromTopLogprobs } from '../../../operator/selection/verifier-endpoint.ts';
import { scoreAll, yesProbability } from '../../../operator/selection/verifier-prompt.ts';
import { record } from './_fixtures.ts';

test('p(YES) from top log-probs: variants add up, a missing answer gets the floor', (t) => {
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;
  t.true(close(scoreFromTopLogprobs([{ token: 'YES', logprob: Math.log(0.3) }, { token: 'NO', logprob: Math.log(0.1) }]), 0.75));
  t.true(
    close(
      scoreFromTopLogprobs([
        { token: ' yes', logprob: Math.log(0.2) },
        { token: 'Yes', logprob: Math.log(0.1) },
        { token: 'NO', logprob: Math.log(0.1) },
        { token: 'Maybe', logprob: Math.log(0.5) },
      ]),
      0.75,
    ),
  );
  t.true(close(scoreFromTopLogprobs([{ token: 'YES', logprob: -0.1 }, { token: 'The', logprob: -4 }]), yesProbability(-0.1, -4)));
  t.throws(() => scoreFromTopLogprobs([{ token: 'The', logprob: -0.1 }]), { message: /neither YES nor NO among the top 1 tokens/ });
});

test('an OpenAI-compatible endpoint scores concurrently; out-of-order responses keep their ids', async (t) => {
  const seen: { model: string; max_tokens: number; top_logprobs: number; logprobs: boolean }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = JSON.parse(body) as { model: string; max_tokens: number; top_logprobs: number; logprobs: boolean; messages: { role: string; content: string }[] };
      seen.push(r);
      const n = Number(/Fix add\(\) in task-(\d+)\./.exec(r.messages[1].content)![1]);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // early tasks answer last
      setTimeout(() => {
        inFlight--;
        const yes = -n / 10;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            id: `c${n}`,
            object: 'chat.completion',
            created: 0,
            model: r.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: 'YES' },
                finish_reason: 'length',
                logprobs: { content: [{ token: 'YES', logprob: yes, bytes: null, top_logprobs: [{ token: 'YES', logprob: yes, bytes: null }, { token: 'NO', logprob: -1, bytes: null }] }] },
              },
            ],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
      }, (12 - n) * 15);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const records = Array.from({ length: 12 }, (_, n) =>
      record({ id: `task-${n}/0/r`, taskId: `task-${n}`, messages: [{ role: 'user', content: `Fix add() in task-${n}.` }] }),
    );
    const arrival: string[] = [];
    const scores = await scoreAll(records, endpointScorer({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'verifier' }), {
      concurrency: 6,
      onScore: (id) => arrival.push(id),
    });
    t.is(maxInFlight, 6);
    t.notDeepEqual(arrival, records.map((r) => r.id));
    records.forEach((r, n) => t.true(Math.abs(scores.get(r.id)! - yesProbability(-n / 10, -1)) < 1e-12, r.id));
    t.deepEqual(seen[0].model, 'verifier');
    t.is(seen[0].max_tokens, 1);
    t.is(seen[0].top_logprobs, 20);
    t.true(seen[0].logprobs);
  } finally {
    server.close();
  }
});
