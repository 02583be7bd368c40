import test from 'ava';
import { turnRequest } from '../../../operator/rollout/agent/loop.ts';
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
