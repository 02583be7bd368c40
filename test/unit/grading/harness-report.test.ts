import test from 'ava';
import { evaluationSummary, instanceReport, isEmptyPatch, modelDirName, parsePredictions } from '../../../operator/grading/harness-report.ts';

test('evaluationSummary follows make_run_report: incomplete, empty patch, completed (resolved / unresolved), error', (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const preds = new Map<string, { model_patch: string | null }>([['a', { model_patch: 'diff' }], ['b', { model_patch: 'diff' }], ['c', { model_patch: '' }], ['d', { model_patch: null }], ['e', { model_patch: ' ' }]]);
  const reports = new Map([['a', true], ['b', false]]);
  const s = evaluationSummary(ids, preds, reports);
  t.deepEqual(s, {
    total_instances: 6,
    submitted_instances: 5,
    completed_instances: 2,
    resolved_instances: 1,
    unresolved_instances: 1,
    empty_patch_instances: 2,
    error_instances: 1,
    completed_ids: ['a', 'b'],
    incomplete_ids: ['f'],
    empty_patch_ids: ['c', 'd'],
    submitted_ids: ['a', 'b', 'c', 'd', 'e'],
    resolved_ids: ['a'],
    unresolved_ids: ['b'],
    error_ids: ['e'], // a whitespace patch is a patch: run, and here it had no report
    schema_version: 2,
  });
  t.true(isEmptyPatch(''));
  t.true(isEmptyPatch(null));
  t.false(isEmptyPatch('\n'));
});

test('instanceReport: FAIL_TO_PASS from the hidden tests, PASS_TO_PASS from the regression tests', (t) => {
  const r = instanceReport({ hidden: { passed: ['h1'], failed: ['h2'] }, regression: { passed: ['p1'], failed: [] }, resolved: false });
  t.deepEqual(r, {
    patch_is_None: false,
    patch_exists: true,
    patch_successfully_applied: true,
    resolved: false,
    tests_status: {
      FAIL_TO_PASS: { success: ['h1'], failure: ['h2'] },
      PASS_TO_PASS: { success: ['p1'], failure: [] },
      FAIL_TO_FAIL: { success: [], failure: [] },
      PASS_TO_FAIL: { success: [], failure: [] },
    },
  });
  t.is(modelDirName('org/model-7b'), 'org__model-7b');
});

test('parsePredictions: bad lines reported by number and field, the rest kept; a repeated (model, instance) is refused', (t) => {
  const text = [
    JSON.stringify({ instance_id: 'a', model_name_or_path: 'm', model_patch: 'diff' }),
    '{"instance_id": "b"',
    JSON.stringify({ instance_id: 'b', model_name_or_path: 'm', model_patch: 3 }),
    JSON.stringify({ instance_id: '', model_name_or_path: 'm', model_patch: '' }),
    '',
    JSON.stringify({ instance_id: 'a', model_name_or_path: 'm', model_patch: 'again' }),
    JSON.stringify({ instance_id: 'a', model_name_or_path: 'other', model_patch: null, extra: 1 }),
  ].join('\n');
  const { predictions, errors } = parsePredictions(text);
  t.deepEqual(predictions, [
    { instance_id: 'a', model_name_or_path: 'm', model_patch: 'diff' },
    { instance_id: 'a', model_name_or_path: 'other', model_patch: null },
  ]);
  t.deepEqual(errors.map((e) => e.line), [2, 3, 4, 6]);
  t.regex(errors[1].message, /model_patch: expected a string/);
  t.regex(errors[2].message, /instance_id: expected a non-empty string/);
  t.regex(errors[3].message, /second prediction of m for a \(first on line 1\)/);
});
