import test from 'ava';
import { assistantMessage, templateMessages, toolsEnabled } from '../../../operator/serving/chat-format.ts';
import { fieldOf } from '../../../operator/serving/server.ts';
import { ApiError } from '../../../operator/serving/protocol.ts';

let n = 0;
const ids = () => `call_${n++}`;

test('assistantMessage: well-formed <tool_call> blocks become native tool calls, in order, and leave the content', (t) => {
  n = 0;
  const text = 'Let me look.\n<tool_call>\n{"name": "file_editor", "arguments": {"command": "view", "path": "a.py"}}\n</tool_call>\n<tool_call>\n{"name": "finish", "arguments": {}}\n</tool_call>';
  t.deepEqual(assistantMessage(text, true, ids), {
    content: 'Let me look.',
    tool_calls: [
      { id: 'call_0', type: 'function', function: { name: 'file_editor', arguments: '{"command":"view","path":"a.py"}' } },
      { id: 'call_1', type: 'function', function: { name: 'finish', arguments: '{}' } },
    ],
  });
  // Only calls: content is null (what OpenAI returns).
  t.is(assistantMessage('<tool_call>{"name": "finish", "arguments": {}}</tool_call>', true, ids).content, null);
  // Cut off inside the block (max_tokens): still read, as the agent loop's parser does.
  t.like(assistantMessage('<tool_call>\n{"name": "finish", "arguments": {}}', true, ids), { content: null, tool_calls: [{ function: { name: 'finish' } }] });
});

test('assistantMessage: a malformed block stays in the content as written; without tools nothing is parsed', (t) => {
  const bad = '<tool_call>\n{"name": "finish", "arguments": {</tool_call>';
  t.deepEqual(assistantMessage(bad, true, ids), { content: bad });
  const mixed = `${bad}\n<tool_call>{"name": "finish", "arguments": {}}</tool_call>`;
  const m = assistantMessage(mixed, true, ids);
  t.is(m.content, bad);
  t.is(m.tool_calls!.length, 1);
  const call = '<tool_call>{"name": "finish", "arguments": {}}</tool_call>';
  t.deepEqual(assistantMessage(call, false, ids), { content: call });
});

test('templateMessages: text parts joined, developer is system, missing content named by field', (t) => {
  const out = templateMessages({
    messages: [
      { role: 'developer', content: 'sys' },
      { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'x', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ],
  });
  t.deepEqual(out.map((m) => [m.role, m.content]), [['system', 'sys'], ['user', 'ab'], ['assistant', null]]);
  const e = t.throws(() => templateMessages({ messages: [{ role: 'user', content: null }] }));
  t.true(e instanceof ApiError);
  t.like(e, { status: 400, param: 'messages[0].content', code: 'invalid_value' });
  const img = t.throws(() => templateMessages({ messages: [{ role: 'user', content: [{ type: 'image_url', text: '' } as never] }] }));
  t.like(img, { param: 'messages[0].content[0].type', code: 'unsupported_content' });
  t.true(toolsEnabled({ tools: [{ type: 'function', function: { name: 'f' } }] }));
  t.false(toolsEnabled({ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' }));
  t.false(toolsEnabled({ tools: [] }));
});

test('fieldOf: JSON pointers as field paths', (t) => {
  t.is(fieldOf('/messages/0/role'), 'messages[0].role');
  t.is(fieldOf('/messages/2', 'content'), 'messages[2].content');
  t.is(fieldOf('', 'model'), 'model');
  t.is(fieldOf('/tools/1/function/name'), 'tools[1].function.name');
});
