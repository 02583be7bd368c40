import test from 'ava';
import { Value } from '@sinclair/typebox/value';
import { RolloutSummary, TrajectoryRecord, toTrl, type DpoExample, type KtoExample } from '../../../operator/api/records.ts';
import { summarize, encodeSummary } from '../../../operator/api/termination-message.ts';

const trajectory = (over: Partial<TrajectoryRecord> = {}): TrajectoryRecord => ({
  schema: 'entropo.dev/trajectory/v1',
  id: 'ini-3/0/batch-a',
  taskId: 'ini-3',
  sample: 0,
  model: 'tiny-coder',
  sampling: { temperature: 0.7, top_p: 0.8, top_k: 20 },
  messages: [
    { role: 'system', content: 'You are a coding agent.' },
    { role: 'user', content: 'Fix the bug.' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'finish', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'done' },
  ],
  exitReason: 'finished',
  finished: true,
  steps: 1,
  usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
  timings: [{ step: 1, modelSeconds: 0.1, toolSeconds: 0.01, tool: 'finish' }],
  startedAt: '2026-11-23T00:00:00Z',
  durationSeconds: 0.2,
  patch: '',
  patchHash: 'e3b0c442',
  regression: { passed: ['t1', 't2'], failed: ['t3'] },
  hidden: { passed: [], failed: ['h1'] },
  resolved: false,
  reward: 0,
  ...over,
});

test('a trajectory record fixture matches its schema', (t) => {
  t.true(Value.Check(TrajectoryRecord, trajectory()), JSON.stringify([...Value.Errors(TrajectoryRecord, trajectory())].slice(0, 3)));
});

test('summarize keeps counts, not test ids, and matches the RolloutSummary schema', (t) => {
  const s = summarize(trajectory(), 'runs/a/ini-3-0.json');
  t.deepEqual(s.regression, { passed: 2, failed: 1 });
  t.deepEqual(s.hidden, { passed: 0, failed: 1 });
  t.is(s.tokens, 15);
  t.true(Value.Check(RolloutSummary, s));
});

test('encodeSummary never exceeds 4 KiB and keeps valid JSON with multi-byte errors', (t) => {
  const s = summarize(trajectory({ error: 'é'.repeat(10_000) + '😀'.repeat(1000) }), 'k');
  const json = encodeSummary(s);
  t.true(Buffer.byteLength(json) <= 4096);
  const back = JSON.parse(json);
  t.is(back.task, 'ini-3');
  t.true(back.error.endsWith('…'));
  const huge = summarize(trajectory({ id: 'x'.repeat(5000), taskId: 'y'.repeat(5000) }), 'z'.repeat(5000));
  t.true(Buffer.byteLength(encodeSummary(huge)) <= 4096);
});

test('toTrl gives TRL conversational DPO and KTO rows', (t) => {
  const prompt = trajectory().messages.slice(0, 2);
  const dpo: DpoExample = {
    type: 'dpo', taskId: 'ini-3', prompt,
    chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }],
    chosenId: 'x', rejectedId: 'y',
  };
  t.deepEqual(Object.keys(toTrl(dpo)), ['prompt', 'chosen', 'rejected']);
  const kto: KtoExample = { type: 'kto', taskId: 'ini-3', prompt, completion: [{ role: 'assistant', content: 'a' }], label: true, trajectoryId: 'x' };
  t.deepEqual(toTrl(kto), { prompt, completion: [{ role: 'assistant', content: 'a' }], label: true });
});
