import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatError, loadTaskFile, loadTaskSource, parseTaskJsonl, selectTasks, shuffled } from '../../../operator/tasks/dataset.ts';
import { FsStore } from '../../../operator/store/fs-store.ts';
import { isSelfContained, type SweBenchTask } from '../../../operator/api/records.ts';

// Shaped like a row of princeton-nlp/SWE-bench_Verified exported to JSONL: the test lists are
// JSON-encoded strings and extra fields (created_at, hints_text, difficulty) are present.
const hfRow = {
  repo: 'astropy/astropy',
  instance_id: 'astropy__astropy-12907',
  base_commit: 'd16bfe05a744909de4b27f5875fe0d4ed41ce607',
  patch: 'diff --git a/astropy/modeling/separable.py b/astropy/modeling/separable.py\n',
  test_patch: 'diff --git a/astropy/modeling/tests/test_separable.py b/astropy/modeling/tests/test_separable.py\n',
  problem_statement: 'Modeling\'s `separability_matrix` does not compute separability correctly for nested CompoundModels',
  hints_text: '',
  created_at: '2022-03-03T15:14:54Z',
  version: '4.3',
  FAIL_TO_PASS: '["astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]"]',
  PASS_TO_PASS: '["astropy/modeling/tests/test_separable.py::test_coord_matrix", "astropy/modeling/tests/test_separable.py::test_cdot"]',
  environment_setup_commit: '298ccb478e6bf092953bca67a3d29dc6c35f6752',
  difficulty: '15 min - 1 hour',
};

const arrayRow = { ...hfRow, instance_id: 'django__django-11099', repo: 'django/django', version: 3.0, FAIL_TO_PASS: ['a'], PASS_TO_PASS: [] };

test('SWE-bench JSONL: JSON-encoded test lists (HF form) and plain arrays both load', (t) => {
  const text = [JSON.stringify(hfRow), '', JSON.stringify(arrayRow)].join('\n');
  const { tasks, errors } = parseTaskJsonl(text);
  t.deepEqual(errors, []);
  t.is(tasks.length, 2);
  const [a, b] = tasks as SweBenchTask[];
  t.deepEqual(a.FAIL_TO_PASS, ['astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]']);
  t.is(a.PASS_TO_PASS.length, 2);
  t.is((a as unknown as { hints_text: string }).hints_text, '');
  t.is(b.version, '3', 'a numeric version is kept as a string');
  t.false(isSelfContained(a));
});

test('a malformed line is reported with its line number and field; the others still load', (t) => {
  const { version: _v, ...noVersion } = hfRow;
  const lines = [
    JSON.stringify(hfRow), // 1 ok
    '{"instance_id": "x", broken', // 2 not JSON
    JSON.stringify({ ...hfRow, instance_id: 'no-base', base_commit: undefined }), // 3 missing base_commit
    JSON.stringify({ ...hfRow, instance_id: 'bad-list', FAIL_TO_PASS: '[not json' }), // 4 bad encoded list
    JSON.stringify({ ...hfRow, instance_id: 'bad-type', PASS_TO_PASS: 7 }), // 5 wrong type
    '[1, 2]', // 6 not an object
    JSON.stringify(hfRow), // 7 duplicate id
    JSON.stringify({ ...noVersion, instance_id: 'ok-2' }), // 8 ok (version optional)
  ].join('\n');
  const { tasks, errors } = parseTaskJsonl(lines);
  t.deepEqual(tasks.map((x) => x.instance_id), ['astropy__astropy-12907', 'ok-2']);
  const by = errors.map((e) => [e.line, e.field]);
  t.deepEqual(by, [
    [2, ''],
    [3, 'base_commit'],
    [4, 'FAIL_TO_PASS'],
    [5, 'PASS_TO_PASS'],
    [6, ''],
    [7, 'instance_id'],
  ]);
  t.regex(errors[0].message, /not valid JSON/);
  t.regex(errors[1].message, /is required/);
  t.regex(errors[2].message, /JSON-encoded list/);
  t.regex(errors[5].message, /duplicate of line 1/);
  t.is(formatError(errors[1], 'tasks.jsonl'), 'tasks.jsonl:3: base_commit: is required (no-base)');
});

