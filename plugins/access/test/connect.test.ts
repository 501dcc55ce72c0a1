import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stage } from '@postern/sdk';
import { accessHarness } from './helpers.js';

const lists = {
  allow: { networks: ['10.0.0.0/8', '192.0.2.77', '2001:db8:aaaa::/48'] },
  deny: { networks: ['10.66.0.0/16', '203.0.113.0/24', '2001:db8:bad::/48', '2001:db8:aaaa:1::/64'] },
};

test('connect tap runs at Stage.ACCESS', async () => {
  const h = await accessHarness(lists);
  assert.deepEqual(h.taps('connect').map((t) => t.stage), [Stage.ACCESS]);
  assert.deepEqual(h.taps('mailFrom').map((t) => t.stage), [Stage.ACCESS]);
});

test('IPv4 client in deny.networks: 554 5.7.1 with denyMessage', async () => {
  const h = await accessHarness(lists);
  const verdict = await h.run('connect', h.session({ remoteAddress: '203.0.113.9' }));
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.code, 554);
  assert.equal(verdict?.enhanced, '5.7.1');
  assert.equal(verdict?.message, 'Access denied');
  // The client sees the message; which list matched goes to the log only.
  assert.doesNotMatch(verdict?.message ?? '', /203\.0\.113/);
  assert.match(verdict?.reason ?? '', /203\.0\.113\.0\/24/);
});

test('custom denyMessage', async () => {
  const h = await accessHarness({ ...lists, denyMessage: 'Go away' });
  assert.equal((await h.run('connect', h.session({ remoteAddress: '203.0.113.9' })))?.message, 'Go away');
});

test('IPv4 client in allow.networks: accept, recorded on the session', async () => {
  const h = await accessHarness(lists);
  const session = h.session({ remoteAddress: '10.1.2.3' });
  const verdict = await h.run('connect', session);
  assert.equal(verdict?.action, 'accept');
  assert.deepEqual(session.results.get('access'), { allow: true, match: 'network:10.0.0.0/8' });
});

test('a single address entry matches only that address', async () => {
  const h = await accessHarness(lists);
  const exact = h.session({ remoteAddress: '192.0.2.77' });
  assert.equal((await h.run('connect', exact))?.action, 'accept');
  assert.deepEqual(exact.results.get('access'), { allow: true, match: 'network:192.0.2.77' });
  assert.equal(await h.run('connect', h.session({ remoteAddress: '192.0.2.78' })), undefined);
});

test('a client on no list: no opinion, nothing recorded', async () => {
  const h = await accessHarness(lists);
  const session = h.session({ remoteAddress: '198.51.100.1' });
  assert.equal(await h.run('connect', session), undefined);
  assert.equal(session.results.has('access'), false);
});

test('IPv4-mapped IPv6 clients match IPv4 entries', async () => {
  const h = await accessHarness(lists);
  assert.equal((await h.run('connect', h.session({ remoteAddress: '::ffff:203.0.113.5' })))?.code, 554);
  const session = h.session({ remoteAddress: '::FFFF:10.9.9.9' });
  assert.equal((await h.run('connect', session))?.action, 'accept');
  assert.deepEqual(session.results.get('access'), { allow: true, match: 'network:10.0.0.0/8' });
});

test('IPv4 entries written in mapped form match plain IPv4 clients', async () => {
  const h = await accessHarness({ deny: { networks: ['::ffff:198.51.100.0/120', '::ffff:192.0.2.1'] } });
  assert.equal((await h.run('connect', h.session({ remoteAddress: '198.51.100.200' })))?.action, 'reject');
  assert.equal((await h.run('connect', h.session({ remoteAddress: '192.0.2.1' })))?.action, 'reject');
  assert.equal(await h.run('connect', h.session({ remoteAddress: '198.51.101.1' })), undefined);
});

test('IPv6 CIDR allow and deny', async () => {
  const h = await accessHarness(lists);
  assert.equal((await h.run('connect', h.session({ remoteAddress: '2001:db8:bad:1::25' })))?.action, 'reject');
  const session = h.session({ remoteAddress: '2001:DB8:AAAA:2::1' });
  assert.equal((await h.run('connect', session))?.action, 'accept');
  assert.deepEqual(session.results.get('access'), { allow: true, match: 'network:2001:db8:aaaa::/48' });
  assert.equal(await h.run('connect', h.session({ remoteAddress: '2001:db8:cccc::1' })), undefined);
});

test('deny wins over allow for the same client (v4 and v6)', async () => {
  const h = await accessHarness(lists);
  // 10.66.0.0/16 is inside the allowed 10.0.0.0/8, 2001:db8:aaaa:1::/64 inside the allowed /48.
  const v4 = h.session({ remoteAddress: '10.66.1.1' });
  assert.equal((await h.run('connect', v4))?.action, 'reject');
  assert.equal(v4.results.has('access'), false);
  assert.equal((await h.run('connect', h.session({ remoteAddress: '2001:db8:aaaa:1::9' })))?.action, 'reject');
});

test('non-SMTP sessions (IMAP, POP3) are left alone', async () => {
  const h = await accessHarness(lists);
  assert.equal(await h.run('connect', h.session({ protocol: 'imap', remoteAddress: '203.0.113.9' })), undefined);
  assert.equal(await h.run('connect', h.session({ protocol: 'pop3', remoteAddress: '10.1.1.1' })), undefined);
});

test('a remote address that is not an IP matches nothing', async () => {
  const h = await accessHarness({ allow: { networks: ['0.0.0.0/0', '::/0'] } });
  assert.equal(await h.run('connect', h.session({ remoteAddress: 'unknown' })), undefined);
  assert.equal((await h.run('connect', h.session({ remoteAddress: '8.8.8.8' })))?.action, 'accept');
  assert.equal((await h.run('connect', h.session({ remoteAddress: '2001:4860::1' })))?.action, 'accept');
});
