import test from 'ava';
import {
  renderTrajectory,
  verifierMessages,
  verifierLabel,
  yesProbability,
  clip,
  scoreAll,
  VERIFIER_SYSTEM_PROMPT,
  VERIFIER_QUESTION,
} from '../../../operator/selection/verifier-prompt.ts';
import { record } from './_fixtures.ts';

const traj = record({
  messages: [
    { role: 'system', content: 'You are a coding agent with tools.' },
    { role: 'user', content: 'parse() crashes on empty input.' },
    { role: 'assistant', content: 'Let me look.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'execute_bash', arguments: '{"cmd":"cat utils.py"}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'def parse(s):\n    return s[0]\n' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c2', type: 'function', function: { name: 'finish', arguments: '{}' } }] },
  ],
  patch: '--- a/utils.py\n+++ b/utils.py\n@@ -1,2 +1,2 @@\n def parse(s):\n-    return s[0]\n+    return s[0] if s else None\n',
  hidden: { passed: ['tests/test_utils.py::test_hidden_secret'], failed: [] },
});

test('the rendered trajectory holds the issue, every step, the observations and the final patch', (t) => {
  t.is(
    renderTrajectory(traj),
    [
      '## Issue',
      'parse() crashes on empty input.',
      '',
      '## Trajectory',
      '### Step 1: agent',
      'Let me look.',
      '-> execute_bash({"cmd":"cat utils.py"})',
      '### Step 1: observation',
      'def parse(s):\n    return s[0]',
      '### Step 2: agent',
      '-> finish({})',
      '',
      '## Final patch',
      '```diff\n--- a/utils.py\n+++ b/utils.py\n@@ -1,2 +1,2 @@\n def parse(s):\n-    return s[0]\n+    return s[0] if s else None\n```',
      '',
      VERIFIER_QUESTION,
    ].join('\n'),
  );
  const text = JSON.stringify(verifierMessages(traj, true));
  t.false(text.includes('test_hidden_secret'), 'hidden tests never reach the verifier');
  t.false(text.includes('You are a coding agent with tools.'), "the agent's system prompt is left out");
  t.true(renderTrajectory({ ...traj, patch: '' }).includes('(empty: the agent changed nothing)'));
});

test('verifier messages: system, user, and the answer turn when training', (t) => {
  const m = verifierMessages(traj, false);
  t.deepEqual(m.map((x) => x.role), ['system', 'user', 'assistant']);
  t.is(m[0].content, VERIFIER_SYSTEM_PROMPT);
  t.is(m[2].content, 'NO');
  t.is(verifierMessages(traj, true)[2].content, 'YES');
  t.is(verifierMessages(traj).length, 2);
  t.is(verifierMessages(traj, undefined, { systemPrompt: 'Judge.' })[0].content, 'Judge.');
  t.true(verifierLabel({ reward: 1 }));
  t.false(verifierLabel({ reward: 0 }));
});

test('long messages and patches keep their head and tail', (t) => {
  const long = 'a'.repeat(50) + 'b'.repeat(50);
  t.is(clip(long, 10), `aaaaa\n[... 90 characters omitted ...]\nbbbbb`);
  t.is(clip('short', 10), 'short');
  const r = renderTrajectory({ ...traj, patch: 'x'.repeat(100) + 'END' }, { maxPatchChars: 20 });
  t.true(r.includes('[... 83 characters omitted ...]'));
  t.true(r.includes('xEND\n```'));
});

test('p(YES) = p(YES) / (p(YES) + p(NO)) from log-probs, stable at extremes', (t) => {
  t.true(Math.abs(yesProbability(Math.log(0.3), Math.log(0.1)) - 0.75) < 1e-12);
  t.true(Math.abs(yesProbability(Math.log(0.02), Math.log(0.06)) - 0.25) < 1e-12);
  t.is(yesProbability(-3, -3), 0.5);
  t.is(yesProbability(-1, -2000), 1);
  t.is(yesProbability(-2000, -1), 0);
  t.true(yesProbability(-5000, -5001) > 0.73 && yesProbability(-5000, -5001) < 0.74);
  t.throws(() => yesProbability(Number.NaN, 0));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('concurrent scoring that finishes out of order keeps every score on its own id', async (t) => {
  const items = Array.from({ length: 40 }, (_, i) => ({ id: `task-${i % 7}/${i}/run`, value: (i * 37) % 101 }));
  const arrival: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const scores = await scoreAll(
    items,
    async (item) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // earlier items wait longer: completion order is far from input order
      await sleep(((items.length - items.indexOf(item)) * 7) % 23);
      inFlight--;
      return item.value / 100;
    },
    { concurrency: 8, onScore: (id) => arrival.push(id) },
  );
  t.is(maxInFlight, 8);
  t.notDeepEqual(arrival, items.map((x) => x.id), 'scores arrived out of order');
  t.deepEqual([...scores.keys()], items.map((x) => x.id), 'returned in input order');
  for (const it of items) t.is(scores.get(it.id), it.value / 100, it.id);
});

test('a failed or invalid score names its trajectory; duplicate ids are refused', async (t) => {
  const items = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
  await t.throwsAsync(() => scoreAll(items, async (x) => {
    if (x.id === 'b') throw new Error('endpoint down');
    return 0.5;
  }), { message: 'verifier: scoring b failed: endpoint down' });
  await t.throwsAsync(() => scoreAll(items, async (x) => (x.id === 'c' ? 1.5 : 0.5)), { message: /score of c is 1.5/ });
  await t.throwsAsync(() => scoreAll([{ id: 'a' }, { id: 'a' }], async () => 0.5), { message: /duplicate trajectory id "a"/ });
  t.deepEqual(await scoreAll([], async () => 0.5), new Map());
});
