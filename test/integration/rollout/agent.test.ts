/**
 * The agent loop end to end: the real openai client against a real HTTP server speaking the chat
 * completions API (scripted replies), the real sandbox, the real grader (evaluatePatch).
 */
import test from 'ava';
import type { RolloutLimits, Sampling } from '../../../operator/api/common.ts';
import type { TaskRecord } from '../../../operator/api/records.ts';
import { runRollout, runRolloutDetailed, type RolloutAssignment } from '../../../operator/rollout/rollout.ts';
import { patchHash } from '../../../operator/rollout/trajectory.ts';
import { startScriptedLLM, type Script } from '../../helpers/scripted-llm.ts';
import { fixtureTask, SOLVE_NATIVE, SOLVE_TEXT } from './helpers/fixture.ts';

const SAMPLING: Sampling = { temperature: 0.7, topP: 0.8, topK: 20, maxTokensPerTurn: 1024, seed: 1000 };
const LIMITS: RolloutLimits = { maxSteps: 12, maxTokens: 65536, timeoutSeconds: 60, toolTimeoutSeconds: 20, toolCallFormat: 'Native' };

async function rollout(t: { teardown(fn: () => Promise<void>): void }, script: Script, over: Partial<RolloutAssignment> = {}, limits: Partial<RolloutLimits> = {}) {
  const llm = await startScriptedLLM(script);
  t.teardown(() => llm.close());
  const a: RolloutAssignment = {
    task: fixtureTask(),
    sample: 2,
    run: 'test',
    model: 'scripted-coder',
    endpoint: { baseURL: llm.url, apiKey: 'k-123', maxRetries: 0 },
    sampling: SAMPLING,
    limits: { ...LIMITS, ...limits },
    ...over,
  };
  return { llm, out: await runRolloutDetailed(a) };
}

test('native tool calls: a solved task ends as a graded, resolved trajectory', async (t) => {
  const { llm, out } = await rollout(t, SOLVE_NATIVE);
  const tr = out.trajectory;
  t.is(tr.exitReason, 'finished');
  t.true(tr.finished);
  t.is(tr.steps, 4);
  t.is(tr.id, 'calc-add/2/test');
  t.deepEqual(tr.regression, { passed: ['mul multiplies'], failed: [] });
  t.deepEqual(tr.hidden, { passed: ['add adds'], failed: [] });
  t.true(tr.resolved);
  t.is(tr.reward, 1);
  t.regex(tr.patch, /^diff --git a\/src\/math\.js b\/src\/math\.js/);
  t.regex(tr.patch, /\+ {2}return a \+ b;/);
  t.is(tr.patchHash, patchHash(tr.patch));
  t.is(tr.error, undefined);
  // messages: system, user, then assistant/tool pairs in OpenAI format
  t.deepEqual(tr.messages.map((m) => m.role), ['system', 'user', 'assistant', 'tool', 'assistant', 'tool', 'assistant', 'tool', 'assistant', 'tool']);
  const a1 = tr.messages[2];
  t.is(a1.tool_calls?.[0].function.name, 'file_editor');
  t.is(tr.messages[3].tool_call_id, a1.tool_calls?.[0].id);
  t.regex(tr.messages[3].content ?? '', /2\t {2}return a - b;/);
  t.regex(tr.messages[7].content ?? '', /^1\n\[exit code: 0\]$/); // the agent ran the visible test: 1 "ok"
  // The agent never saw the hidden test.
  t.false(JSON.stringify(tr.messages).includes('add adds'));
  // usage summed over the 4 turns, as the server reported it; timings per step
  const reported = llm.requests.length;
  t.is(reported, 4);
  t.true(tr.usage.totalTokens > 0);
  t.is(tr.usage.totalTokens, tr.usage.promptTokens + tr.usage.completionTokens);
  t.deepEqual(tr.timings.map((s) => [s.step, s.tool]), [[1, 'file_editor'], [2, 'file_editor'], [3, 'execute_bash'], [4, 'finish']]);
  t.true(tr.timings.every((s) => s.modelSeconds > 0 && s.toolSeconds >= 0));
  t.true(out.phases.gradingSeconds > 0 && out.phases.setupSeconds > 0);
  t.is(tr.tools?.length, 4);
});

