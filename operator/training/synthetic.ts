/**
 * Small synthetic multi-turn trajectories (OpenAI messages with tool calls) for tests and
 * benchmarks: per task, resolved samples end with one final message, unresolved ones with another.
 */
import type { ChatMessage, TrajectoryRecord } from '../api/records.ts';

export const SYNTHETIC_TOOLS = [
  {
    type: 'function',
    function: { name: 'execute_bash', description: 'Run a command.', parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } },
  },
];

export interface SyntheticOptions {
  tasks: number;
  samplesPerTask: number;
  /** Repeats of the tool exchange: longer trajectories. */
  turns?: number;
  /** Tool observation text (tests vary it). */
  observation?: (task: number, sample: number, turn: number) => string;
  /** Which samples resolve; default: even samples. */
  resolved?: (task: number, sample: number) => boolean;
  /** Which samples take the "good" actions; default: the resolved ones (false: noisy labels are possible). */
  good?: (task: number, sample: number) => boolean;
  /** Offer the tool schemas (rendered in the system prompt). Default true. */
  tools?: boolean;
}

export function syntheticTrajectories(o: SyntheticOptions): TrajectoryRecord[] {
  const out: TrajectoryRecord[] = [];
  for (let task = 0; task < o.tasks; task++) {
    for (let sample = 0; sample < o.samplesPerTask; sample++) {
      const resolved = o.resolved ? o.resolved(task, sample) : sample % 2 === 0;
      const good = o.good ? o.good(task, sample) : resolved;
      const messages: ChatMessage[] = [
        { role: 'system', content: 'You are a coding agent.' },
        { role: 'user', content: `Fix the bug in utils.py so that parse() handles ${task} empty strings.` },
      ];
      for (let turn = 0; turn < (o.turns ?? 1); turn++) {
        const id = `c${turn}`;
        messages.push({
          role: 'assistant',
          content: good ? 'I will edit the file and run the tests again.' : 'Let me run the tests.',
          tool_calls: [{ id, type: 'function', function: { name: 'execute_bash', arguments: JSON.stringify({ cmd: good ? 'pytest -q tests/test_utils.py' : 'pytest -q' }) } }],
        });
        messages.push({ role: 'tool', tool_call_id: id, content: o.observation ? o.observation(task, sample, turn) : 'FAILED tests/test_utils.py::test_parse - AssertionError' });
      }
      messages.push({ role: 'assistant', content: good ? 'def add(a, b):\n    return a + b\nfinish' : 'The tests fail because the function returns the wrong value. finish' });
      out.push({
        schema: 'entropo.dev/trajectory/v1',
        id: `task-${task}/${sample}/synthetic`,
        taskId: `task-${task}`,
        sample,
        model: 'synthetic',
        sampling: { temperature: 0.7, top_p: 0.8, top_k: 20 },
        tools: o.tools === false ? undefined : SYNTHETIC_TOOLS,
        messages,
        exitReason: 'finished',
        finished: true,
        steps: (o.turns ?? 1) + 1,
        usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
        timings: [],
        startedAt: '2026-01-01T00:00:00Z',
        durationSeconds: 1,
        patch: '',
        patchHash: '',
        regression: { passed: [], failed: [] },
        hidden: { passed: [], failed: [] },
        resolved,
        reward: resolved ? 1 : 0,
      });
    }
  }
  return out;
}
