// The live segment counter agrees with the server's count (sender/src/twilio/segments.rs):
// the same boundaries and cases as its unit tests.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countSegments, encodingOf, nonGsmCharacters } from '../.test-build/lib/segments.js';

const seg = (body) => countSegments(body).segments;

test('plain text is GSM-7; one accented letter outside the alphabet makes it UCS-2', () => {
  assert.deepEqual(countSegments('Hello, world! Reply STOP to opt out.'), { encoding: 'gsm7', units: 36, segments: 1 });
  assert.equal(seg(''), 1);
  assert.equal(encodingOf('Ça coûte 5£ @ Zürich'), 'ucs2');
  assert.equal(encodingOf('Ça coute 5£ @ Zürich ¿¡ Δ'), 'gsm7');
  assert.deepEqual(nonGsmCharacters('Ça coûte 5£ 👋 û'), ['û', '👋']);
});

test('GSM-7: 160 in one segment, 153 per part', () => {
  assert.equal(seg('a'.repeat(160)), 1);
  assert.equal(seg('a'.repeat(161)), 2);
  assert.equal(seg('a'.repeat(306)), 2);
  assert.equal(seg('a'.repeat(307)), 3);
  assert.equal(seg('a'.repeat(1530)), 10);
});

test('extension characters count two septets and are never split', () => {
  assert.deepEqual(countSegments('€'), { encoding: 'gsm7', units: 2, segments: 1 });
  assert.equal(countSegments('{}[]').units, 8);
  assert.equal(seg('a'.repeat(158) + '{'), 1);
  assert.equal(seg('a'.repeat(159) + '{'), 2);
  const body = 'a'.repeat(152) + '€' + 'a'.repeat(10);
  assert.equal(countSegments(body).units, 164);
  assert.equal(seg(body), 2);
  // Newlines are in the basic table: the opt-out line costs one septet more, not UCS-2.
  assert.equal(encodingOf('Hi\nReply STOP to opt out.'), 'gsm7');
});

test('UCS-2: 70 in one segment, 67 per part', () => {
  assert.equal(seg('é'.repeat(70)), 1);
  assert.equal(encodingOf('ê'.repeat(70)), 'ucs2');
  assert.equal(seg('ê'.repeat(70)), 1);
  assert.equal(seg('ê'.repeat(71)), 2);
  assert.equal(seg('ê'.repeat(134)), 2);
  assert.equal(seg('ê'.repeat(135)), 3);
});

test('emoji take two code units and a surrogate pair is never split', () => {
  assert.deepEqual(countSegments('hi 👋'), { encoding: 'ucs2', units: 5, segments: 1 });
  assert.equal(seg('👋'.repeat(35)), 1);
  assert.equal(seg('👋'.repeat(36)), 2);
  assert.equal(seg('ê'.repeat(66) + '👋' + 'ê'.repeat(5)), 2);
  const body = 'ê'.repeat(66) + '👋' + 'ê'.repeat(66);
  assert.equal(countSegments(body).units, 134);
  assert.equal(seg(body), 3);
});
