// Campaigns in the console against a real server whose engine sends to the Twilio-compatible
// simulator: a manager adds leads (one bad row refused), opts one out, builds a draft with the
// live segment meter, reads the dry run's counts per reason, starts it and watches the live
// counters until the engine completes it. A viewer sees the same pages without controls.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS, browser, newPage, server, signIn, twoUsers, useServerAndBrowser } from './harness.mjs';

const T = { timeout: 180_000 };
useServerAndBrowser({ simulator: true });

/** An IANA zone where it is about 14:00 now, so the legal window (08–20/21) is open. */
function afternoonZone() {
  let h = 14 - new Date().getUTCHours();
  if (h > 14) h -= 24;
  if (h < -12) h += 24;
  return h === 0 ? 'Etc/GMT' : h > 0 ? `Etc/GMT-${h}` : `Etc/GMT+${-h}`; // Etc/GMT signs are inverted
}

const count = (page, verdict) => page.locator(`[data-testid="preview-count"][data-verdict="${verdict}"]`).getAttribute('data-count');
const counter = (page, name) => page.getByTestId(`counter-${name}`).getAttribute('data-value');

test('a manager builds a campaign from leads, reads the dry run, starts it and watches it complete', T, async () => {
  const page = await newPage(browser);
  const { baseUrl } = server;
  await signIn(page, baseUrl, DEMO_USERS.manager);
  const zone = afternoonZone();

  // Leads: five good rows and one bad phone, pasted as CSV.
  await page.goto(`${baseUrl}/w/demo/leads`);
  const csv = [
    'phone,first_name,time_zone,tags,line_type,street',
    `+12025550141,Ana,${zone},browsertest,mobile,12 Oak St`,
    `+12025550142,Ben,${zone},browsertest,,`,
    `+12025550143,,${zone},browsertest,,`, // no first name: the template has no fallback
    `+12025550144,Dee,${zone},browsertest,landline,`,
    `+12025550145,Eve,${zone},browsertest,,`, // opted out below
    `not-a-phone,Zed,${zone},browsertest,,`,
  ].join('\n');
  await page.getByTestId('leads-bulk-text').fill(csv);
  await page.getByTestId('leads-bulk-submit').click();
  await page.getByTestId('leads-bulk-result').waitFor();
  assert.match(await page.getByTestId('leads-bulk-summary').innerText(), /^5 created, 0 updated, 1 refused/);
  const bad = page.getByTestId('leads-bulk-row-error');
  assert.equal(await bad.getAttribute('data-line'), '7', 'the refused row is named by its line');
  assert.match(await bad.innerText(), /leads\[5\]\.phone/);
  await page.getByTestId('leads-filter-tag').fill('browsertest');
  await page.locator('[data-testid="lead-row"][data-phone="+12025550145"]').waitFor();
  assert.equal(await page.getByTestId('lead-row').count(), 5);

  // One of them opts out (recorded by hand on the compliance page).
  await page.getByTestId('nav-compliance').click();
  await page.getByTestId('opt-out-phone').fill('(202) 555-0145');
  await page.getByTestId('opt-out-submit').click();
  await page.locator('[data-testid="opt-out-row"][data-phone="+12025550145"]').waitFor();

  // A draft: audience by tag, one step, the simulator's numbers as the pool.
  await page.getByTestId('nav-campaigns').click();
  await page.getByTestId('campaign-new').click();
  await page.getByTestId('campaign-name').fill('Browser test campaign');
  await page.getByTestId('audience-tags').fill('browsertest');
  const template = page.getByTestId('step-template').first();
  const meter = page.getByTestId('segment-meter').first();

  // The live meter: GSM-7 text, then an emoji makes it UCS-2, a long text takes two segments.
  await template.fill('Hi {{first_name}}, would you sell {{street|your home}}?');
  assert.equal(await meter.getAttribute('data-encoding'), 'gsm7');
  assert.equal(await meter.getAttribute('data-segments'), '1');
  await template.fill('Hi {{first_name}} 👋 would you sell {{street|your home}}?');
  assert.equal(await meter.getAttribute('data-encoding'), 'ucs2');
  await template.fill('x'.repeat(150));
  assert.equal(await meter.getAttribute('data-segments'), '2', '150 + newline + opt-out language > 160');
  await template.fill('Hi {{first_name');
  await page.getByTestId('template-syntax-error').waitFor();
  await template.fill('Hi {{first_name}}, would you sell {{street|your home}}?');

  for (let i = 0; i < 10; i++) await page.locator(`[data-testid="pool-number"][data-e164="+1201555010${i}"]`).check();
  await page.getByTestId('campaign-save').click();
  await page.waitForURL(/\/w\/demo\/campaigns\/[0-9a-f-]{36}$/);
  await page.locator('[data-testid="campaign-status"][data-status="draft"]').waitFor();

  // The dry run: counts per reason and each recipient's rendered text.
  await page.getByTestId('preview-summary').waitFor();
  assert.equal(await page.getByTestId('preview-summary').getAttribute('data-total'), '5');
  assert.equal(await count(page, 'send'), '2');
  assert.equal(await count(page, 'template'), '1');
  assert.equal(await count(page, 'landline'), '1');
  assert.equal(await count(page, 'opted_out'), '1');
  assert.equal(await count(page, 'dnc'), '0');
  const ana = page.locator('[data-testid="preview-row"][data-phone="+12025550141"]');
  assert.equal(await ana.getAttribute('data-verdict'), 'send');
  assert.equal(await ana.getByTestId('preview-body').innerText(), 'Hi Ana, would you sell 12 Oak St?\nReply STOP to opt out.');
  const ben = page.locator('[data-testid="preview-row"][data-phone="+12025550142"]');
  assert.match(await ben.getByTestId('preview-body').innerText(), /^Hi Ben, would you sell your home\?/);
  // Filtering by a reason narrows the table.
  await page.locator('[data-testid="preview-count"][data-verdict="landline"]').click();
  await page.locator('[data-testid="preview-row"][data-phone="+12025550141"]').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('preview-row').count(), 1);
  assert.equal(await page.getByTestId('preview-row').getAttribute('data-phone'), '+12025550144');

  // Start: the engine materializes, sends the two, and the leader's counters arrive live.
  await page.getByTestId('action-start').click();
  await page.locator('[data-testid="live-counters"][data-live="true"]').waitFor({ timeout: 30_000 });
  await page.locator('[data-testid="campaign-status"][data-status="completed"]').waitFor({ timeout: 90_000 });
  await page.locator('[data-testid="counter-sent"][data-value="2"]').waitFor({ timeout: 10_000 });
  assert.equal(await counter(page, 'materialized'), '5');
  assert.equal(await counter(page, 'skipped'), '3');
  assert.equal(await counter(page, 'queued'), '0');
  for (const reason of ['template', 'landline', 'opted_out']) {
    assert.equal(await page.locator(`[data-testid="skipped-reason"][data-reason="${reason}"]`).getAttribute('data-count'), '1', reason);
  }
  assert.equal(await page.getByTestId('action-start').count(), 0, 'a completed campaign has no lifecycle moves');
  await page.context().close();
});

