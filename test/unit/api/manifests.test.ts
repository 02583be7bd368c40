import test from 'ava';
import { validateManifests } from '../../../operator/api/manifests.ts';
import { PARITY_CASES } from '../../fixtures/api/invalid-cases.ts';

// The same table runs through the real API server in test/integration/crds.test.ts.
for (const c of PARITY_CASES) {
  test(`entropo validate decides as the API server: ${c.name}`, (t) => {
    const results = validateManifests(c.yaml, 'case.yaml').filter((r) => r.status !== 'skipped');
    t.is(results.length, 1);
    const [r] = results;
    t.is(r.status, c.valid ? 'valid' : 'invalid', JSON.stringify(r.errors));
    if (!c.valid) t.true(r.errors!.some((e) => e.field === c.field), `no error on ${c.field}: ${JSON.stringify(r.errors)}`);
  });
}

test('suspend: yes is read as kubectl reads it (true)', (t) => {
  const [r] = validateManifests(PARITY_CASES[1].yaml, 'x.yaml');
  t.is((r.value as { spec: { suspend: boolean } }).spec.suspend, true);
});

test('a trailing --- is skipped; other kinds are skipped with a note; a List is expanded', (t) => {
  const rb = PARITY_CASES[0].yaml;
  const text = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ml\n---\n${rb}---\n# only a comment\n---\n`;
  const rs = validateManifests(text, 'all.yaml');
  t.deepEqual(rs.map((r) => [r.status, r.kind]), [['skipped', 'Namespace'], ['valid', 'RolloutBatch']]);
  t.regex(rs[0].note!, /Namespace \(v1\) is not an entropo\.dev kind: skipped/);
  t.regex(rs[1].where, /^all\.yaml:6 \(document 2\)$/);
  const list = validateManifests(`apiVersion: v1\nkind: List\nitems:\n- {apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: r}}\n- {apiVersion: entropo.dev/v1alpha1, kind: EvalSuite, metadata: {name: e}, spec: {}}\n`, 'l.yaml');
  t.deepEqual(list.map((r) => r.status), ['skipped', 'invalid']);
});

test('schema errors and rule errors are both reported (a pattern error does not hide a CEL rule)', (t) => {
  const [r] = validateManifests(PARITY_CASES.find((c) => c.name.startsWith('a schema error and a rule'))!.yaml, 'x.yaml');
  const fields = r.errors!.map((e) => e.field);
  t.true(fields.includes('spec.sandbox.runtimeClassName'));
  t.true(fields.includes('spec.sandbox.tolerations[0].value'));
});

test('a blocking schema error (wrong type) stops the rules with the API server\'s note', (t) => {
  const yaml = PARITY_CASES[0].yaml.replace('  tasks:', '  samplesPerTask: many\n  tasks:');
  const [r] = validateManifests(yaml, 'x.yaml');
  t.is(r.status, 'invalid');
  t.deepEqual(r.errors!.map((e) => e.field), ['spec.samplesPerTask', '']);
  t.regex(r.errors![1].message, /some validation rules were not checked/);
});

test('YAML errors and wrong group/kind name the line and the field', (t) => {
  const [y] = validateManifests('a: 1\nb: [unclosed\n', 'bad.yaml');
  t.is(y.status, 'invalid');
  t.regex(y.errors![0].message, /^YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a \]\n/);
  t.is(y.where, 'bad.yaml:3:1');
  t.is(y.kind, 'YAML');
  t.notRegex(y.errors![0].message, /at line \d+, column \d+:?$/m);
  const [k] = validateManifests('apiVersion: entropo.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: x}\n', 'k.yaml');
  t.is(k.status, 'invalid');
  t.is(k.errors![0].field, 'kind');
  const [n] = validateManifests('kind: TrainingRun\n', 'n.yaml');
  t.deepEqual([n.status, n.errors![0].field], ['invalid', 'apiVersion']);
});

test('each error names the line of its field in the file (keys with dots, list items, a missing field at its parent)', (t) => {
  const yaml = [
    'apiVersion: entropo.dev/v1alpha1', // 1
    'kind: TrainingRun', // 2
    'metadata:', // 3
    '  name: x', // 4
    '  labels:', // 5
    '    app.kubernetes.io/name: "bad value!"', // 6
    'spec:', // 7
    '  policy:', // 8
    '    name: m', // 9
    '    source: builtin:tiny-coder', // 10
    '  tasks:', // 11
    '    builtin: {}', // 12
    '  iteratons: 2', // 13
    '  preference:', // 14
    '    algorithm: KTO', // 15
    '    zeta: 0.05', // 16
    '    gamma: 0.1', // 17
    '',
  ].join('\n');
  const [r] = validateManifests(yaml, 'f.yaml');
  const lines = Object.fromEntries(r.errors!.map((e) => [e.field, e.line]));
  t.deepEqual(lines, { 'metadata.labels': 5, 'spec.iteratons': 13, 'spec.preference.zeta': 16 });
  // in a List, item i's fields are found under items[i]
  const list = validateManifests('apiVersion: v1\nkind: List\nitems:\n- apiVersion: entropo.dev/v1alpha1\n  kind: EvalSuite\n  metadata: {name: e}\n  spec:\n    bogus: 1\n', 'l.yaml');
  t.is(list[0].errors!.find((e) => e.field === 'spec.bogus')?.line, 8);
});
