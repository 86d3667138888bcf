// Live counters from the engine leader's events (sender/src/engine/leader.rs payloads).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countersOf, liveUpdateOf, progress, totalSkipped } from '../.test-build/lib/counters.js';
import { can } from '../.test-build/lib/permissions.js';

test('a campaign stats event', () => {
  const u = liveUpdateOf('stats', {
    campaign_id: 'c1',
    status: 'running',
    counters: { materialized: 10, sent: 4, delivered: 3, failed: 1, skipped: { opted_out: 2 }, queued: 3 },
    queued: 3,
  });
  assert.equal(u.status, 'running');
  assert.equal(u.counters.sent, 4);
  assert.equal(u.counters.undelivered, 0, 'missing metrics count zero');
  assert.equal(totalSkipped(u.counters), 2);
  assert.equal(progress(u.counters), 0.7);
});

test('a crusade stats event carries each campaign', () => {
  const u = liveUpdateOf('stats', { crusade_id: 'k', status: 'running', counters: { sent: 5 }, campaigns: { a: { status: 'completed', counters: { sent: 5 } } } });
  assert.equal(u.campaigns.a.status, 'completed');
  assert.equal(u.campaigns.a.counters.sent, 5);
});

test('status events, unknown kinds and malformed payloads', () => {
  assert.deepEqual(liveUpdateOf('status', { campaign_id: 'c', status: 'paused' }), { status: 'paused' });
  assert.equal(liveUpdateOf('note', { status: 'x' }), null);
  assert.equal(liveUpdateOf('stats', null), null);
  assert.equal(countersOf({ sent: 'many', skipped: { x: 'y' } }).sent, 0);
  assert.equal(progress(countersOf({})), 0);
});

test('role permissions mirror the server matrix', () => {
  const roles = ['owner', 'admin', 'manager', 'agent', 'viewer'];
  assert.deepEqual(roles.filter((r) => can(r, 'ManageCampaigns')), ['owner', 'admin', 'manager']);
  assert.deepEqual(roles.filter((r) => can(r, 'ViewCompliance')), ['owner', 'admin', 'manager', 'agent']);
  assert.deepEqual(roles.filter((r) => can(r, 'ManageCompliance')), ['owner', 'admin', 'manager']);
  assert.deepEqual(roles.filter((r) => can(r, 'LiftSuppression')), ['owner', 'admin']);
  assert.deepEqual(roles.filter((r) => can(r, 'ViewCampaigns')), roles);
});
