import test from 'ava';
import { decide, released, microTime, validateTimings, DEFAULT_LEASE } from '../../../operator/runtime/lease.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0, 123);

test('no lease: create one held by me', (t) => {
  const d = decide(undefined, 0, 'me', T0, 15);
  t.is(d.action, 'create');
  t.like(d, { spec: { holderIdentity: 'me', leaseDurationSeconds: 15, leaseTransitions: 0, acquireTime: '2026-01-01T12:00:00.123000Z' } });
});

test('a fresh lease of another holder is respected until it expires on OUR clock', (t) => {
  const lease = { holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: microTime(T0 - 3_600_000), leaseTransitions: 4 };
  // renewTime an hour old by its clock does not matter: we observed the record change at T0.
  const wait = decide(lease, T0, 'me', T0 + 14_999, 15);
  t.deepEqual(wait, { action: 'wait', holder: 'other', expiresInMs: 1 });
  const take = decide(lease, T0, 'me', T0 + 15_000, 15);
  t.is(take.action, 'update');
  t.like(take, { acquired: true, spec: { holderIdentity: 'me', leaseTransitions: 5, acquireTime: microTime(T0 + 15_000) } });
});

test('renewing my own lease keeps acquireTime and transitions; a released lease is taken at once', (t) => {
  const mine = { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: microTime(T0), renewTime: microTime(T0), leaseTransitions: 2 };
  const renew = decide(mine, T0, 'me', T0 + 2_000, 15);
  t.like(renew, { action: 'update', acquired: false, spec: { acquireTime: microTime(T0), renewTime: microTime(T0 + 2_000), leaseTransitions: 2 } });
  const rel = released(mine, T0 + 3_000);
  t.is(rel.holderIdentity, '');
  t.is(rel.leaseDurationSeconds, 1);
  t.is(rel.leaseTransitions, 2);
  const take = decide(rel, T0 + 3_000, 'other', T0 + 3_001, 15);
  t.like(take, { action: 'update', acquired: true, spec: { holderIdentity: 'other', leaseTransitions: 2 } });
});

test('timings are validated like client-go', (t) => {
  t.notThrows(() => validateTimings(DEFAULT_LEASE));
  t.throws(() => validateTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }));
  t.throws(() => validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }));
  t.deepEqual(DEFAULT_LEASE, { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
});
