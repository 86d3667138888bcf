// Settings flows against a real server: inviting a member and accepting the invitation link,
// API tokens shown once and revoked, password recovery through the demo mailer's log, and the
// sign-in rate limit's message.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS, browser, newPage, server, signIn, useServerAndBrowser } from './harness.mjs';

const T = { timeout: 90_000 };
useServerAndBrowser();

/** The newest /recover link the server's mailer printed for `email`. */
async function mailedLink(email) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const lines = server.logs().split('\n').filter((l) => l.includes(email) && l.includes('/recover?token='));
    const m = lines.length && /(https?:\/\/[^\s"\\]+\/recover\?token=[A-Za-z0-9_\-%.~]+)/.exec(lines[lines.length - 1]);
    if (m) return m[1];
    if (Date.now() > deadline) throw new Error(`no recovery link for ${email} in the server log`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('an owner invites a new member, who sets a password from the link', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.owner);
  await page.goto(`${server.baseUrl}/w/demo/settings/members`);
  await page.getByTestId('invite-email').fill('newcomer@demo.test');
  await page.getByTestId('invite-name').fill('Nina Newcomer');
  await page.getByTestId('invite-role').selectOption('agent');
  await page.getByTestId('invite-submit').click();
  await page.getByTestId('invite-url').waitFor();
  const inviteUrl = await page.getByTestId('invite-url').innerText();
  assert.match(inviteUrl, /\/recover\?token=/);
  await page.locator('[data-testid="member-row"][data-email="newcomer@demo.test"][data-role="agent"]').waitFor();

  // Adding the same person again is refused with the server's message, shown inline.
  await page.getByTestId('invite-email').fill('newcomer@demo.test');
  await page.getByTestId('invite-submit').click();
  await page.getByTestId('invite-error').waitFor();
  assert.match(await page.getByTestId('invite-error').innerText(), /already/i);
  await page.context().close();

  // The newcomer follows the link in a browser of their own.
  const newcomer = await newPage(browser);
  await newcomer.goto(inviteUrl);
  await newcomer.getByTestId('recover-password').fill('short');
  await newcomer.getByTestId('recover-confirm').fill('short');
  await newcomer.getByTestId('recover-submit').click();
  await newcomer.getByTestId('recover-error').waitFor();
  await newcomer.getByTestId('recover-password').fill('a-long-new-password');
  await newcomer.getByTestId('recover-confirm').fill('a-long-new-password');
  await newcomer.getByTestId('recover-submit').click();
  await newcomer.getByTestId('shell-header').waitFor();
  assert.match(await newcomer.getByTestId('user-email').innerText(), /newcomer@demo\.test/);
  await newcomer.waitForURL(/\/w\/demo\//);
  await newcomer.context().close();
});

test('API tokens are shown once and can be revoked', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.admin);
  await page.goto(`${server.baseUrl}/w/demo/settings/tokens`);
  await page.getByTestId('token-name').fill('nightly import');
  await page.getByTestId('token-create').click();
  await page.getByTestId('token-value').waitFor();
  const token = await page.getByTestId('token-value').innerText();
  assert.ok(token.length >= 20, 'the token is shown');
  const row = page.locator('[data-testid="token-row"][data-name="nightly import"]');
  await row.waitFor();
  assert.ok(!(await row.innerText()).includes(token), 'the list never shows the whole token');

  // The token works as a bearer credential.
  const wid = await page.evaluate(async () => (await (await fetch('/api/auth/session')).json()).memberships.find((m) => m.slug === 'demo').workspace_id);
  const ok = await fetch(`http://127.0.0.1:${server.port}/api/workspaces/${wid}/members`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);

  await row.getByTestId('token-revoke').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="token-row"][data-name="nightly import"]')?.textContent?.includes('revoked'));
  const denied = await fetch(`http://127.0.0.1:${server.port}/api/workspaces/${wid}/members`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(denied.status, 401, 'a revoked token no longer works');
  await page.context().close();
});

