// The console shell against a real server: sign-in, theme, workspace switching, members and
// role changes, the audit log's server-side 403, a wrong password, and two users at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS, browser, newPage, server, signIn, twoUsers, useServerAndBrowser } from './harness.mjs';

const T = { timeout: 90_000 };
useServerAndBrowser();

const theme = (page) => page.evaluate(() => document.documentElement.getAttribute('data-theme'));
const memberRow = (page, email) => page.locator(`[data-testid="member-row"][data-email="${email}"]`);

test('owner signs in, toggles theme, switches workspace, manages roles', T, async () => {
  const page = await newPage(browser);
  const { baseUrl } = server;
  await signIn(page, baseUrl, DEMO_USERS.owner);

  // Lands in the first workspace's first section: the campaigns list.
  await page.waitForURL(/\/w\/[a-z0-9-]+\/campaigns$/);
  await page.getByTestId('campaigns-page').waitFor();
  assert.ok(await page.locator('#presence').count(), 'header has the presence slot');
  assert.match(await page.getByTestId('user-email').innerText(), /owner@demo\.test/);

  // Theme: toggles data-theme on <html> and survives a reload.
  const initial = await theme(page);
  await page.getByTestId('theme-toggle').click();
  const toggled = await theme(page);
  assert.notEqual(toggled, initial);
  assert.ok(toggled === 'dark' || toggled === 'light');
  await page.reload();
  await page.getByTestId('shell-header').waitFor();
  assert.equal(await theme(page), toggled, 'theme survives reload');

  // Workspace switcher: acme keeps the current section.
  await page.goto(`${baseUrl}/w/demo/settings/members`);
  await memberRow(page, DEMO_USERS.agent).waitFor();
  await page.getByTestId('workspace-switcher').selectOption('acme');
  await page.waitForURL(/\/w\/acme\/settings\/members$/);
  await memberRow(page, DEMO_USERS.super).waitFor();
  assert.equal(await memberRow(page, DEMO_USERS.agent).count(), 0, 'acme does not list demo-only members');

  // Back to demo: all demo members are listed.
  await page.getByTestId('workspace-switcher').selectOption('demo');
  await page.waitForURL(/\/w\/demo\/settings\/members$/);
  for (const email of [DEMO_USERS.owner, DEMO_USERS.admin, DEMO_USERS.manager, DEMO_USERS.agent, DEMO_USERS.viewer]) {
    await memberRow(page, email).waitFor();
  }

  // Role change: agent -> manager (persisted), then back to agent.
  const agent = memberRow(page, DEMO_USERS.agent);
  const patched = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/members/'));
  await agent.getByTestId('role-select').selectOption('manager');
  assert.equal((await patched).status(), 200);
  await page.waitForSelector(`[data-testid="member-row"][data-email="${DEMO_USERS.agent}"][data-role="manager"]`);
  await page.reload();
  await page.waitForSelector(`[data-testid="member-row"][data-email="${DEMO_USERS.agent}"][data-role="manager"]`);
  assert.equal(await memberRow(page, DEMO_USERS.agent).getByTestId('role-select').inputValue(), 'manager');

  const patchedBack = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/members/'));
  await memberRow(page, DEMO_USERS.agent).getByTestId('role-select').selectOption('agent');
  assert.equal((await patchedBack).status(), 200);
  await page.waitForSelector(`[data-testid="member-row"][data-email="${DEMO_USERS.agent}"][data-role="agent"]`);

  // The owner reads the audit log, which recorded the role changes.
  await page.getByTestId('nav-audit').click();
  await page.getByTestId('audit-table').waitFor();
  assert.ok((await page.getByTestId('audit-row').count()) >= 2, 'role changes appear in the audit log');

  await page.context().close();
});

test('viewer opening the audit log sees the no-access state the server decided', T, async () => {
  const page = await newPage(browser);
  await signIn(page, server.baseUrl, DEMO_USERS.viewer);
  const audit = page.waitForResponse((r) => /\/api\/workspaces\/[^/]+\/audit/.test(r.url()));
  await page.goto(`${server.baseUrl}/w/demo/settings/audit`);
  assert.equal((await audit).status(), 403);
  await page.getByTestId('audit-no-access').waitFor();
  assert.match(await page.getByTestId('audit-no-access').innerText(), /You don't have access to the audit log/);
  assert.equal(await page.getByTestId('audit-table').count(), 0);

  // A viewer sees members but no controls to change them.
  await page.getByTestId('nav-members').click();
  await page.getByTestId('members-table').waitFor();
  assert.equal(await page.getByTestId('role-select').count(), 0);
  assert.equal(await page.getByTestId('invite-form').count(), 0);
  await page.context().close();
});

test('a wrong password shows an error and stays on the login page', T, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.baseUrl}/login`);
  await page.getByTestId('login-email').fill(DEMO_USERS.manager);
  await page.getByTestId('login-password').fill('not-the-password');
  const res = page.waitForResponse((r) => r.url().endsWith('/api/auth/login'));
  await page.getByTestId('login-submit').click();
  assert.equal((await res).status(), 401);
  await page.getByTestId('login-error').waitFor();
  assert.match(await page.getByTestId('login-error').innerText(), /Wrong email or password/);
  assert.match(page.url(), /\/login/);
  await page.context().close();
});

test('signed-out visitors are sent to the login page', T, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.baseUrl}/w/demo/settings/members`);
  await page.getByTestId('login-form').waitFor();
  assert.match(page.url(), /\/login/);
  await page.context().close();
});

test('two users signed in at once both see the shell', T, async () => {
  const [a, b] = await twoUsers(browser, server.baseUrl, DEMO_USERS.owner, DEMO_USERS.agent);
  assert.match(await a.getByTestId('user-email').innerText(), /owner@demo\.test/);
  assert.match(await b.getByTestId('user-email').innerText(), /agent@demo\.test/);
  await a.reload();
  await b.reload();
  await a.getByTestId('shell-header').waitFor();
  await b.getByTestId('shell-header').waitFor();
  assert.match(await a.getByTestId('user-email').innerText(), /owner@demo\.test/);
  assert.match(await b.getByTestId('user-email').innerText(), /agent@demo\.test/);

  // Signing out in one context leaves the other signed in.
  await b.getByTestId('user-menu').click();
  await b.getByTestId('sign-out').click();
  await b.getByTestId('login-form').waitFor();
  await a.reload();
  await a.getByTestId('shell-header').waitFor();

  await a.context().close();
  await b.context().close();
});

test("sign out everywhere ends the same user's other sessions", T, async () => {
  const [a, b] = await twoUsers(browser, server.baseUrl, DEMO_USERS.admin, DEMO_USERS.admin);
  await a.getByTestId('user-menu').click();
  const done = a.waitForResponse((r) => r.url().endsWith('/api/auth/logout-all'));
  await a.getByTestId('sign-out-everywhere').click();
  assert.equal((await done).status(), 204);
  await a.getByTestId('login-form').waitFor();
  // The other browser's next request finds its session gone and lands on the login page.
  await b.getByTestId('nav-members').click();
  await b.getByTestId('login-form').waitFor();
  await a.context().close();
  await b.context().close();
});
