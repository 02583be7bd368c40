import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isMatch, filter, expandBraces, toRegExp } from '../src/glob.js';

describe('wildcards', () => {
  test('star within a segment', () => {
    assert.ok(isMatch('a.js', '*.js'));
    assert.ok(isMatch('src/a.js', 'src/*.js'));
    assert.ok(!isMatch('a.ts', '*.js'));
  });

  test('question mark', () => {
    assert.ok(isMatch('a1.txt', 'a?.txt'));
    assert.ok(!isMatch('a12.txt', 'a?.txt'));
    assert.ok(!isMatch('a/b', 'a?b'));
  });

  test('globstar across directories', () => {
    assert.ok(isMatch('src/a/b/c.js', 'src/**/*.js'));
    assert.ok(isMatch('a/b/c', '**'));
    assert.ok(isMatch('x/y/z.md', '**/*.md'));
  });

  test('dotfiles', () => {
    assert.ok(!isMatch('.env', '*'));
    assert.ok(isMatch('.env', '*', { dot: true }));
    assert.ok(isMatch('.env', '.env'));
  });
});

describe('classes and escapes', () => {
  test('character classes and ranges', () => {
    assert.ok(isMatch('file1', 'file[0-9]'));
    assert.ok(isMatch('b', '[abc]'));
    assert.ok(!isMatch('d', '[abc]'));
  });

  test('escapes', () => {
    assert.ok(isMatch('a*b', 'a\\*b'));
    assert.ok(!isMatch('axb', 'a\\*b'));
  });

  test('regex characters are literal', () => {
    assert.ok(isMatch('a+b(c)', 'a+b(c)'));
    assert.ok(isMatch('$x^', '$x^'));
  });

  test('nocase', () => {
    assert.ok(isMatch('README.MD', '*.md', { nocase: true }));
  });
});

test('brace expansion', () => {
  assert.deepEqual(expandBraces('a.{js,ts}'), ['a.js', 'a.ts']);
  assert.deepEqual(expandBraces('v{1..3}'), ['v1', 'v2', 'v3']);
  assert.deepEqual(expandBraces('plain'), ['plain']);
  assert.ok(isMatch('lib/x.ts', 'lib/*.{js,ts}'));
});

test('negated patterns', () => {
  assert.ok(isMatch('a.js', '!*.ts'));
  assert.ok(!isMatch('a.ts', '!*.ts'));
});

test('filter with ignore-style negation', () => {
  const paths = ['a.js', 'b.js', 'b.test.js', 'README.md'];
  assert.deepEqual(filter(paths, ['*.js', '!*.test.js']), ['a.js', 'b.js']);
  assert.deepEqual(filter(paths, []), []);
});

test('toRegExp anchors the whole path', () => {
  assert.ok(!toRegExp('*.js').test('dir/a.js'));
});
