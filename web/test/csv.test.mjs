// The CSV reader and the leads bulk-add format.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCsv, parseLeadsCsv } from '../.test-build/lib/csv.js';

test('quoted fields, doubled quotes, CRLF and blank lines', () => {
  assert.deepEqual(parseCsv('a,b\r\n"x, y","say ""hi"""\n\n1,\n'), [
    ['a', 'b'],
    ['x, y', 'say "hi"'],
    ['1', ''],
  ]);
  assert.deepEqual(parseCsv('"multi\nline",2'), [['multi\nline', '2']]);
  assert.deepEqual(parseCsv(''), []);
});

test('leads: known columns, tags split, other columns as attributes, empty cells left out', () => {
  const r = parseLeadsCsv('Phone,first_name,tags,street,state\n+14155550100,Ana,seller; hot,12 Oak St,\n(305) 555-0101,,,,FL\n');
  assert.equal(r.error, undefined);
  assert.deepEqual(r.leads, [
    { phone: '+14155550100', first_name: 'Ana', tags: ['seller', 'hot'], attributes: { street: '12 Oak St' } },
    { phone: '(305) 555-0101', state: 'FL' },
  ]);
  assert.deepEqual(r.line_of, [2, 3]);
});

test('leads: a header without phone, or no rows, is refused with a reason', () => {
  assert.match(parseLeadsCsv('name\nAna\n').error, /phone/);
  assert.match(parseLeadsCsv('phone\n').error, /No leads/);
  assert.match(parseLeadsCsv('').error, /header/);
});
