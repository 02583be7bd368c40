import test from 'ava';
import fc from 'fast-check';
import { TERMINATION_MESSAGE_LIMIT, ExitReasons, type TrajectoryRecord } from '../../../operator/api/records.ts';
import { encodeSummary, summarize } from '../../../operator/api/termination-message.ts';
import { patchHash, samplingParams, trajectoryId } from '../../../operator/rollout/trajectory.ts';
import { formatSummaryTable, mapPool, predictions, summaryRows } from '../../../operator/rollout/batch.ts';

function traj(over: Partial<TrajectoryRecord> = {}): TrajectoryRecord {
  return {
    schema: 'entropo.dev/trajectory/v1',
    id: 't/0/r',
    taskId: 't',
    sample: 0,
    model: 'm',
    sampling: { temperature: 0.7, top_p: 0.8, top_k: 20 },
    messages: [],
    exitReason: 'finished',
    finished: true,
    steps: 3,
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    timings: [],
    startedAt: '2026-01-01T00:00:00.000Z',
    durationSeconds: 2,
    patch: '',
    patchHash: patchHash(''),
    regression: { passed: [], failed: [] },
    hidden: { passed: [], failed: [] },
    resolved: false,
    reward: 0,
    ...over,
  };
}

test('patchHash: empty patch hashes "", index lines and CRLF do not matter', (t) => {
  t.is(patchHash(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const a = 'diff --git a/x b/x\nindex 1111111..2222222 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n';
  const b = 'diff --git a/x b/x\r\nindex 3333333..4444444 100644\r\n--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-a\r\n+b\r\n\r\n';
  t.is(patchHash(a), patchHash(b));
  t.not(patchHash(a), patchHash(a.replace('+b', '+c')));
});

test('samplingParams: the spec in the API\'s names, seed + sample', (t) => {
  t.deepEqual(samplingParams({ temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 512, seed: 100 }, 3), {
    temperature: 0.7, top_p: 0.8, top_k: 20, max_tokens: 512, seed: 103,
  });
  t.false('seed' in samplingParams({ temperature: 1, topP: 1, topK: 0, maxTokensPerTurn: 1 }, 3));
  t.is(trajectoryId('task', 2, 'run-a'), 'task/2/run-a');
});

const arbTrajectory = fc
  .record({
    taskId: fc.string({ minLength: 1, maxLength: 3000, unit: 'grapheme' }),
    id: fc.string({ minLength: 1, maxLength: 3000, unit: 'binary' }),
    sample: fc.nat(10_000),
    exitReason: fc.constantFrom(...ExitReasons),
    finished: fc.boolean(),
    steps: fc.nat(1000),
    tokens: fc.nat(10_000_000),
    seconds: fc.double({ min: 0, max: 1e6, noNaN: true }),
    passed: fc.array(fc.string({ maxLength: 200 }), { maxLength: 300 }),
    failed: fc.array(fc.string({ maxLength: 200 }), { maxLength: 300 }),
    error: fc.option(fc.string({ maxLength: 20_000, unit: 'binary' }), { nil: undefined }),
    reward: fc.constantFrom(0, 1),
    patch: fc.string({ maxLength: 5000 }),
  })
  .map((r) =>
    traj({
      taskId: r.taskId,
      id: r.id,
      sample: r.sample,
      exitReason: r.exitReason,
      finished: r.finished,
      steps: r.steps,
      usage: { promptTokens: r.tokens, completionTokens: 0, totalTokens: r.tokens },
      durationSeconds: r.seconds,
      patch: r.patch,
      patchHash: patchHash(r.patch),
      regression: { passed: r.passed, failed: r.failed },
      hidden: { passed: r.failed, failed: r.passed },
      reward: r.reward,
      resolved: r.reward === 1,
      ...(r.error !== undefined ? { error: r.error } : {}),
    }),
  );

test('the termination summary of any trajectory is valid JSON of at most 4 KiB', (t) => {
  fc.assert(
    fc.property(arbTrajectory, fc.string({ maxLength: 3000, unit: 'binary' }), (tr, key) => {
      const encoded = encodeSummary(summarize(tr, key || 'k'));
      const parsed = JSON.parse(encoded);
      return Buffer.byteLength(encoded) <= TERMINATION_MESSAGE_LIMIT && parsed.exit === tr.exitReason && parsed.regression.passed === tr.regression.passed.length;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('mapPool keeps order and never exceeds the concurrency', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const out = await mapPool([5, 1, 4, 2, 3, 0], 2, async (ms, i) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, ms * 3));
    inFlight--;
    return i * 10;
  });
  t.deepEqual(out, [0, 10, 20, 30, 40, 50]);
  t.is(peak, 2);
});

test('summary rows, table and predictions', (t) => {
  const ts = [
    traj({ taskId: 'a', sample: 0, resolved: true, reward: 1, patch: 'P-a0', steps: 4 }),
    traj({ taskId: 'a', sample: 1, exitReason: 'max_steps', finished: false, steps: 10 }),
    traj({ taskId: 'b', sample: 0, exitReason: 'sandbox_error', finished: false, steps: 0 }),
    traj({ taskId: 'b', sample: 1, patch: 'P-b1', steps: 2 }),
    traj({ taskId: 'c', sample: 0, exitReason: 'model_error', finished: false, steps: 1 }),
    traj({ taskId: 'c', sample: 1, exitReason: 'context_length', finished: false, steps: 9 }),
  ];
  const rows = summaryRows(ts);
  t.deepEqual(rows.map((r) => [r.task, r.samples, r.resolved, r.finished, r.errors, r.meanSteps]), [
    ['a', 2, 1, 1, 0, 7],
    ['b', 2, 0, 1, 1, 1],
    ['c', 2, 0, 0, 1, 5],
    ['TOTAL', 6, 1, 2, 2, 26 / 6],
  ]);
  const table = formatSummaryTable(rows);
  t.regex(table, /\| a \| 2 \| 1 \| 50\.0% \| 1 \| 0 \| 7\.0 \|/);
  t.regex(table, /\| b \| 2 \| 0 \| 0\.0% \| 1 \| 1 \|/); // sandbox errors are not samples
  t.regex(table, /\| c \| 2 \| 0 \| 0\.0% \| 0 \| 1 \|/); // model_error is no sample, context_length is one
  t.regex(table, /\| TOTAL \| 6 \| 1 \| 25\.0% \|/);
  t.deepEqual(predictions(ts, 0), [{ instance_id: 'a', model_name_or_path: 'm', model_patch: 'P-a0' }]);
  t.deepEqual(predictions(ts, 1).map((p) => p.instance_id), ['a', 'b', 'c']);
});
