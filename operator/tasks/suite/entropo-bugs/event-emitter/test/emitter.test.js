import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter } from '../src/emitter.js';

describe('Emitter', () => {
  test('on and emit pass arguments in order', () => {
    const e = new Emitter();
    const calls = [];
    e.on('x', (a, b) => calls.push(['first', a, b]));
    e.on('x', (a) => calls.push(['second', a]));
    assert.equal(e.emit('x', 1, 2), true);
    assert.deepEqual(calls, [['first', 1, 2], ['second', 1]]);
    assert.equal(e.emit('nothing'), false);
  });

  test('once fires a single time', () => {
    const e = new Emitter();
    let n = 0;
    e.once('x', () => n++);
    e.emit('x');
    e.emit('x');
    assert.equal(n, 1);
    assert.equal(e.listenerCount('x'), 0);
  });

  test('off removes a listener', () => {
    const e = new Emitter();
    let n = 0;
    const fn = () => n++;
    e.on('x', fn);
    e.off('x', fn);
    e.emit('x');
    assert.equal(n, 0);
  });

  test('prependListener runs first', () => {
    const e = new Emitter();
    const order = [];
    e.on('x', () => order.push('b'));
    e.prependListener('x', () => order.push('a'));
    e.emit('x');
    assert.deepEqual(order, ['a', 'b']);
  });

  test('listeners added during an emit wait for the next one', () => {
    const e = new Emitter();
    let late = 0;
    e.on('x', () => e.on('x', () => late++));
    e.emit('x');
    assert.equal(late, 0);
    e.emit('x');
    assert.equal(late, 1);
  });

  test('wildcard listeners see every event', () => {
    const e = new Emitter();
    const seen = [];
    e.on('*', (name, ...args) => seen.push([name, ...args]));
    e.emit('a', 1);
    e.emit('b');
    assert.deepEqual(seen, [['a', 1], ['b']]);
  });

  test('error without listeners throws', () => {
    const e = new Emitter();
    assert.throws(() => e.emit('error', new Error('boom')), /boom/);
    assert.throws(() => e.emit('error', 'text'), /Unhandled error: text/);
    let got;
    e.on('error', (err) => (got = err));
    e.emit('error', new Error('handled'));
    assert.equal(got.message, 'handled');
  });

  test('removeAllListeners and eventNames', () => {
    const e = new Emitter();
    e.on('a', () => {}).on('b', () => {});
    assert.deepEqual(e.eventNames(), ['a', 'b']);
    e.removeAllListeners('a');
    assert.deepEqual(e.eventNames(), ['b']);
    e.removeAllListeners();
    assert.deepEqual(e.eventNames(), []);
  });

  test('leak warning is printed once', () => {
    const warnings = [];
    const e = new Emitter({ onWarning: (m) => warnings.push(m) });
    e.setMaxListeners(2);
    for (let i = 0; i < 5; i++) e.on('x', () => {});
    assert.equal(warnings.length, 1);
  });

  test('non-function listeners are rejected', () => {
    assert.throws(() => new Emitter().on('x', 'nope'), TypeError);
    assert.throws(() => new Emitter().setMaxListeners(-1), RangeError);
  });
});
