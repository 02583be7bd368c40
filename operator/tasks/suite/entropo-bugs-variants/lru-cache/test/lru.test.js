import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LRUCache } from '../src/lru.js';

const clock = () => {
  let t = 1000;
  const now = () => t;
  now.advance = (ms) => (t += ms);
  return now;
};

test('stores and returns values', () => {
  const c = new LRUCache({ max: 3 });
  c.set('a', 1).set('b', 2);
  assert.equal(c.get('a'), 1);
  assert.equal(c.get('zzz'), undefined);
  assert.equal(c.size, 2);
});

test('evicts the oldest entry past max', () => {
  const evicted = [];
  const c = new LRUCache({ max: 2, onEvict: (v, k, why) => evicted.push([k, why]) });
  c.set('a', 1).set('b', 2).set('c', 3);
  assert.equal(c.size, 2);
  assert.equal(c.peek('a'), undefined);
  assert.deepEqual(evicted, [['a', 'evict']]);
});

test('overwriting a key refreshes it and reports the prior value', () => {
  const seen = [];
  const c = new LRUCache({ max: 2, onEvict: (v, k, why) => seen.push([k, v, why]) });
  c.set('a', 1).set('b', 2).set('a', 10).set('c', 3);
  assert.equal(c.peek('a'), 10);
  assert.equal(c.peek('b'), undefined);
  assert.deepEqual(seen, [['a', 1, 'set'], ['b', 2, 'evict']]);
});

test('peek and has do not refresh recency', () => {
  const c = new LRUCache({ max: 2 });
  c.set('a', 1).set('b', 2);
  assert.equal(c.peek('a'), 1);
  assert.ok(c.has('a'));
  c.set('c', 3);
  assert.ok(!c.has('a'));
});

test('delete, clear and pop', () => {
  const reasons = [];
  const c = new LRUCache({ max: 5, onEvict: (v, k, why) => reasons.push(why) });
  c.set('a', 1).set('b', 2).set('c', 3);
  assert.ok(c.delete('b'));
  assert.ok(!c.delete('b'));
  assert.equal(c.pop(), 1);
  c.clear();
  assert.equal(c.size, 0);
  assert.deepEqual(reasons, ['delete', 'evict', 'delete']);
});

test('entries expire after ttl', () => {
  const now = clock();
  const c = new LRUCache({ ttl: 100, now });
  c.set('a', 1);
  now.advance(99);
  assert.equal(c.get('a'), 1);
  now.advance(1);
  assert.equal(c.get('a'), undefined);
  assert.equal(c.size, 0);
});

test('per-entry ttl and remaining ttl', () => {
  const now = clock();
  const c = new LRUCache({ now });
  c.set('forever', 1).set('short', 2, { ttl: 50 });
  assert.equal(c.getRemainingTTL('forever'), Infinity);
  assert.equal(c.getRemainingTTL('short'), 50);
  now.advance(60);
  assert.equal(c.purgeStale(), 1);
  assert.equal(c.size, 1);
});

test('maxSize limits the total size', () => {
  const c = new LRUCache({ maxSize: 10, sizeCalculation: (v) => v.length });
  c.set('a', 'xxxx').set('b', 'yyyy');
  assert.equal(c.totalSize, 8);
  c.set('c', 'zzzz');
  assert.equal(c.totalSize, 8);
  assert.equal(c.peek('a'), undefined);
});

test('constructor validates its options', () => {
  assert.throws(() => new LRUCache({ max: 0 }), RangeError);
  assert.throws(() => new LRUCache({ maxSize: 10 }), TypeError);
});

test('values() of a single entry', () => {
  const c = new LRUCache();
  c.set('only', 42);
  assert.deepEqual([...c.values()], [42]);
});