test('sampling parameters, seed + sample, tools and the API key reach the server', async (t) => {
  const { llm } = await rollout(t, SOLVE_NATIVE);
  const body = llm.requests[0].body;
  t.is(llm.requests[0].path, '/v1/chat/completions');
  t.is(llm.requests[0].headers.authorization, 'Bearer k-123');
  t.is(body.model, 'scripted-coder');
  t.is(body.temperature, 0.7);
  t.is(body.top_p, 0.8);
  t.is(body.top_k, 20);
  t.is(body.seed, 1002);
  t.is(body.max_tokens, 1024);
  t.deepEqual(body.tools.map((x: any) => x.function.name), ['file_editor', 'execute_bash', 'search', 'finish']);
  t.is(body.tool_choice, 'auto');
  // every turn carries the whole conversation so far
  t.deepEqual(llm.requests.map((r) => r.body.messages.length), [2, 4, 6, 8]);
  t.true(llm.requests.every((r) => r.body.top_k === 20 && r.body.seed === 1002));
});

test('text tool calls: same task solved, no tools parameter, results in <tool_response>', async (t) => {
  const { llm, out } = await rollout(t, SOLVE_TEXT, {}, { toolCallFormat: 'Text' });
  const tr = out.trajectory;
  t.is(tr.exitReason, 'finished');
  t.true(tr.resolved);
  t.is(tr.reward, 1);
  t.is(tr.steps, 3);
  t.is(llm.requests[0].body.tools, undefined);
  t.regex(llm.requests[0].body.messages[0].content, /<tools>\n\{"type":"function","function":\{"name":"file_editor"/);
  t.deepEqual(tr.messages.map((m) => m.role), ['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant', 'user']);
  t.regex(tr.messages[3].content ?? '', /^<tool_response>\nThe file src\/math\.js has been edited/);
  t.true(tr.messages.every((m) => m.tool_calls === undefined));
});

test('malformed tool calls are error observations and the rollout goes on', async (t) => {
  const script: Script = [
    { content: null, tool_calls: [{ name: 'execute_bash', arguments: '{"command": "ls' }] },
    { content: null, tool_calls: [{ name: 'no_such_tool', arguments: {} }] },
    ...SOLVE_NATIVE,
  ];
  const { out } = await rollout(t, script);
  const tr = out.trajectory;
  t.is(tr.exitReason, 'finished');
  t.true(tr.resolved);
  t.is(tr.steps, 6);
  t.regex(tr.messages[3].content ?? '', /^Error: cannot run execute_bash: the arguments are not valid JSON/);
  t.regex(tr.messages[5].content ?? '', /^Error: unknown tool "no_such_tool"/);
});

test('malformed text tool calls are error observations too', async (t) => {
  const script: Script = [{ content: '<tool_call>{"name": "execute_bash", "arguments": {"command": </tool_call>' }, ...SOLVE_TEXT];
  const { out } = await rollout(t, script, {}, { toolCallFormat: 'Text' });
  t.is(out.trajectory.exitReason, 'finished');
  t.true(out.trajectory.resolved);
  t.regex(out.trajectory.messages[3].content ?? '', /^<tool_response>\nError: the tool call is not valid JSON/);
});

test('max steps: cut off, not finished, still graded', async (t) => {
  const loop: Script = () => ({ content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: 'echo again' } }] });
  const { llm, out } = await rollout(t, loop, {}, { maxSteps: 3 });
  const tr = out.trajectory;
  t.is(tr.exitReason, 'max_steps');
  t.false(tr.finished);
  t.is(tr.steps, 3);
  t.is(llm.requests.length, 3);
  t.false(tr.resolved);
  t.is(tr.reward, 0);
  t.deepEqual(tr.hidden, { passed: [], failed: ['add adds'] });
  t.deepEqual(tr.regression, { passed: ['mul multiplies'], failed: [] });
  t.is(tr.patch, '');
});

// Serial: timing under the load of the other tests of this file would make the step count vary.
test.serial('wall-time limit: a slow model ends the rollout as timeout, not finished', async (t) => {
  const slow: Script = () => ({ content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: 'sleep 0.2' } }], delayMs: 500 });
  const { llm, out } = await rollout(t, slow, {}, { timeoutSeconds: 3 });
  const tr = out.trajectory;
  t.is(tr.exitReason, 'timeout');
  t.false(tr.finished);
  t.true(tr.steps >= 2 && tr.steps <= 5, `steps ${tr.steps}`);
  // A request in flight at the deadline is aborted, not waited for (the deadline may also fall between turns).
  t.true(llm.requests.length === tr.steps || llm.requests.length === tr.steps + 1);
  t.true(out.phases.agentSeconds < 3.5, `agent ran ${out.phases.agentSeconds} s`);
});

