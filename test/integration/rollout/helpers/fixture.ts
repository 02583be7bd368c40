/** A tiny self-contained task (node's test runner) for rollout tests, and scripted agents that solve it. */
import type { SelfContainedTask } from '../../../../operator/api/records.ts';
import type { ScriptedReply } from '../../../helpers/scripted-llm.ts';

const HIDDEN_TEST = `import test from 'node:test';
import assert from 'node:assert/strict';
import { add } from '../src/math.js';

test('add adds', () => {
  assert.equal(add(2, 3), 5);
});
`;

export function fixtureTask(id = 'calc-add'): SelfContainedTask {
  return {
    instance_id: id,
    repo: 'calc',
    problem_statement: 'add(2, 3) returns -1 instead of 5.',
    language: 'javascript',
    files: {
      'package.json': '{ "type": "module" }\n',
      'src/math.js': 'export function add(a, b) {\n  return a - b;\n}\n\nexport function mul(a, b) {\n  return a * b;\n}\n',
      'test/mul.test.js':
        "import test from 'node:test';\nimport assert from 'node:assert/strict';\nimport { mul } from '../src/math.js';\n\ntest('mul multiplies', () => {\n  assert.equal(mul(2, 3), 6);\n});\n",
    },
    patch: 'diff --git a/src/math.js b/src/math.js\n--- a/src/math.js\n+++ b/src/math.js\n@@ -1,3 +1,3 @@\n export function add(a, b) {\n-  return a - b;\n+  return a + b;\n }\n',
    test_patch:
      'diff --git a/test/add.test.js b/test/add.test.js\nnew file mode 100644\n--- /dev/null\n+++ b/test/add.test.js\n@@ -0,0 +1,7 @@\n' +
      HIDDEN_TEST.replace(/\n$/, '')
        .split('\n')
        .map((l) => `+${l}`)
        .join('\n') +
      '\n',
    test_command: 'node --test --test-reporter=tap',
    test_framework: 'node',
    FAIL_TO_PASS: ['add adds'],
    PASS_TO_PASS: ['mul multiplies'],
  };
}

/** Native tool calls: view, fix, run the tests, finish. */
export const SOLVE_NATIVE: ScriptedReply[] = [
  { content: 'Let me look at the code.', tool_calls: [{ name: 'file_editor', arguments: { command: 'view', path: 'src/math.js' } }] },
  { content: null, tool_calls: [{ name: 'file_editor', arguments: { command: 'str_replace', path: 'src/math.js', old_str: 'return a - b;', new_str: 'return a + b;' } }] },
  { content: null, tool_calls: [{ name: 'execute_bash', arguments: { command: 'node --test --test-reporter=tap 2>&1 | grep -c "^ok"' } }] },
  { content: 'Fixed.', tool_calls: [{ name: 'finish', arguments: { message: 'add now adds' } }] },
];

const call = (name: string, args: Record<string, unknown>) => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;

/** The same agent in the text tool-call format. */
export const SOLVE_TEXT: ScriptedReply[] = [
  { content: `I will fix add.\n${call('file_editor', { command: 'str_replace', path: 'src/math.js', old_str: 'return a - b;', new_str: 'return a + b;' })}` },
  { content: call('execute_bash', { command: 'node --test --test-reporter=tap 2>&1 | grep -c "^ok"' }) },
  { content: `Done.\n${call('finish', {})}` },
];
