import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HarnessError } from '@postern/sdk/testing';
import { accessHarness } from './helpers.js';

async function errorsOf(options: object): Promise<readonly string[]> {
  try {
    await accessHarness(options as never);
  } catch (err) {
    assert.ok(err instanceof HarnessError);
    assert.equal(err.code, 'POSTERN_PLUGIN_OPTIONS_INVALID');
    return err.errors;
  }
  return [];
}

test('defaults are valid and do nothing', async () => {
  const h = await accessHarness();
  assert.deepEqual(h.options, { allow: { networks: [], senders: [] }, deny: { networks: [], senders: [] }, denyMessage: 'Access denied' });
  assert.equal(await h.run('connect', h.session()), undefined);
  assert.equal(await h.run('mailFrom', h.session(), h.transaction()), undefined);
});

test('valid network entries', async () => {
  const networks = ['10.0.0.0/8', '192.0.2.1', '0.0.0.0/0', '2001:db8::/32', '::1', '::/0', '::ffff:10.0.0.0/104', ' 10.1.0.0/16 '];
  assert.deepEqual(await errorsOf({ allow: { networks } }), []);
});

test('bad network entries are named by index', async () => {
  const errors = await errorsOf({
    allow: { networks: ['10.0.0.0/8', '192.0.2.1', 'example.test'] },
    deny: { networks: ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/8/1', '10.0.0/8', 42, '10.0.0.0/', '10.0.0.0/-1'] },
  });
  assert.deepEqual(errors, [
    'allow.networks[2]: not an IP or CIDR',
    'deny.networks[0]: not an IP or CIDR',
    'deny.networks[1]: not an IP or CIDR',
    'deny.networks[2]: not an IP or CIDR',
    'deny.networks[3]: not an IP or CIDR',
    'deny.networks[4]: not an IP or CIDR',
    'deny.networks[5]: not an IP or CIDR',
    'deny.networks[6]: not an IP or CIDR',
  ]);
});

test('bad sender entries are named by index', async () => {
  const errors = await errorsOf({
    allow: { senders: ['a@b.test', '@b.test', '.b.test', '@.b.test', 'b.test'] },
    deny: { senders: ['@', '.', 'a@', '@a..test', 'a b@c.test', '@b.test'] },
  });
  assert.deepEqual(errors, [
    'allow.senders[4]: not an address, @domain or .domain',
    'deny.senders[0]: not an address, @domain or .domain',
    'deny.senders[1]: not an address, @domain or .domain',
    'deny.senders[2]: not an address, @domain or .domain',
    'deny.senders[3]: not an address, @domain or .domain',
    'deny.senders[4]: not an address, @domain or .domain',
  ]);
});

test('wrong shapes, unknown keys and an empty denyMessage', async () => {
  assert.deepEqual(await errorsOf({ allow: ['10.0.0.0/8'] }), ['allow: must be a map with networks and senders']);
  assert.deepEqual(await errorsOf({ deny: { networks: '10.0.0.0/8' } }), ['deny.networks: must be a list']);
  assert.deepEqual(await errorsOf({ allow: { network: ['10.0.0.0/8'] } }), ['allow.network: unknown key (expected networks or senders)']);
  assert.deepEqual(await errorsOf({ denyMessage: ' ' }), ['denyMessage: must be a non-empty string']);
});
