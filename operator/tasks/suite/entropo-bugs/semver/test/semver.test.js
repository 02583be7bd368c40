import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, valid, compare, gt, lt, eq, sort, rsort, inc, satisfies, maxSatisfying, minSatisfying } from '../src/semver.js';

test('parse splits a version into its parts', () => {
  const v = parse('1.2.3-beta.4+build.5');
  assert.equal(v.major, 1);
  assert.equal(v.minor, 2);
  assert.equal(v.patch, 3);
  assert.deepEqual(v.prerelease, ['beta', 4]);
  assert.deepEqual(v.build, ['build', '5']);
  assert.equal(v.toString(), '1.2.3-beta.4+build.5');
});

test('valid accepts a leading v and rejects garbage', () => {
  assert.equal(valid('v2.0.0'), '2.0.0');
  assert.equal(valid(' 1.0.0 '), '1.0.0');
  assert.equal(valid('1.2'), null);
  assert.equal(valid('a.b.c'), null);
  assert.equal(valid('1.2.3-'), null);
});

test('compare orders by major, minor, patch', () => {
  assert.equal(compare('1.2.3', '1.2.4'), -1);
  assert.equal(compare('1.10.0', '1.9.9'), 1);
  assert.equal(compare('2.0.0', '2.0.0'), 0);
  assert.ok(gt('3.0.0', '2.99.99'));
  assert.ok(lt('0.0.1', '0.1.0'));
});

test('prereleases sort before the release and alphabetically', () => {
  assert.equal(compare('1.0.0-alpha', '1.0.0'), -1);
  assert.equal(compare('1.0.0-alpha', '1.0.0-beta'), -1);
  assert.equal(compare('1.0.0-alpha', '1.0.0-alpha.1'), -1);
  assert.equal(compare('1.0.0-beta.2', '1.0.0-beta.3'), -1);
});

test('build metadata does not affect precedence', () => {
  assert.ok(eq('1.0.0+a', '1.0.0+b'));
});

test('sort and rsort', () => {
  assert.deepEqual(sort(['1.2.0', '1.0.0', '1.1.0-rc.1', '1.1.0']), ['1.0.0', '1.1.0-rc.1', '1.1.0', '1.2.0']);
  assert.deepEqual(rsort(['0.1.0', '0.3.0', '0.2.0']), ['0.3.0', '0.2.0', '0.1.0']);
});

test('inc major, minor and patch of releases', () => {
  assert.equal(inc('1.2.3', 'major'), '2.0.0');
  assert.equal(inc('1.2.3', 'minor'), '1.3.0');
  assert.equal(inc('1.2.3', 'patch'), '1.2.4');
  assert.equal(inc('1.0.0-rc.1', 'major'), '1.0.0');
  assert.equal(inc('1.2.3+build', 'patch'), '1.2.4');
  assert.equal(inc('nope', 'patch'), null);
});

test('inc prerelease starts a prerelease of the next patch', () => {
  assert.equal(inc('1.2.3', 'prerelease'), '1.2.4-0');
  assert.equal(inc('1.2.3', 'prerelease', 'beta'), '1.2.4-beta.0');
});

test('caret ranges on 1.x and above', () => {
  assert.ok(satisfies('1.2.3', '^1.2.3'));
  assert.ok(satisfies('1.9.0', '^1.2.3'));
  assert.ok(!satisfies('2.0.0', '^1.2.3'));
  assert.ok(!satisfies('1.2.2', '^1.2.3'));
});

test('tilde ranges', () => {
  assert.ok(satisfies('1.2.9', '~1.2.3'));
  assert.ok(!satisfies('1.3.0', '~1.2.3'));
  assert.ok(satisfies('1.9.0', '~1'));
});

test('x-ranges and stars', () => {
  assert.ok(satisfies('1.4.0', '1.x'));
  assert.ok(!satisfies('2.0.0', '1.x'));
  assert.ok(satisfies('1.2.7', '1.2.*'));
  assert.ok(satisfies('9.9.9', '*'));
  assert.ok(satisfies('1.2.0', '>=1.2.x'));
});

test('comparator sets, unions and full hyphen ranges', () => {
  assert.ok(satisfies('1.5.0', '>=1.2.0 <2.0.0'));
  assert.ok(!satisfies('2.0.0', '>=1.2.0 <2.0.0'));
  assert.ok(satisfies('3.1.0', '^1.0.0 || ^3.0.0'));
  assert.ok(satisfies('2.3.4', '1.2.3 - 2.3.4'));
  assert.ok(!satisfies('2.3.5', '1.2.3 - 2.3.4'));
  assert.ok(satisfies('1.2.3', '>= 1.2.3'));
});

test('prereleases only match ranges that name their tuple', () => {
  assert.ok(!satisfies('1.3.0-beta', '^1.2.3'));
  assert.ok(satisfies('1.2.4-beta.2', '>=1.2.4-beta.1 <1.3.0'));
});

test('max and min satisfying', () => {
  const list = ['1.0.0', '1.2.0', '1.4.1', '2.0.0'];
  assert.equal(maxSatisfying(list, '^1.0.0'), '1.4.1');
  assert.equal(minSatisfying(list, '>1.0.0'), '1.2.0');
  assert.equal(maxSatisfying(list, '^3.0.0'), null);
});
