import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { render, parse, TemplateError, escapeHtml } from '../src/template.js';

describe('variables', () => {
  test('interpolates and escapes', () => {
    assert.equal(render('Hi {{name}}!', { name: 'Ann' }), 'Hi Ann!');
    assert.equal(render('{{ html }}', { html: '<b>&</b>' }), '&lt;b&gt;&amp;&lt;/b&gt;');
  });

  test('raw output', () => {
    assert.equal(render('{{{ html }}}', { html: '<b>' }), '<b>');
    assert.equal(render('{{& html }}', { html: '<i>' }), '<i>');
  });

  test('missing and null values render nothing', () => {
    assert.equal(render('[{{nope}}][{{nil}}]', { nil: null }), '[][]');
  });

  test('dotted names', () => {
    assert.equal(render('{{user.address.city}}', { user: { address: { city: 'Oslo' } } }), 'Oslo');
    assert.equal(render('{{user.missing.city}}', { user: {} }), '');
  });

  test('functions are called', () => {
    assert.equal(render('{{greet}}', { name: 'x', greet() { return `hello ${this.name}`; } }), 'hello x');
  });
});

describe('sections', () => {
  test('lists repeat', () => {
    assert.equal(render('{{#items}}<{{.}}>{{/items}}', { items: ['a', 'b'] }), '<a><b>');
  });

  test('objects push context', () => {
    assert.equal(render('{{#user}}{{name}}{{/user}}', { user: { name: 'Bo' } }), 'Bo');
  });

  test('booleans', () => {
    assert.equal(render('{{#on}}yes{{/on}}{{^on}}no{{/on}}', { on: true }), 'yes');
    assert.equal(render('{{#on}}yes{{/on}}{{^on}}no{{/on}}', { on: false }), 'no');
  });

  test('comments vanish', () => {
    assert.equal(render('a{{! nothing to see }}b', {}), 'ab');
  });
});

test('partials', () => {
  assert.equal(render('{{> head}}|body', { t: 'T' }, { partials: { head: '<h1>{{t}}</h1>' } }), '<h1>T</h1>|body');
});

test('filters', () => {
  assert.equal(render('{{ name | upper }}', { name: 'ada' }), 'ADA');
  assert.equal(render('{{ x | double }}', { x: 4 }, { filters: { double: (v) => v * 2 } }), '8');
  assert.equal(render('{{ obj | json }}', { obj: { a: 1 } }), '{&quot;a&quot;:1}');
});

test('syntax errors name the line', () => {
  assert.throws(() => parse('a\n{{#open}}\nb'), (e) => e instanceof TemplateError && e.line === 2);
  assert.throws(() => parse('{{#a}}{{/b}}'), TemplateError);
});

test('escapeHtml', () => {
  assert.equal(escapeHtml('<a href=x>'), '&lt;a href=x&gt;');
});
