import test from 'ava';
import { assistantMessage } from '../../../operator/serving/chat-format.ts';

test('the policy server reads a <tool_call> whose arguments contain "</tool_call>" as one native call', (t) => {
  const args = { command: 'create', path: 'end.py', file_text: "END = '</tool_call>'\n" };
  const text = `Writing it.\n<tool_call>\n${JSON.stringify({ name: 'file_editor', arguments: args })}\n</tool_call>`;
  let n = 0;
  const m = assistantMessage(text, true, () => `call_${n++}`);
  t.is(m.content, 'Writing it.');
  t.deepEqual(m.tool_calls, [{ id: 'call_0', type: 'function', function: { name: 'file_editor', arguments: JSON.stringify(args) } }]);
  // a malformed block stays in the content as the model wrote it
  const bad = 'x <tool_call>{"name": "finish", "arguments": [1]}</tool_call>';
  t.deepEqual(assistantMessage(bad, true), { content: bad });
});
