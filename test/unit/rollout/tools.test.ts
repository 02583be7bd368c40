import test from 'ava';
import { bashObservation, parseArguments } from '../../../operator/rollout/tools/toolbox.ts';
import { formatSearch, searchCommand, shQuote } from '../../../operator/rollout/tools/search.ts';
import type { ExecResult } from '../../../operator/rollout/sandbox/exec.ts';

test('parseArguments: JSON object, object, empty; rejects invalid JSON and non-objects', (t) => {
  t.deepEqual(parseArguments('{"command":"ls"}'), { ok: true, args: { command: 'ls' } });
  t.deepEqual(parseArguments({ a: 1 }), { ok: true, args: { a: 1 } });
  t.deepEqual(parseArguments(''), { ok: true, args: {} });
  const bad = parseArguments('{"command": "ls"');
  t.false(bad.ok);
  if (!bad.ok) t.regex(bad.error, /not valid JSON/);
  t.false(parseArguments('[1,2]').ok);
  t.false(parseArguments('"text"').ok);
});

const result = (over: Partial<ExecResult>): ExecResult => ({
  exitCode: 0, signal: null, output: 'out\n', outputBytes: 4, truncated: false, timedOut: false, seconds: 0.1, ...over,
});

test('bashObservation: exit code, timeout, signal with its limit, truncation', (t) => {
  t.is(bashObservation(result({}), 30), 'out\n[exit code: 0]');
  t.is(bashObservation(result({ exitCode: 2, output: '' }), 30), '[exit code: 2]');
  t.regex(bashObservation(result({ timedOut: true, exitCode: null, signal: 'SIGKILL' }), 7), /timed out after 7 s and was killed/);
  t.regex(bashObservation(result({ exitCode: null, signal: 'SIGXCPU' }), 7), /killed by SIGXCPU \(CPU time limit\)/);
  t.regex(bashObservation(result({ truncated: true, outputBytes: 104857600 }), 7), /output was 104857600 bytes/);
  t.is(bashObservation(result({ exitCode: 152, output: '' }), 7), '[exit code: 152: killed by SIGXCPU (CPU time limit)]');
  t.is(bashObservation(result({ exitCode: 137, output: '' }), 7), '[exit code: 137: killed by SIGKILL]');
  t.is(bashObservation(result({ exitCode: 127, output: '' }), 7), '[exit code: 127]');
});

test('shQuote survives quotes; the search command is literal (-F)', (t) => {
  t.is(shQuote("it's"), `'it'\\''s'`);
  t.is(searchCommand('a$b', '/w'), "grep -rIn -F --exclude-dir=.git --exclude-dir=node_modules --exclude-dir=__pycache__ -e 'a$b' -- '/w'");
});

test('formatSearch: per-file counts in a directory, lines in a file, none, too many', (t) => {
  const out = '/w/src/a.py:3:foo()\n/w/src/a.py:9:foo\n/w/b.py:1:foo\n';
  t.is(formatSearch('foo', '.', false, out, '/w'), 'Found 3 matches for "foo" in .:\n./b.py (1 matches)\n./src/a.py (2 matches)\nEnd of matches for "foo" in ..');
  t.is(formatSearch('foo', 'src/a.py', true, '3:foo()\n9:foo\n', '/w'), 'Matches for "foo" in src/a.py:\n3:foo()\n9:foo');
  t.is(formatSearch('zzz', '.', false, '', '/w'), 'No matches found for "zzz" in ..');
  const many = Array.from({ length: 5 }, (_, i) => `/w/f${i}.py:1:x`).join('\n');
  t.regex(formatSearch('x', '.', false, many, '/w', 3), /More than 3 files matched "x" in \. \(5 files, 5 matches\)/);
});
