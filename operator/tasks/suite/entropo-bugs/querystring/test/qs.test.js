import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify, splitKey } from '../src/qs.js';

describe('parse', () => {
  test('simple pairs, leading ? ignored', () => {
    assert.deepEqual(parse('?a=1&b=two'), { a: '1', b: 'two' });
    assert.deepEqual(parse(''), {});
  });

  test('percent-decoding', () => {
    assert.deepEqual(parse('q=caf%C3%A9%20au%20lait'), { q: 'café au lait' });
  });

  test('key without a value', () => {
    assert.deepEqual(parse('flag&x=1'), { flag: '', x: '1' });
  });

  test('repeated keys give arrays', () => {
    assert.deepEqual(parse('t=a&t=b&t=c'), { t: ['a', 'b', 'c'] });
  });

  test('bracket arrays and nested objects', () => {
    assert.deepEqual(parse('tags[]=a&tags[]=b'), { tags: ['a', 'b'] });
    assert.deepEqual(parse('user[name]=ann&user[role]=admin'), { user: { name: 'ann', role: 'admin' } });
    assert.deepEqual(parse('a[b][c]=d'), { a: { b: { c: 'd' } } });
  });

  test('empty pairs are skipped', () => {
    assert.deepEqual(parse('a=1&&b=2&'), { a: '1', b: '2' });
  });
});

describe('stringify', () => {
  test('plain values', () => {
    assert.equal(stringify({ a: 1, b: 'x' }), 'a=1&b=x');
  });

  test('arrays in the three formats', () => {
    assert.equal(stringify({ l: [1, 2] }), 'l=1&l=2');
    assert.equal(stringify({ l: [1, 2] }, { arrayFormat: 'brackets' }), 'l%5B%5D=1&l%5B%5D=2');
    assert.equal(stringify({ l: [1, 2] }, { arrayFormat: 'indices' }), 'l%5B0%5D=1&l%5B1%5D=2');
  });

  test('nested objects and sorting', () => {
    assert.equal(stringify({ b: 1, a: { y: 2, x: 1 } }, { sort: true }), 'a%5Bx%5D=1&a%5By%5D=2&b=1');
  });

  test('undefined skipped', () => {
    assert.equal(stringify({ a: undefined, b: 2 }), 'b=2');
  });

  test('spaces', () => {
    assert.equal(stringify({ q: 'a b' }), 'q=a%20b');
    assert.equal(stringify({ q: 'a b' }, { space: '+' }), 'q=a+b');
  });

  test('round trip', () => {
    const obj = { name: 'Zoë', tags: ['x', 'y'], page: '2' };
    assert.deepEqual(parse(stringify(obj)), obj);
  });
});

test('splitKey', () => {
  assert.deepEqual(splitKey('a[b][]'), ['a', 'b', '']);
  assert.deepEqual(splitKey('plain'), ['plain']);
});