test('forgot password: the emailed link sets a new password', T, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.baseUrl}/login`);
  await page.getByTestId('forgot-password').click();
  await page.getByTestId('recovery-email').fill(DEMO_USERS.viewer);
  await page.getByTestId('recovery-submit').click();
  await page.getByTestId('recovery-sent').waitFor();

  await page.goto(await mailedLink(DEMO_USERS.viewer));
  await page.getByTestId('recover-password').fill('viewer-new-password');
  await page.getByTestId('recover-confirm').fill('viewer-new-password');
  await page.getByTestId('recover-submit').click();
  await page.getByTestId('shell-header').waitFor();
  await page.context().close();

  const again = await newPage(browser);
  await signIn(again, server.baseUrl, DEMO_USERS.viewer, 'viewer-new-password');
  await again.context().close();
});

test('the audit log filters and pages to older entries', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.owner);
  await page.goto(`${server.baseUrl}/w/demo/settings/audit`);
  await page.getByTestId('audit-table').waitFor();
  // Make more than one page of entries: 56 role changes through the API, as the console would.
  await page.evaluate(async () => {
    const s = await (await fetch('/api/auth/session')).json();
    const wid = s.memberships.find((m) => m.slug === 'demo').workspace_id;
    const members = await (await fetch(`/api/workspaces/${wid}/members`)).json();
    const agent = members.find((m) => m.email === 'agent@demo.test');
    for (let i = 0; i < 56; i++) {
      const role = i % 2 === 0 ? 'viewer' : 'agent';
      const r = await fetch(`/api/workspaces/${wid}/members/${agent.user_id}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
        body: JSON.stringify({ role }),
      });
      if (r.status !== 200) throw new Error(`PATCH answered ${r.status}`);
    }
  });
  await page.reload();
  await page.getByTestId('audit-table').waitFor();
  assert.equal(await page.getByTestId('audit-row').count(), 50, 'a page holds 50 entries');
  const firstId = Number(await page.getByTestId('audit-row').first().getAttribute('data-id'));
  const lastId = Number(await page.getByTestId('audit-row').last().getAttribute('data-id'));
  await page.getByTestId('audit-older').click();
  await page.getByTestId('audit-table').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="audit-row"]').length < 50);
  const olderFirst = Number(await page.getByTestId('audit-row').first().getAttribute('data-id'));
  assert.ok(olderFirst < lastId && olderFirst < firstId, `older page starts below ${lastId}, got ${olderFirst}`);
  await page.getByTestId('audit-newest').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="audit-row"]').length === 50);

  // Filter by outcome: only denied rows show (there may be none).
  await page.getByTestId('audit-filter-outcome').selectOption('denied');
  await page.getByTestId('audit-apply').click();
  await page.locator('[data-testid="audit-table"]').waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-testid="loading"]'));
  const outcomes = await page.getByTestId('audit-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')));
  assert.ok(outcomes.every((o) => o === 'denied'), `only denied entries: ${outcomes}`);
  await page.context().close();
});

// Last in this file: the limiter may count per address as well as per account.
test('too many wrong passwords are rate limited with a countdown', T, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.baseUrl}/login`);
  await page.getByTestId('login-email').fill(DEMO_USERS.manager);
  await page.getByTestId('login-password').fill('wrong-password');
  let limited = false;
  for (let i = 0; i < 20 && !limited; i++) {
    const res = page.waitForResponse((r) => r.url().endsWith('/api/auth/login'));
    await page.getByTestId('login-submit').click();
    limited = (await res).status() === 429;
    await page.getByTestId('login-error').waitFor();
  }
  assert.ok(limited, 'the server rate limits failed sign-ins');
  await page.waitForFunction(() => /Too many attempts, try again in \d+ s/.test(document.querySelector('[data-testid="login-error"]')?.textContent ?? ''));
  await page.context().close();
});