test('a viewer follows campaigns without controls, and sees who else is on the page', T, async () => {
  const { baseUrl } = server;
  const [manager, viewer] = await twoUsers(browser, baseUrl, DEMO_USERS.manager, DEMO_USERS.viewer);
  await viewer.goto(`${baseUrl}/w/demo/campaigns`);
  const row = viewer.locator('[data-testid="campaign-row"][data-name="Spring sellers: first touch"]');
  await row.waitFor();
  assert.equal(await viewer.getByTestId('campaign-new').count(), 0);
  await row.getByTestId('campaign-link').click();
  await viewer.locator('[data-testid="campaign-status"][data-status="draft"]').waitFor();
  await viewer.getByTestId('preview-summary').waitFor();
  for (const id of ['action-start', 'campaign-edit', 'campaign-delete']) {
    assert.equal(await viewer.getByTestId(id).count(), 0, `${id} is hidden from a viewer`);
  }

  // Presence on the campaign's topic: the manager opens the same page.
  await manager.goto(viewer.url());
  await manager.locator('[data-testid="here-avatar"]').first().waitFor();
  await viewer.locator('[data-testid="here-avatar"]').nth(1).waitFor({ timeout: 15_000 });
  assert.equal(await viewer.locator('[data-testid="topic-strip"]').getAttribute('data-topic'), `campaign:${viewer.url().split('/').pop()}`);

  // A viewer has no compliance access.
  await viewer.goto(`${baseUrl}/w/demo/compliance`);
  await viewer.getByTestId('compliance-no-access').waitFor();
  await manager.context().close();
  await viewer.context().close();
});