test('token limit: the conversation growing past maxTokens ends it as max_tokens', async (t) => {
  // The conversation grows by 300 tokens a turn: 500, 800, 1100 > 1000.
  const big: Script = (_req, turn) => ({
    content: null,
    tool_calls: [{ name: 'execute_bash', arguments: { command: 'echo x' } }],
    usage: { prompt_tokens: 400 + 300 * turn, completion_tokens: 100 },
  });
  const { llm, out } = await rollout(t, big, {}, { maxTokens: 1000 });
  t.is(out.trajectory.exitReason, 'max_tokens');
  t.false(out.trajectory.finished);
  t.is(out.trajectory.steps, 3);
  // Each turn may only use what is left of the budget.
  t.deepEqual(llm.requests.map((r) => r.body.max_tokens), [1000, 500, 200]);
  t.deepEqual(out.trajectory.usage, { promptTokens: 400 + 700 + 1000, completionTokens: 300, totalTokens: 2400 });
});

test('a context-length error is context_length (a sample); another API error is model_error (no sample, not graded)', async (t) => {
  const ctx = await rollout(t, [{ status: 400, error: "This model's maximum context length is 32768 tokens." }]);
  t.is(ctx.out.trajectory.exitReason, 'context_length');
  t.false(ctx.out.trajectory.finished);
  // context_length is a sample (graded); model_error is not (the endpoint failed: no sample, not graded).
  t.deepEqual(ctx.out.trajectory.hidden, { passed: [], failed: ['add adds'] });
  const auth = await rollout(t, [{ status: 401, error: 'bad key' }]);
  t.is(auth.out.trajectory.exitReason, 'model_error');
  t.false(auth.out.trajectory.finished);
  t.regex(auth.out.trajectory.error ?? '', /bad key/);
  t.deepEqual(auth.out.trajectory.hidden, { passed: [], failed: [] });
  t.is(auth.out.phases.gradingSeconds, 0);
});

test('a message without a tool call ends the rollout on its own (finished)', async (t) => {
  const { out } = await rollout(t, [{ content: 'I cannot help.' }]);
  t.is(out.trajectory.exitReason, 'finished');
  t.true(out.trajectory.finished);
  t.is(out.trajectory.steps, 1);
  t.is(out.trajectory.reward, 0);
});

test('infrastructure failures are sandbox_error with the reason, never a silent reward 0', async (t) => {
  // The work tree cannot be made: no model call at all.
  const swe: TaskRecord = { instance_id: 'o__r-1', repo: 'o/r', base_commit: 'abc', problem_statement: 'p', patch: '', test_patch: '', FAIL_TO_PASS: ['t'], PASS_TO_PASS: [] };
  const { llm, out } = await rollout(t, SOLVE_NATIVE, { task: swe });
  t.is(out.trajectory.exitReason, 'sandbox_error');
  t.false(out.trajectory.finished);
  t.regex(out.trajectory.error ?? '', /sandbox setup failed: .*needs its repository checkout/);
  t.is(llm.requests.length, 0);
  // The grader fails: the sample is void, not 0.
  const llm2 = await startScriptedLLM(SOLVE_NATIVE);
  t.teardown(() => llm2.close());
  const tr = await runRollout(
    { task: fixtureTask(), sample: 0, run: 'x', model: 'm', endpoint: { baseURL: llm2.url }, sampling: SAMPLING, limits: LIMITS },
    { evaluate: async () => { throw new Error('grader pod evicted'); } },
  );
  t.is(tr.exitReason, 'sandbox_error');
  t.false(tr.finished);
  t.is(tr.steps, 4);
  t.regex(tr.error ?? '', /grading failed: grader pod evicted/);
});

