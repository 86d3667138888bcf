// The realtime hub in the console: two users in two Chromium contexts see each other's
// presence avatars in the header and on the page's "who else is here" strip, and a drop one
// leaves appears for the other and fades after its TTL.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEMO_USERS, browser, server, twoUsers, useServerAndBrowser } from './harness.mjs';

const T = { timeout: 90_000 };
useServerAndBrowser();

const avatar = (page, testid, name) => page.locator(`[data-testid="${testid}"][data-name="${name}"]`);

test('two users see each other and a drop that fades', T, async () => {
  const { baseUrl } = server;
  const [owner, agent] = await twoUsers(browser, baseUrl, DEMO_USERS.owner, DEMO_USERS.agent);
  await owner.goto(`${baseUrl}/w/demo/campaigns`);
  await agent.goto(`${baseUrl}/w/demo/campaigns`);

  // Header: everyone online in the workspace, each person once.
  await avatar(owner, 'presence-avatar', 'Aaron Agent').waitFor({ timeout: 15_000 });
  await avatar(agent, 'presence-avatar', 'Olivia Owner').waitFor({ timeout: 15_000 });
  assert.equal(await avatar(owner, 'presence-avatar', 'Olivia Owner').count(), 1, 'the owner sees themself once');

  // The page's strip: who else is on this topic.
  await avatar(owner, 'here-avatar', 'Aaron Agent').waitFor({ timeout: 15_000 });

  // A drop appears for the other user, then fades out (default TTL 30 s).
  await owner.getByTestId('drop-input').fill('Heads up: pausing the spring campaign');
  await owner.getByTestId('drop-send').click();
  const note = agent.getByTestId('drop').filter({ hasText: 'Heads up: pausing the spring campaign' });
  await note.waitFor({ timeout: 10_000 });
  assert.match(await note.innerText(), /Olivia Owner/);
  await note.waitFor({ state: 'detached', timeout: 45_000 });

  // Leaving: the other tab's avatar goes away.
  await agent.context().close();
  await avatar(owner, 'presence-avatar', 'Aaron Agent').waitFor({ state: 'detached', timeout: 15_000 });
  await owner.context().close();
});
