import test from 'ava';
import { turnRequest, unparsedToolCallHint } from '../../../operator/rollout/agent/loop.ts';
import { TOOLS } from '../../../operator/rollout/tools/schemas.ts';

const toolbox = { tools: TOOLS } as any;
const messages = [{ role: 'user' as const, content: 'hi' }];

test('turnRequest: sampling in the API\'s names, top_k as an extra parameter, tools only in the native format', (t) => {
  const native = turnRequest(
    { model: 'm', sampling: { temperature: 0.7, top_p: 0.8, top_k: 20, seed: 9, max_tokens: 100 }, limits: { maxSteps: 1, maxTokens: 1000, toolTimeoutSeconds: 1, toolCallFormat: 'Native' }, toolbox },
    messages,
    64,
  );
  t.deepEqual(native, { model: 'm', messages, temperature: 0.7, top_p: 0.8, max_tokens: 64, top_k: 20, seed: 9, tools: TOOLS, tool_choice: 'auto' });
  const text = turnRequest(
    { model: 'm', sampling: { temperature: 1, top_p: 1, top_k: 0 }, limits: { maxSteps: 1, maxTokens: 1000, toolTimeoutSeconds: 1, toolCallFormat: 'Text' }, toolbox },
    messages,
    10,
  );
  // top_k 0 (off) and no seed are left out, so strict endpoints accept the request.
  t.deepEqual(text, { model: 'm', messages, temperature: 1, top_p: 1, max_tokens: 10 });
});

test('a <tool_call> left in the text: the endpoint gets the vLLM hint only when the call was well-formed (a malformed one is the model\'s, whatever the server)', (t) => {
  t.is(unparsedToolCallHint('I am done.'), undefined);
  const unparsed = unparsedToolCallHint('<tool_call>{"name": "finish", "arguments": {}}</tool_call>');
  t.is(unparsed?.level, 'warn');
  t.regex(unparsed!.message, /vLLM: --enable-auto-tool-choice --tool-call-parser hermes/);
  // what the built-in tiny coder sometimes writes, and our policy server rightly leaves in the text
  const malformed = unparsedToolCallHint('<tool_call>{"name": "file_editor", "arguments": {"command": "view", "path": "a.py"</tool_call>');
  t.is(malformed?.level, 'info');
  t.notRegex(malformed!.message, /vLLM|endpoint/);
  t.regex(malformed!.message, /malformed tool call, .*: the tool call is not valid JSON/);
});
