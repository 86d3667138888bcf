// Passkeys end to end with Chromium's virtual authenticator: register one on Settings →
// Passkeys, sign out, and sign back in with "Sign in with a passkey".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS, browser, server, signIn, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser({ publicHost: 'localhost' }); // WebAuthn needs a host name

test('manager registers a passkey and signs in with it', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });

  await signIn(page, server.baseUrl, DEMO_USERS.manager);
  await page.goto(`${server.baseUrl}/w/demo/settings/passkeys`);
  await page.getByTestId('passkey-form').waitFor();
  await page.getByTestId('passkey-name').fill('Test authenticator');
  const finished = [];
  page.on('response', (r) => r.url().endsWith('/api/auth/passkeys/register/finish') && finished.push(r));
  await page.getByTestId('passkey-add').click();
  await page.locator('[data-testid="passkey-added"], [data-testid="passkeys-error"]').first().waitFor();
  if (await page.getByTestId('passkeys-error').count()) {
    const status = finished[0] ? `register/finish answered ${finished[0].status()}` : 'register/finish was not called';
    assert.fail(`adding a passkey failed (${status}): ${await page.getByTestId('passkeys-error').innerText()}`);
  }
  assert.equal(finished[0]?.status(), 201);
  await page.locator('[data-testid="passkey-row"][data-name="Test authenticator"]').waitFor();

  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1, 'the virtual authenticator holds the new credential');

  // Sign out, then back in with the passkey.
  await page.getByTestId('user-menu').click();
  await page.getByTestId('sign-out').click();
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-email').fill(DEMO_USERS.manager);
  const loginFinished = [];
  page.on('response', (r) => r.url().endsWith('/api/auth/passkeys/login/finish') && loginFinished.push(r));
  await page.getByTestId('passkey-signin').click();
  await page.locator('[data-testid="shell-header"], [data-testid="login-error"]').first().waitFor();
  if (await page.getByTestId('login-error').count()) {
    const status = loginFinished[0] ? `login/finish answered ${loginFinished[0].status()}` : 'login/finish was not called';
    assert.fail(`passkey sign-in failed (${status}): ${await page.getByTestId('login-error').innerText()}`);
  }
  assert.equal(loginFinished[0]?.status(), 200);
  assert.match(await page.getByTestId('user-email').innerText(), /manager@demo\.test/);

  // The list shows it was used.
  await page.goto(`${server.baseUrl}/w/demo/settings/passkeys`);
  const row = page.locator('[data-testid="passkey-row"][data-name="Test authenticator"]');
  await row.waitFor();
  assert.doesNotMatch(await row.innerText(), /never/, 'last used is recorded');

  // Delete it.
  await row.getByTestId('passkey-delete').click();
  await page.getByTestId('passkeys-empty').waitFor();
  await context.close();
});
