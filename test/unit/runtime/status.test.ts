import test from 'ava';
import { setCondition, findCondition, isTrue, removeCondition, rfc3339 } from '../../../operator/runtime/conditions.ts';
import { deepEqual, mergePatch } from '../../../operator/runtime/status.ts';
import { diffSnapshot, labelSelectorString, matchesLabels } from '../../../operator/runtime/store.ts';
import { acceptedStatus } from '../../../operator/controllers/accept.ts';
import type { KubeObject } from '../../../operator/runtime/kube/types.ts';

const T1 = Date.UTC(2026, 0, 1, 0, 0, 0);
const T2 = T1 + 60_000;

test('setCondition: lastTransitionTime changes only when status flips', (t) => {
  const a = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'Starting', observedGeneration: 1 }, T1);
  t.deepEqual(a, [{ type: 'Ready', status: 'False', reason: 'Starting', message: '', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }]);
  const b = setCondition(a, { type: 'Ready', status: 'False', reason: 'StillStarting', message: 'pulling', observedGeneration: 2 }, T2);
  t.is(b[0].lastTransitionTime, rfc3339(T1), 'same status keeps the transition time');
  t.is(b[0].reason, 'StillStarting');
  t.is(b[0].observedGeneration, 2);
  const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Running' }, T2);
  t.is(c[0].lastTransitionTime, rfc3339(T2));
  t.is(a[0].reason, 'Starting', 'input not modified');
  const d = setCondition(c, { type: 'Failed', status: 'False', reason: 'NoFailure' }, T2);
  t.deepEqual(d.map((x) => x.type), ['Ready', 'Failed']);
  t.true(isTrue(d, 'Ready'));
  t.false(isTrue(d, 'Failed'));
  t.is(findCondition(d, 'Nope'), undefined);
  t.deepEqual(removeCondition(d, 'Ready').map((x) => x.type), ['Failed']);
});

test('mergePatch sends only what changed, nulls removed keys, replaces arrays whole', (t) => {
  t.is(mergePatch({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] } }), undefined);
  t.deepEqual(mergePatch({ a: 1, b: { c: 1, d: 2 }, e: 3 }, { a: 2, b: { c: 1 }, f: [1] }), { a: 2, b: { d: null }, e: null, f: [1] });
  t.deepEqual(mergePatch({ list: [{ x: 1 }] }, { list: [{ x: 1 }, { x: 2 }] }), { list: [{ x: 1 }, { x: 2 }] });
  t.deepEqual(mergePatch({}, { phase: 'Pending' }), { phase: 'Pending' });
  t.true(deepEqual({ a: 1, b: undefined }, { a: 1 }));
  t.false(deepEqual([1, 2], [2, 1]));
  t.false(deepEqual({ a: [1] }, { a: { 0: 1 } }));
});

test('accepting is idempotent: the second pass computes no patch', (t) => {
  const obj: KubeObject = { apiVersion: 'entropo.dev/v1alpha1', kind: 'RolloutBatch', metadata: { name: 'x', namespace: 'n', generation: 3 }, spec: {} };
  const s1 = acceptedStatus(obj, T1);
  t.is(s1.phase, 'Pending');
  t.is(s1.observedGeneration, 3);
  t.like(s1.conditions![0], { type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: 3 });
  t.deepEqual(mergePatch({}, s1), s1);
  const again = acceptedStatus({ ...obj, status: s1 }, T2);
  t.is(mergePatch(s1, again), undefined, 'nothing to write');
  // A later phase set by a real controller is kept; a new generation updates only the generations.
  const running = { ...obj, metadata: { ...obj.metadata, generation: 4 }, status: { ...s1, phase: 'Running' } };
  t.deepEqual(mergePatch(running.status, acceptedStatus(running, T2)), {
    observedGeneration: 4,
    conditions: [{ ...s1.conditions![0], observedGeneration: 4 }],
  });
});

test('a relist diff: added, changed (by resourceVersion) and vanished objects', (t) => {
  const o = (name: string, rv: string): KubeObject => ({ metadata: { namespace: 'n', name, resourceVersion: rv } });
  const cache = new Map([
    ['n/a', o('a', '1')],
    ['n/b', o('b', '2')],
    ['n/c', o('c', '3')],
  ]);
  const d = diffSnapshot(cache, [o('a', '1'), o('b', '5'), o('d', '6')]);
  t.deepEqual(d.added.map((x) => x.metadata.name), ['d']);
  t.deepEqual(d.updated.map((x) => [x.old.metadata.resourceVersion, x.obj.metadata.resourceVersion]), [['2', '5']]);
  t.deepEqual(d.deleted.map((x) => x.metadata.name), ['c']);
  t.is(labelSelectorString({ app: 'x', tier: 'y' }), 'app=x,tier=y');
  t.is(labelSelectorString({}), undefined);
  t.true(matchesLabels({ app: 'x', z: '1' }, { app: 'x' }));
  t.false(matchesLabels(undefined, { app: 'x' }));
});
