import test from 'ava';
import { parseTextToolCalls, toolCallBlocks, toolResponses, toolsPrompt } from '../../../operator/rollout/agent/text-format.ts';
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

test('a JSON argument holding the text </tool_call> is one valid call (the JSON is parsed, not the tags)', (t) => {
  const args = { command: 'str_replace', path: 'x.py', old_str: 'END = None', new_str: "END = '</tool_call>'" };
  const text = `I will edit.\n<tool_call>\n${JSON.stringify({ name: 'file_editor', arguments: args })}\n</tool_call>`;
  t.deepEqual(parseTextToolCalls(text), [{ ok: true, name: 'file_editor', arguments: JSON.stringify(args) }]);
  // two blocks, the first with the tag inside a string, keep their order and bounds
  const two = `${text}\n<tool_call>{"name": "finish", "arguments": {}}</tool_call>`;
  const blocks = toolCallBlocks(two);
  t.deepEqual(blocks.map((b) => b.call.ok && b.call.name), ['file_editor', 'finish']);
  t.is(two.slice(blocks[0].end, blocks[1].start), '\n');
  // unterminated (cut off) after a string with the tag in it
  t.deepEqual(parseTextToolCalls(`<tool_call>{"name": "execute_bash", "arguments": {"command": "echo '</tool_call>'"}}`), [
    { ok: true, name: 'execute_bash', arguments: JSON.stringify({ command: "echo '</tool_call>'" }) },
  ]);
});

test('arguments that are not a JSON object are an error observation', (t) => {
  for (const args of ['[1, 2]', '"ls"', '3', 'null', '"[1]"', '"not json"']) {
    const [c] = parseTextToolCalls(`<tool_call>{"name": "execute_bash", "arguments": ${args}}</tool_call>`);
    t.false(c.ok, args);
    if (!c.ok) t.regex(c.error, /arguments of execute_bash (must be a JSON object|are not valid JSON)/, args);
  }
  // a JSON string holding an object is accepted (some templates double-encode)
  t.deepEqual(parseTextToolCalls('<tool_call>{"name": "search", "arguments": "{\\"search_term\\": \\"x\\"}"}</tool_call>'), [
    { ok: true, name: 'search', arguments: '{"search_term":"x"}' },
  ]);
  // text after the JSON object inside the block is an error, not silently dropped
  const [extra] = parseTextToolCalls('<tool_call>{"name": "finish", "arguments": {}}} </tool_call>');
  t.false(extra.ok);
});
