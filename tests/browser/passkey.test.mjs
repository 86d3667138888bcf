// Passkeys end to end with Chromium's virtual authenticator: register one on Settings →
// Passkeys, sign out, and sign back in with "Sign in with a passkey".

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEMO_USERS, launchBrowser, signIn, startServer } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

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
  const finished = page.waitForResponse((r) => r.url().endsWith('/api/auth/passkeys/register/finish'));
  await page.getByTestId('passkey-add').click();
  const finish = await finished;
  assert.equal(finish.status(), 201, `register/finish answered ${finish.status()}: ${await finish.text()}`);
  await page.getByTestId('passkey-added').waitFor();
  await page.locator('[data-testid="passkey-row"][data-name="Test authenticator"]').waitFor();

  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1, 'the virtual authenticator holds the new credential');

  // Sign out, then back in with the passkey.
  await page.getByTestId('user-menu').click();
  await page.getByTestId('sign-out').click();
  await page.getByTestId('login-form').waitFor();
  await page.getByTestId('login-email').fill(DEMO_USERS.manager);
  const loggedIn = page.waitForResponse((r) => r.url().endsWith('/api/auth/passkeys/login/finish'));
  await page.getByTestId('passkey-signin').click();
  const login = await loggedIn;
  assert.equal(login.status(), 200, `login/finish answered ${login.status()}: ${await login.text()}`);
  await page.getByTestId('shell-header').waitFor();
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