test('an owner creates a crusade, then starts, pauses, resumes and cancels the seeded one with its campaign', T, async () => {
  const page = await newPage(browser);
  const { baseUrl } = server;
  await signIn(page, baseUrl, DEMO_USERS.owner);
  await page.goto(`${baseUrl}/w/demo/crusades`);

  // A new crusade; an end time before the start is refused naming the field.
  await page.getByTestId('crusade-new').click();
  await page.getByTestId('crusade-name').fill('Browser crusade');
  await page.getByTestId('crusade-start-time').fill('18:00');
  await page.getByTestId('crusade-end-time').fill('09:00');
  await page.getByTestId('crusade-day-sun').uncheck();
  await page.getByTestId('crusade-save').click();
  await page.getByTestId('crusade-error').waitFor();
  assert.equal(await page.getByTestId('crusade-error').getAttribute('data-field'), 'end_time');
  await page.getByTestId('crusade-start-time').fill('09:00');
  await page.getByTestId('crusade-end-time').fill('18:00');
  await page.getByTestId('crusade-throttle').fill('120');
  await page.getByTestId('crusade-save').click();
  await page.locator('[data-testid="crusade-status"][data-status="draft"]').waitFor();
  assert.match(await page.getByTestId('crusade-schedule').innerText(), /mon, tue, wed, thu, fri, sat, 09:00–18:00/);
  await page.getByTestId('crusade-campaigns-empty').waitFor();

  // The seeded crusade drives the seeded campaign: every move acts on both.
  await page.goto(`${baseUrl}/w/demo/crusades`);
  await page.locator('[data-testid="crusade-row"][data-name="Spring sellers push"]').getByTestId('crusade-link').click();
  const member = page.getByTestId('crusade-campaign');
  await member.waitFor();
  assert.equal(await member.getAttribute('data-status'), 'draft');

  await page.getByTestId('action-start').click();
  await page.locator('[data-testid="crusade-status"][data-status="running"]').waitFor();
  await page.locator('[data-testid="crusade-campaign"][data-status="running"]').waitFor();
  await page.locator('[data-testid="live-counters"][data-live="true"]').waitFor({ timeout: 30_000 });
  assert.ok(Number(await counter(page, 'materialized')) > 0, 'the campaign was materialized');

  await page.getByTestId('action-pause').click();
  await page.locator('[data-testid="crusade-status"][data-status="paused"]').waitFor();
  await page.locator('[data-testid="crusade-campaign"][data-status="paused"]').waitFor();
  await page.getByTestId('action-resume').click();
  await page.locator('[data-testid="crusade-status"][data-status="running"]').waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('action-cancel').click();
  await page.locator('[data-testid="crusade-status"][data-status="canceled"]').waitFor();
  await page.locator('[data-testid="crusade-campaign"][data-status="canceled"]').waitFor();

  // The campaign's own page says the crusade drives it, and offers no moves of its own.
  await member.getByRole('link').click();
  await page.getByTestId('driven-by-crusade').waitFor();
  await page.locator('[data-testid="campaign-status"][data-status="canceled"]').waitFor();
  assert.equal(await page.getByTestId('lifecycle').count(), 0);
  await page.context().close();
});
