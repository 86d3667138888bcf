// Compliance in the console against a real server: a manager records an opt-out, imports a
// suppression list with a bad row and reads the per-row reason, reviews a plain-language
// revocation, adds a DNC range — but cannot lift anything; an admin opts a number back in and
// removes the DNC entry; an agent reads the lists without controls.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { DEMO_USERS, browser, newPage, server, signIn, useServerAndBrowser } from './harness.mjs';

const T = { timeout: 90_000 };
useServerAndBrowser();

const optOutRow = (page, phone) => page.locator(`[data-testid="opt-out-row"][data-phone="${phone}"]`);

/** A plain-language revocation ("please stop texting me") as the inbound webhook records it. */
function recordPhraseRevocation(phone) {
  const sql = `INSERT INTO opt_outs (workspace_id, phone, source, via_number, needs_review, note)
               SELECT id, '${phone}', 'phrase', '+12015550100', true, 'please stop texting me' FROM workspaces WHERE slug = 'demo';
               INSERT INTO consent_events (workspace_id, phone, kind, source, via_number)
               SELECT id, '${phone}', 'opt_out', 'phrase', '+12015550100' FROM workspaces WHERE slug = 'demo';`;
  const r = spawnSync('psql', [server.databaseUrl, '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('a manager records, imports and reviews opt-outs and adds DNC entries, but cannot lift them', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.manager);
  await page.goto(`${server.baseUrl}/w/demo/compliance`);
  await page.getByTestId('opt-outs-empty').waitFor();

  // By hand, in any common form; a bad phone is refused naming the field.
  await page.getByTestId('opt-out-phone').fill('(415) 555-0101');
  await page.getByTestId('opt-out-note').fill('asked on the phone');
  await page.getByTestId('opt-out-submit').click();
  await optOutRow(page, '+14155550101').waitFor();
  assert.equal(await optOutRow(page, '+14155550101').getAttribute('data-source'), 'manual');
  await page.getByTestId('opt-out-phone').fill('12');
  await page.getByTestId('opt-out-submit').click();
  await page.getByTestId('opt-out-error').waitFor();
  assert.equal(await page.getByTestId('opt-out-error').getAttribute('data-field'), 'phone');

  // A legacy list: two good rows, one already listed, one bad.
  const csv = 'phone,note\n+14155550102,legacy\n415-555-0101,dup\nnope,bad\n(212) 555-0103,\n';
  await page.getByTestId('opt-outs-import-file').setInputFiles({ name: 'optouts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByTestId('opt-outs-import-submit').click();
  await page.getByTestId('suppression-results').waitFor();
  assert.match(await page.getByTestId('suppression-summary').innerText(), /^2 accepted, 1 already listed, 1 rejected/);
  const bad = page.locator('[data-testid="suppression-row"][data-row="4"]');
  assert.equal(await bad.getAttribute('data-status'), 'rejected');
  assert.match(await bad.getByTestId('suppression-reason').innerText(), /^phone: /);
  assert.equal(await page.locator('[data-testid="suppression-row"][data-row="3"]').getAttribute('data-status'), 'already_listed');
  await optOutRow(page, '+12125550103').waitFor();
  assert.equal(await optOutRow(page, '+14155550102').getAttribute('data-source'), 'import');

  // Search by number prefix.
  await page.getByTestId('opt-outs-filter-q').fill('+1212');
  await optOutRow(page, '+14155550101').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('opt-out-row').count(), 1);
  await page.getByTestId('opt-outs-filter-q').fill('');

  // A plain-language revocation awaits review: the banner, the filter, then "Mark reviewed".
  recordPhraseRevocation('+13055550109');
  await page.reload();
  await page.getByTestId('review-banner').waitFor();
  await page.getByTestId('review-show').click();
  const phrase = optOutRow(page, '+13055550109');
  await phrase.waitFor();
  // The phrase's row is in the unfiltered list too: wait for the filtered one to replace it.
  await optOutRow(page, '+14155550102').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('opt-out-row').count(), 1, 'only revocations awaiting review');
  await phrase.getByTestId('opt-out-history').click();
  await page.locator('[data-testid="consent-event"][data-kind="opt_out"]').waitFor();
  page.once('dialog', (d) => d.accept('Confirmed: they asked to stop'));
  await phrase.getByTestId('opt-out-review').click();
  await page.getByTestId('opt-outs-empty').waitFor();
  await page.getByTestId('opt-outs-filter-review').uncheck();
  await page.locator('[data-testid="opt-out-row"][data-phone="+13055550109"][data-needs-review="false"]').waitFor();
  assert.match(await optOutRow(page, '+13055550109').innerText(), /Confirmed: they asked to stop/);

  // Lifting is for owners and admins only.
  assert.equal(await page.getByTestId('opt-out-remove').count(), 0, 'a manager cannot opt a number back in');

  // DNC: a range, then a file with a bad row.
  await page.getByTestId('tab-dnc').click();
  await page.getByTestId('dnc-empty').waitFor();
  await page.getByTestId('dnc-range').check();
  await page.getByTestId('dnc-from').fill('+13055550000');
  await page.getByTestId('dnc-to').fill('+13055550099');
  await page.getByTestId('dnc-reason').fill('office block');
  await page.getByTestId('dnc-submit').click();
  const range = page.locator('[data-testid="dnc-row"][data-from="+13055550000"][data-to="+13055550099"]');
  await range.waitFor();
  assert.match(await range.innerText(), /100/);
  const dncCsv = 'phone,reason\n+16025550100,complaint\n12,oops\n';
  await page.getByTestId('dnc-import-file').setInputFiles({ name: 'dnc.csv', mimeType: 'text/csv', buffer: Buffer.from(dncCsv) });
  await page.getByTestId('dnc-import-submit').click();
  await page.getByTestId('suppression-results').waitFor();
  assert.match(await page.getByTestId('suppression-summary').innerText(), /^1 accepted, 0 already listed, 1 rejected/);
  assert.equal(await page.locator('[data-testid="suppression-row"][data-row="3"]').getAttribute('data-status'), 'rejected');
  await page.locator('[data-testid="dnc-row"][data-from="+16025550100"]').waitFor();
  assert.equal(await page.getByTestId('dnc-remove').count(), 0, 'a manager cannot remove DNC entries');
  await page.context().close();
});

test('an admin opts a number back in and removes a DNC entry; an agent only reads', T, async () => {
  const admin = await newPage(browser);
  await signIn(admin, server.baseUrl, DEMO_USERS.admin);
  await admin.goto(`${server.baseUrl}/w/demo/compliance`);
  const row = optOutRow(admin, '+14155550101');
  await row.waitFor();
  admin.once('dialog', (d) => d.accept());
  await row.getByTestId('opt-out-remove').click();
  await row.waitFor({ state: 'detached' });
  await admin.reload();
  await optOutRow(admin, '+14155550102').waitFor();
  assert.equal(await optOutRow(admin, '+14155550101').count(), 0, 'the lifted opt-out stays gone');

  await admin.getByTestId('tab-dnc').click();
  const entry = admin.locator('[data-testid="dnc-row"][data-from="+16025550100"]');
  await entry.waitFor();
  admin.once('dialog', (d) => d.accept());
  await entry.getByTestId('dnc-remove').click();
  await entry.waitFor({ state: 'detached' });
  await admin.context().close();

  const agent = await newPage(browser);
  await signIn(agent, server.baseUrl, DEMO_USERS.agent);
  await agent.goto(`${server.baseUrl}/w/demo/compliance`);
  await optOutRow(agent, '+14155550102').waitFor();
  for (const id of ['opt-out-form', 'opt-outs-import', 'opt-out-remove', 'opt-out-review']) {
    assert.equal(await agent.getByTestId(id).count(), 0, `${id} is hidden from an agent`);
  }
  await agent.getByTestId('tab-undeliverable').click();
  await agent.getByTestId('undeliverable-empty').waitFor();
  await agent.context().close();
});