test('self-contained JSONL and per-record auto detection', (t) => {
  const sc = {
    instance_id: 'lib-1',
    repo: 'lib',
    problem_statement: 'x',
    language: 'python',
    files: { 'a.py': 'x = 1\n' },
    patch: '',
    test_patch: '',
    test_command: 'python3 -m pytest',
    test_framework: 'pytest',
    FAIL_TO_PASS: '["t.py::test_a"]',
    PASS_TO_PASS: [],
    split: 'train',
  };
  const one = parseTaskJsonl(JSON.stringify(sc), 'SelfContained');
  t.deepEqual(one.errors, []);
  t.true(isSelfContained(one.tasks[0]));
  t.deepEqual(one.tasks[0].FAIL_TO_PASS, ['t.py::test_a']);
  const bad = parseTaskJsonl(JSON.stringify({ ...sc, language: 'cobol' }), 'SelfContained');
  t.is(bad.errors[0].field, 'language');
  const mixed = parseTaskJsonl([JSON.stringify(sc), JSON.stringify(hfRow)].join('\n'), 'Auto');
  t.deepEqual(mixed.errors, []);
  t.deepEqual(mixed.tasks.map(isSelfContained), [true, false]);
});

test('selection: instanceIds keep dataset order, shuffleSeed is deterministic, limit applies last', (t) => {
  const tasks = Array.from({ length: 20 }, (_, i) => ({ instance_id: `t${i}` }));
  const ids = (xs: { instance_id: string }[]) => xs.map((x) => x.instance_id);
  const picked = selectTasks(tasks, { instanceIds: ['t5', 't1', 'nope'] });
  t.deepEqual(ids(picked.tasks), ['t1', 't5']);
  t.deepEqual(picked.missing, ['nope']);
  const a = selectTasks(tasks, { shuffleSeed: 7, limit: 5 });
  const b = selectTasks(tasks, { shuffleSeed: 7, limit: 5 });
  const c = selectTasks(tasks, { shuffleSeed: 8, limit: 5 });
  t.deepEqual(ids(a.tasks), ids(b.tasks));
  t.notDeepEqual(ids(a.tasks), ids(c.tasks));
  t.is(a.tasks.length, 5);
  t.deepEqual(ids(selectTasks(tasks, { limit: 3 }).tasks), ['t0', 't1', 't2']);
  // A shuffle is a permutation, and stable across runs (pinned values).
  const s = shuffled([1, 2, 3, 4, 5, 6, 7, 8], 42);
  t.deepEqual([...s].sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
  t.deepEqual(s, shuffled([1, 2, 3, 4, 5, 6, 7, 8], 42));
  t.deepEqual(tasks, Array.from({ length: 20 }, (_, i) => ({ instance_id: `t${i}` })), 'input not modified');
});

test('sources: file://, store://, ConfigMap and builtin, with selection and unknown ids reported', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'entropo-ds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const text = [JSON.stringify(hfRow), JSON.stringify(arrayRow), 'garbage'].join('\n') + '\n';
  const file = path.join(dir, 'tasks.jsonl');
  await writeFile(file, text);

  const fromFile = await loadTaskSource({ jsonl: { uri: pathToFileURL(file).href, format: 'SWEBench' } });
  t.is(fromFile.tasks.length, 2);
  t.deepEqual(fromFile.errors.map((e) => e.line), [3]);
  t.is((await loadTaskFile(file)).tasks.length, 2);

  const store = new FsStore(path.join(dir, 'store'));
  await store.put('datasets/verified.jsonl', text);
  const fromStore = await loadTaskSource({ jsonl: { uri: 'store://datasets/verified.jsonl', format: 'SWEBench' }, instanceIds: ['django__django-11099', 'missing-id'] }, { store });
  t.deepEqual(fromStore.tasks.map((x) => x.instance_id), ['django__django-11099']);
  t.deepEqual(fromStore.errors.filter((e) => e.field === 'instanceIds').map((e) => e.instance_id), ['missing-id']);
  await t.throwsAsync(loadTaskSource({ jsonl: { uri: 'store://x.jsonl', format: 'SWEBench' } }), { message: /no artifact store/ });

  const fromCm = await loadTaskSource({ configMapRef: { name: 'tasks', key: 'tasks.jsonl' } }, { readConfigMap: async (name, key) => (name === 'tasks' && key === 'tasks.jsonl' ? text : '') });
  t.is(fromCm.tasks.length, 2);

  const builtin = await loadTaskSource({ builtin: { suite: 'entropo-bugs', split: 'Eval' }, limit: 4, shuffleSeed: 1 });
  t.is(builtin.tasks.length, 4);
  t.true(builtin.tasks.every((x) => isSelfContained(x) && x.split === 'eval'));
  await t.throwsAsync(loadTaskSource({ builtin: { suite: 'no-such-suite', split: 'All' } }), { message: /unknown built-in suite/ });
});