test('a SWE-bench task is graded in its own checkout: a fresh clone, or in place (then put back to base)', async (t) => {
  const { materialiseWorkTree, git } = await import('../../../operator/grading/worktree.ts');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const fx = fixtureTask();
  const repo = await mkdtemp(path.join(os.tmpdir(), 'entropo-swe-repo-'));
  t.teardown(() => rm(repo, { recursive: true, force: true }));
  const base = await materialiseWorkTree(fx, repo);
  const swe: TaskRecord = {
    instance_id: 'calc__calc-1', repo: 'calc/calc', base_commit: base, problem_statement: fx.problem_statement,
    patch: fx.patch, test_patch: fx.test_patch, FAIL_TO_PASS: fx.FAIL_TO_PASS, PASS_TO_PASS: fx.PASS_TO_PASS,
    test_command: fx.test_command, test_framework: 'node',
  };
  for (const inPlace of [false, true]) {
    const { out } = await rollout(t, SOLVE_NATIVE, { task: swe, sandbox: { repoDir: repo, inPlace } });
    const tr = out.trajectory;
    t.is(tr.exitReason, 'finished', `${inPlace}: ${tr.error}`);
    t.true(tr.resolved, `inPlace=${inPlace}`);
    t.deepEqual(tr.hidden, { passed: ['add adds'], failed: [] });
    t.regex(tr.patch, /\+ {2}return a \+ b;/);
    // The checkout is back at its base state, without the agent's change or the hidden tests.
    t.is((await git(repo, ['status', '--porcelain'])).output, '');
    t.is((await git(repo, ['rev-parse', 'HEAD'])).output.trim(), base);
  }
  // A candidate that also edits an existing test: the test goes back to base before grading.
  const sabotage: Script = [
    { content: null, tool_calls: [{ name: 'file_editor', arguments: { command: 'str_replace', path: 'test/mul.test.js', old_str: 'mul(2, 3), 6', new_str: 'mul(2, 3), 7' } }] },
    ...SOLVE_NATIVE,
  ];
  const edited = await rollout(t, sabotage, { task: swe, sandbox: { repoDir: repo, inPlace: true } });
  t.regex(edited.out.trajectory.patch, /test\/mul\.test\.js/);
  t.deepEqual(edited.out.trajectory.regression, { passed: ['mul multiplies'], failed: [] });
  t.true(edited.out.trajectory.resolved);
  // Without a test command it cannot be graded: no sample, not reward 0.
  const { out } = await rollout(t, SOLVE_NATIVE, { task: { ...swe, test_command: undefined }, sandbox: { repoDir: repo } });
  t.is(out.trajectory.exitReason, 'sandbox_error');
  t.regex(out.trajectory.error ?? '', /has no test_command/);
});

test('a patch too large to grade is the agent\'s outcome: reward 0 with the reason, not an infrastructure error', async (t) => {
  const script: Script = [
    { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: 'head -c 9000000 /dev/zero | tr "\\0" "a" | fold -w 100 > blob.txt && wc -c < blob.txt' } }] },
    { content: null, tool_calls: [{ name: 'finish', arguments: {} }] },
  ];
  const { out } = await rollout(t, script);
  const tr = out.trajectory;
  t.regex(tr.messages[3].content ?? "", /^9089999\n/);
  t.is(tr.exitReason, 'finished');
  t.is(tr.reward, 0);
  t.false(tr.resolved);
  t.is(tr.patch, '');
  t.deepEqual(tr.hidden, { passed: [], failed: ['add adds'] });
  t.regex(tr.error ?? '', /the patch is larger than 8388608 bytes/);
});

test('a turn cut off by the per-turn token limit without a tool call is not a finish: the agent is told and goes on', async (t) => {
  const script: Script = [{ content: 'Let me think about this at great len', finish_reason: 'length' }, ...SOLVE_NATIVE];
  const { out } = await rollout(t, script);
  const tr = out.trajectory;
  t.is(tr.exitReason, 'finished');
  t.is(tr.steps, 5);
  t.true(tr.resolved);
  t.is(tr.messages[3].role, 'user');
  t.regex(tr.messages[3].content ?? '', /cut off at the token limit/);
});

test('a server on its way up (503 while its model loads) is waited for once, and the turn is sent again', async (t) => {
  const loading = { status: 503, error: 'the model is still loading' };
  const { llm, out } = await rollout(t, [loading, ...SOLVE_NATIVE]);
  t.is(out.trajectory.exitReason, 'finished');
  t.true(out.trajectory.resolved);
  t.is(out.trajectory.steps, 4, 'the failed request is not a step');
  t.is(llm.requests.length, 5);
  t.true(llm.modelListRequests >= 1, 'GET /v1/models polled before the turn was sent again');
  // once per rollout: a server that answers 503 again after it came up is a model error
  const again = await rollout(t, [loading, loading, ...SOLVE_NATIVE]);
  t.is(again.out.trajectory.exitReason, 'model_error');
  t.regex(again.out.trajectory.error ?? '', /503 the model is still loading/);
});
