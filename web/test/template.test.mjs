// Template syntax and rendering as the server reads them (sender/src/templates.rs).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TemplateSyntaxError, parseTemplate, renderTemplate, sampleBody, templateVariables } from '../.test-build/lib/template.js';

test('variables, case-insensitive names and fallbacks', () => {
  const t = parseTemplate('Hi {{ First_Name | there }}, about {{street}}: {{first_name|x}}!');
  assert.deepEqual(templateVariables(t), ['first_name', 'street']);
  assert.deepEqual(renderTemplate(t, { first_name: 'Ana', street: '12 Oak St' }), { body: 'Hi Ana, about 12 Oak St: Ana!', missing: [] });
  assert.deepEqual(renderTemplate(t, { first_name: '  ', street: 'Elm' }), { body: 'Hi there, about Elm: x!', missing: [] });
});

test('a variable without value or fallback is reported missing, once', () => {
  const t = parseTemplate('{{a}} {{b|ok}} {{c}} {{a}}');
  assert.deepEqual(renderTemplate(t, {}).missing, ['a', 'c']);
});

test('bad syntax names the position', () => {
  assert.throws(() => parseTemplate('Hi {{name'), (e) => e instanceof TemplateSyntaxError && e.at === 3 && /Unclosed/.test(e.message));
  assert.throws(() => parseTemplate('Hi {{ }}'), (e) => e instanceof TemplateSyntaxError && e.at === 3);
  assert.throws(() => parseTemplate('ok {{a-b}}'), (e) => e instanceof TemplateSyntaxError && e.at === 3);
  assert.deepEqual(renderTemplate(parseTemplate('no variables, {single} braces'), {}).body, 'no variables, {single} braces');
});

test('the sample body uses fallbacks, samples, else names, and appends opt-out language', () => {
  const t = parseTemplate('Hi {{first_name|there}}, {{street}} {{city}}?');
  assert.equal(sampleBody(t), 'Hi there, street city?');
  assert.equal(sampleBody(t, 'Reply STOP to opt out.', { street: '12 Oak St' }), 'Hi there, 12 Oak St city?\nReply STOP to opt out.');
});
