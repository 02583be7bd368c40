import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse, compile, get, find, has, set, remove, flatten, fromFragment, toFragment, PointerError } from '../src/pointer.js';

// The example document of RFC 6901, section 5.
const rfc = () => ({ foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'c%d': 2, 'e^f': 3, 'g|h': 4, 'i\\j': 5, 'k"l': 6, ' ': 7, 'm~n': 8 });

describe('RFC 6901 examples', () => {
  test('whole document and simple paths', () => {
    const doc = rfc();
    assert.equal(get(doc, ''), doc);
    assert.deepEqual(get(doc, '/foo'), ['bar', 'baz']);
    assert.equal(get(doc, '/foo/0'), 'bar');
    assert.equal(get(doc, '/'), 0);
  });

  test('escaped tokens', () => {
    const doc = rfc();
    assert.equal(get(doc, '/a~1b'), 1);
    assert.equal(get(doc, '/m~0n'), 8);
    assert.equal(get(doc, '/ '), 7);
    assert.equal(get(doc, '/c%d'), 2);
  });
});

test('parse and compile', () => {
  assert.deepEqual(parse('/a/b'), ['a', 'b']);
  assert.deepEqual(parse(''), []);
  assert.equal(compile(['a', 'b']), '/a/b');
  assert.throws(() => parse('a/b'), PointerError);
  assert.throws(() => parse('/a~2'), PointerError);
});

test('missing paths', () => {
  const doc = { a: { b: 1 }, list: [1] };
  assert.throws(() => get(doc, '/a/c'), PointerError);
  assert.throws(() => get(doc, '/list/1'), PointerError);
  assert.equal(find(doc, '/nope'), undefined);
  assert.ok(has(doc, '/a/b'));
  assert.ok(!has(doc, '/a/b/c'));
});

test('set', () => {
  const doc = { a: {}, list: [1, 2] };
  set(doc, '/a/x', 1);
  set(doc, '/list/0', 9);
  set(doc, '/list/-', 3);
  assert.deepEqual(doc, { a: { x: 1 }, list: [9, 2, 3] });
  set(doc, '/deep/er/path', true, { create: true });
  assert.equal(doc.deep.er.path, true);
  assert.throws(() => set(doc, '', 1), PointerError);
});

test('remove from an object', () => {
  const doc = { a: 1, b: 2 };
  assert.equal(remove(doc, '/a'), 1);
  assert.deepEqual(doc, { b: 2 });
});

test('fragments', () => {
  assert.deepEqual(fromFragment('#/a%20b/c'), ['a b', 'c']);
  assert.equal(toFragment(['a b']), '#/a%20b');
});

test('flatten', () => {
  assert.deepEqual(flatten({ a: { b: 1, c: [] }, d: 'x' }), { '/a/b': 1, '/a/c': [], '/d': 'x' });
});
