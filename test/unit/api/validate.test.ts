import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { check, parseResource, ValidationError } from '../../../operator/api/validate.ts';
import { TrainingRun } from '../../../operator/api/kinds.ts';
import { selectionPipeline } from '../../../operator/api/common.ts';
import { INVALID_CASES, baseTrainingRun, setPath } from '../../fixtures/api/invalid-cases.ts';

test('every example manifest validates locally', (t) => {
  const files = readdirSync('manifests/examples').filter((f) => f.endsWith('.yaml'));
  t.true(files.length >= 4);
  for (const f of files) {
    const { kind } = parseResource(parseYaml(readFileSync(`manifests/examples/${f}`, 'utf8')), f);
    t.regex(kind, /^(TrainingRun|RolloutBatch|EvalSuite)$/);
  }
});

test('defaults follow the paper', (t) => {
  const r = check<{ spec: Record<string, any> }>(TrainingRun, baseTrainingRun());
  if (!r.ok) return t.fail(JSON.stringify(r.errors));
  const s = r.value.spec;
  t.is(s.preference.zeta, 0.11);
  t.is(s.preference.gamma, 0.1);
  t.is(s.rollout.sampling.temperature, 0.7);
  t.is(s.rollout.sampling.topP, 0.8);
  t.is(s.rollout.sampling.topK, 20);
  t.is(s.evaluation.samplesPerTask, 4); // set in the base; the default is 16:
  const noEval = check<{ spec: Record<string, any> }>(TrainingRun, setPath(baseTrainingRun(), 'spec.evaluation.samplesPerTask', undefined));
  t.true(noEval.ok && noEval.value.spec.evaluation.samplesPerTask === 16);
  t.is(s.training.lora.rank, 8);
  t.is(s.training.lora.alpha, 16);
  t.is(s.training.learningRate, 1e-5);
  t.is(s.training.warmupRatio, 0.1);
  // An unset pipeline runs the paper's hybrid with a verifier, and without one the same minus the
  // verifier step (a verifier step requires a verifier).
  t.is(s.evaluation.selection.pipeline, undefined);
  t.deepEqual(selectionPipeline(s.evaluation.selection, true).map((p) => p.type), ['Finished', 'Regression', 'VerifierThreshold', 'Steps']);
  t.deepEqual(selectionPipeline(s.evaluation.selection, false).map((p) => p.type), ['Finished', 'Regression', 'Steps']);
});

test('validation does not modify its input', (t) => {
  const input = baseTrainingRun();
  const before = JSON.stringify(input);
  check(TrainingRun, input);
  t.is(JSON.stringify(input), before);
});

for (const c of INVALID_CASES) {
  test(`local validation rejects: ${c.name}`, (t) => {
    const err = t.throws(() => parseResource(c.object), { instanceOf: ValidationError }) as ValidationError;
    t.true(
      err.errors.some((e) => e.field === c.field),
      `expected an error on ${c.field}, got ${JSON.stringify(err.errors)}`,
    );
  });
}

test('the invalid-case table has at least 30 cases, all distinct', (t) => {
  t.true(INVALID_CASES.length >= 30);
  t.is(new Set(INVALID_CASES.map((c) => c.name)).size, INVALID_CASES.length);
});

test('immutability rule: preference cannot change once the run has started', (t) => {
  const old = { ...baseTrainingRun(), status: { phase: 'Running' } };
  const changed = setPath(baseTrainingRun(), 'spec.preference.zeta', 0.2);
  const defaultedOld = check(TrainingRun, old);
  if (!defaultedOld.ok) return t.fail();
  const r = check(TrainingRun, changed, defaultedOld.value);
  t.false(r.ok);
  if (!r.ok) t.regex(r.errors.map((e) => e.message).join(), /spec\.preference is immutable/);
  if (!r.ok) t.deepEqual(r.errors.map((e) => e.field), ['spec.preference'], 'the rule names its field');
  // suspend may change at any time, and anything may change while Pending.
  t.true(check(TrainingRun, setPath(baseTrainingRun(), 'spec.suspend', true), defaultedOld.value).ok);
  const pending = check(TrainingRun, { ...baseTrainingRun(), status: { phase: 'Pending' } });
  if (!pending.ok) return t.fail();
  t.true(check(TrainingRun, changed, pending.value).ok);
});
