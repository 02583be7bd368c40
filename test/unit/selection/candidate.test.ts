import test from 'ava';
import { toCandidate, toCandidates, type SelectionCandidate } from '../../../operator/selection/candidate.ts';
import { record } from './_fixtures.ts';


test('toCandidate copies only test-time fields: no hidden tests, reward, resolved or messages', (t) => {
  const c = toCandidate(record());
  t.deepEqual(c, {
    id: 'ini-3/0/batch-a',
    finished: true,
    steps: 7,
    patch: '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n',
    regression: { passed: 2, failed: 1 },
    reproduction: { passed: 1, total: 2 },
    verifierScore: 0.25,
  });
  for (const key of ['hidden', 'reward', 'resolved', 'messages', 'taskId', 'exitReason', 'patchHash']) t.false(key in c, key);
  // nothing reachable from the candidate mentions the hidden test ids
  t.false(JSON.stringify(c).includes('h1'));
  t.false(JSON.stringify(c).includes('h2'));
  // the regression counts are fresh objects, not the record's arrays
  t.false(Object.values(c).some((v) => Array.isArray(v)));
});

test('the candidate type has no grading fields (compile-time)', (t) => {
  const c: SelectionCandidate = toCandidate(record());
  // @ts-expect-error the selector's input has no hidden test results
  t.is(c.hidden, undefined);
  // @ts-expect-error nor the reward
  t.is(c.reward, undefined);
  // @ts-expect-error nor the resolved flag
  t.is(c.resolved, undefined);
  const literal = {
    id: 'a',
    finished: true,
    steps: 1,
    patch: '',
    // @ts-expect-error an object literal with a grade is not a SelectionCandidate
    resolved: true,
  } satisfies SelectionCandidate;
  t.truthy(literal);
});

test('scores given by id override the record and are matched by id, not position', (t) => {
  const rs = [record({ id: 'a', verifierScore: undefined }), record({ id: 'b', verifierScore: undefined }), record({ id: 'c', verifierScore: 0.5 })];
  const cs = toCandidates(rs, new Map([['b', 0.9], ['a', 0.1]]));
  t.deepEqual(cs.map((c) => [c.id, c.verifierScore]), [['a', 0.1], ['b', 0.9], ['c', 0.5]]);
  t.false('verifierScore' in toCandidate(record({ verifierScore: undefined })));
  t.throws(() => toCandidate(record(), 1.5), { message: /must be in \[0, 1\]/ });
  t.throws(() => toCandidate(record(), Number.NaN), { message: /must be in \[0, 1\]/ });
});

test('records without agent-written tests give candidates without reproduction', (t) => {
  const c = toCandidate(record({ reproduction: undefined }));
  t.false('reproduction' in c);
});
