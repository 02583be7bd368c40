import test from 'ava';
import { parseTextToolCalls, toolResponses, toolsPrompt } from '../../../operator/rollout/agent/text-format.ts';
import { TOOLS } from '../../../operator/rollout/tools/schemas.ts';

test('toolsPrompt lists every tool schema as one JSON line inside <tools>', (t) => {
  const p = toolsPrompt(TOOLS);
  const inside = p.split('<tools>\n')[1].split('\n</tools>')[0].split('\n');
  t.is(inside.length, 4);
  t.deepEqual(inside.map((l) => JSON.parse(l).function.name), ['file_editor', 'execute_bash', 'search', 'finish']);
  t.true(p.includes('<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'));
});

test('parses several calls in order, arguments as JSON strings', (t) => {
  const text = 'Thinking.\n<tool_call>\n{"name": "search", "arguments": {"search_term": "foo"}}\n</tool_call>\nthen\n<tool_call>{"name":"finish","arguments":{}}</tool_call>';
  t.deepEqual(parseTextToolCalls(text), [
    { ok: true, name: 'search', arguments: '{"search_term":"foo"}' },
    { ok: true, name: 'finish', arguments: '{}' },
  ]);
});

test('an unterminated last call (turn cut off) is still read; fenced JSON accepted', (t) => {
  t.deepEqual(parseTextToolCalls('<tool_call>\n{"name": "execute_bash", "arguments": {"command": "ls"}}'), [
    { ok: true, name: 'execute_bash', arguments: '{"command":"ls"}' },
  ]);
  t.deepEqual(parseTextToolCalls('<tool_call>\n```json\n{"name": "finish", "arguments": {}}\n```\n</tool_call>'), [{ ok: true, name: 'finish', arguments: '{}' }]);
});

test('invalid JSON and a missing name become errors, not exceptions', (t) => {
  const r = parseTextToolCalls('<tool_call>{"name": "execute_bash", "arguments": {"command": "ls"</tool_call><tool_call>{"arguments": {}}</tool_call>');
  t.is(r.length, 2);
  t.false(r[0].ok);
  if (!r[0].ok) t.regex(r[0].error, /not valid JSON/);
  t.false(r[1].ok);
  if (!r[1].ok) t.regex(r[1].error, /"name"/);
});

test('no tool call in plain text', (t) => {
  t.deepEqual(parseTextToolCalls('All done, nothing to call.'), []);
});

test('toolResponses wraps each result in order', (t) => {
  t.is(toolResponses(['a', 'b']), '<tool_response>\na\n</tool_response>\n<tool_response>\nb\n</tool_response>');
});
