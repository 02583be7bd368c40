/** Shared fixtures of the selection tests. */
import type { TrajectoryRecord } from '../../../operator/api/records.ts';

/** A graded trajectory record; override any field. */
export const record = (over: Partial<TrajectoryRecord> = {}): TrajectoryRecord => ({
  schema: 'entropo.dev/trajectory/v1',
  id: 'ini-3/0/batch-a',
  taskId: 'ini-3',
  sample: 0,
  model: 'tiny-coder',
  sampling: { temperature: 0.7, top_p: 0.8, top_k: 20 },
  messages: [{ role: 'user', content: 'Fix the bug.' }],
  exitReason: 'finished',
  finished: true,
  steps: 7,
  usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
  timings: [],
  startedAt: '2026-11-23T00:00:00Z',
  durationSeconds: 0.2,
  patch: '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n',
  patchHash: 'abc',
  regression: { passed: ['t1', 't2'], failed: ['t3'] },
  reproduction: { passed: 1, total: 2 },
  hidden: { passed: ['h1'], failed: ['h2'] },
  resolved: true,
  reward: 1,
  verifierScore: 0.25,
  ...over,
});
