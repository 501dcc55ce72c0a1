import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHarness } from '@postern/sdk/testing';
import plugin from '../src/index.js';

test('refuses a blocked local part and records it', async () => {
  const h = await createHarness(plugin, { options: { blockedLocalParts: ['noreply', 'DoNotReply'] } });
  const tx = h.transaction({ mailFrom: 'someone@example.org' });
  const verdict = await h.run('rcptTo', h.session(), tx, h.address('donotreply@example.test'));
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.enhanced, '5.1.1');
  assert.deepEqual(tx.results.get('my-plugin'), { blocked: 'donotreply@example.test' });
});

test('has no opinion on other recipients', async () => {
  const h = await createHarness(plugin);
  const verdict = await h.run('rcptTo', h.session(), h.transaction(), h.address('ann@example.test'));
  assert.equal(verdict, undefined);
});

test('refuses options with a full address', async () => {
  await assert.rejects(createHarness(plugin, { options: { blockedLocalParts: ['x@example.test'] } }), /blockedLocalParts/);
});
