// The Numbers page against a real server: an admin adds a Twilio account and a number, imports
// a CSV with one bad row and sees the reason; a viewer sees the tables without edit controls.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS, browser, newPage, server, signIn, useServerAndBrowser } from './harness.mjs';

const T = { timeout: 90_000 };
const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'browser-test-token-0123456789WXYZ';
useServerAndBrowser();

test('an admin adds an account and a number, and imports a CSV with a bad row', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.admin);
  await page.goto(`${server.baseUrl}/w/demo/numbers`);
  await page.getByTestId('accounts-empty').waitFor();

  await page.getByTestId('account-name').fill('Main');
  await page.getByTestId('account-sid').fill(SID);
  await page.getByTestId('account-token').fill(TOKEN);
  await page.getByTestId('account-base-url').fill('http://127.0.0.1:9');
  await page.getByTestId('account-daily-cap').fill('5000');
  await page.getByTestId('account-mps-cap').fill('10');
  await page.getByTestId('account-submit').click();
  const row = page.locator(`[data-testid="account-row"][data-sid="${SID}"]`);
  await row.waitFor();
  assert.equal(await row.getByTestId('account-token-hint').innerText(), '••••WXYZ');
  assert.ok(!(await page.content()).includes(TOKEN), 'the token is not on the page');

  // A bad SID is refused with the server's message.
  await page.getByTestId('account-name').fill('Broken');
  await page.getByTestId('account-sid').fill('AC123');
  await page.getByTestId('account-token').fill(TOKEN);
  await page.getByTestId('account-submit').click();
  await page.getByTestId('account-error').waitFor();
  assert.match(await page.getByTestId('account-error').innerText(), /32 hexadecimal/);

  // Pause and resume.
  await row.getByTestId('account-toggle').click();
  await page.locator(`[data-testid="account-row"][data-sid="${SID}"][data-status="paused"]`).waitFor();
  await page.locator(`[data-testid="account-row"][data-sid="${SID}"]`).getByTestId('account-toggle').click();
  await page.locator(`[data-testid="account-row"][data-sid="${SID}"][data-status="active"]`).waitFor();

  // A number by hand.
  await page.getByTestId('number-e164').fill('(415) 555-2671');
  await page.getByTestId('number-daily-cap').fill('300');
  await page.getByTestId('number-submit').click();
  const sf = page.locator('[data-testid="number-row"][data-e164="+14155552671"]');
  await sf.waitFor();
  assert.match(await sf.innerText(), /415 \/ CA/);

  // CSV: two good rows, one bad.
  const csv = `e164,account_sid,sms,mms\n+12125550123,${SID},true,false\nnot-a-phone,${SID},true,false\n+13055550100,${SID},yes,yes\n`;
  await page.getByTestId('numbers-import-file').setInputFiles({ name: 'numbers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByTestId('numbers-import-submit').click();
  await page.getByTestId('import-results').waitFor();
  assert.match(await page.getByTestId('import-summary').innerText(), /2 created, 0 updated, 1 rejected/);
  const bad = page.locator('[data-testid="import-row"][data-row="3"]');
  assert.equal(await bad.getAttribute('data-status'), 'rejected');
  assert.match(await bad.getByTestId('import-reason').innerText(), /^e164: /);
  await page.locator('[data-testid="number-row"][data-e164="+12125550123"]').waitFor();
  await page.locator('[data-testid="number-row"][data-e164="+13055550100"]').waitFor();

  // Filters narrow the table.
  await page.getByTestId('numbers-filter-state').fill('NY');
  await page.locator('[data-testid="number-row"][data-e164="+14155552671"]').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('number-row').count(), 1);
  await page.context().close();
});

test('a viewer sees the tables but no edit controls', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.viewer);
  await page.goto(`${server.baseUrl}/w/demo/numbers`);
  await page.locator(`[data-testid="account-row"][data-sid="${SID}"]`).waitFor();
  await page.locator('[data-testid="number-row"][data-e164="+14155552671"]').waitFor();
  for (const id of ['account-form', 'number-form', 'numbers-import', 'account-edit', 'account-toggle', 'account-delete', 'number-toggle', 'number-delete']) {
    assert.equal(await page.getByTestId(id).count(), 0, `${id} is hidden from a viewer`);
  }
  assert.equal(await page.getByTestId('numbers-table').count(), 1);
  await page.context().close();
});
