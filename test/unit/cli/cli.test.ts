import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { baseTrainingRun, setPath } from '../../fixtures/api/invalid-cases.ts';

const entropo = (...args: string[]) => spawnSync('node', ['bin/entropo.js', ...args], { encoding: 'utf8' });

test('entropo --help lists the commands and exits 0', (t) => {
  const r = entropo('--help');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /Usage: entropo/);
  t.regex(r.stdout, /validate/);
  t.regex(r.stdout, /crds/);
});

test('entropo validate accepts the examples and rejects a bad manifest naming the field', (t) => {
  const ok = entropo('validate', 'manifests/examples/quickstart.yaml', 'manifests/examples/evalsuite.yaml');
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /quickstart\.yaml:\d+: TrainingRun is valid/);

  const dir = mkdtempSync(join(tmpdir(), 'entropo-cli-'));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, stringify(setPath(baseTrainingRun(), 'spec.preference.gamma', 0.5)));
  const r = entropo('validate', bad);
  t.is(r.status, 1);
  t.regex(r.stderr, /spec\.preference\.zeta \(line \d+\): zeta must be >= gamma/);

  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'spec: [unclosed\n');
  const y = entropo('validate', broken);
  t.is(y.status, 1);
  t.regex(y.stderr, /broken\.yaml:2:1: YAML syntax error: [^\n]*[^:\n]\n/);
  t.notRegex(y.stderr, /\(root\)/);

  // a file with no object is an error naming the file (as kubectl apply -f: "no objects passed")
  const empty = join(dir, 'empty.yaml');
  writeFileSync(empty, '');
  const comments = join(dir, 'comments.yaml');
  writeFileSync(comments, '# nothing here yet\n---\n');
  const e = entropo('validate', empty, 'manifests/examples/quickstart.yaml', comments);
  t.is(e.status, 1);
  t.regex(e.stderr, /empty\.yaml: no objects to validate \(the file is empty or holds only comments\)/);
  t.regex(e.stderr, /comments\.yaml: no objects to validate/);
  t.regex(e.stdout, /quickstart\.yaml:\d+: TrainingRun is valid/);
  const stdinEmpty = spawnSync('node', ['bin/entropo.js', 'validate', '-'], { encoding: 'utf8', input: '' });
  t.is(stdinEmpty.status, 1);
  t.regex(stdinEmpty.stderr, /<stdin>: no objects to validate/);
});

test('entropo validate: -o is an output format (xml fails), -f - and - read stdin, other kinds are skipped with a note', (t) => {
  const rb = readFileSync('manifests/examples/rolloutbatch.yaml', 'utf8');
  const xml = entropo('validate', '-o', 'xml', 'manifests/examples/rolloutbatch.yaml');
  t.is(xml.status, 1);
  t.regex(xml.stderr, /unknown output format "xml"/);
  t.is(xml.stdout, '');
  const stdin = spawnSync('node', ['bin/entropo.js', 'validate', '-f', '-', '-o', 'json'], { encoding: 'utf8', input: `apiVersion: v1\nkind: Namespace\nmetadata: {name: ml}\n---\n${rb}\n  suspend: yes\n---\n` });
  t.is(stdin.status, 0, stdin.stderr);
  t.regex(stdin.stderr, /<stdin>:1 \(document 1\): Namespace \(v1\) is not an entropo\.dev kind: skipped/);
  t.is(JSON.parse(stdin.stdout).spec.suspend, true);
  const dash = spawnSync('node', ['bin/entropo.js', 'validate', '-'], { encoding: 'utf8', input: rb });
  t.is(dash.status, 0, dash.stderr);
  t.regex(dash.stdout, /<stdin>:\d+: RolloutBatch is valid/);
});

test('entropo crds prints the three CRDs', (t) => {
  const r = entropo('crds');
  t.is(r.status, 0);
  t.is((r.stdout.match(/kind: CustomResourceDefinition/g) ?? []).length, 3);
});
