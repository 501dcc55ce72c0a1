import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessHarness } from './helpers.js';

const lists = {
  allow: { networks: ['10.0.0.0/8'], senders: ['boss@partner.test', '@friends.test', '.trusted.test'] },
  deny: {
    networks: [],
    senders: ['spammer@friends.test', '@evil.test', '@.bad.test', 'mixed@Case.TEST'],
  },
};

async function mailFrom(sender: string, remoteAddress = '198.51.100.1') {
  const h = await accessHarness(lists);
  const session = h.session({ remoteAddress });
  await h.run('connect', session);
  const tx = h.transaction({ mailFrom: sender });
  const verdict = await h.run('mailFrom', session, tx);
  return { verdict, session, tx };
}

test('full address in deny.senders: 550 5.7.1, case-insensitive', async () => {
  for (const sender of ['mixed@case.test', 'MIXED@CASE.TEST', 'Mixed@Case.Test']) {
    const { verdict } = await mailFrom(sender);
    assert.equal(verdict?.action, 'reject', sender);
    assert.equal(verdict?.code, 550);
    assert.equal(verdict?.enhanced, '5.7.1');
    assert.equal(verdict?.message, 'Access denied');
  }
  assert.equal((await mailFrom('other@case.test')).verdict, undefined);
});

test('@domain matches that domain exactly, not its subdomains', async () => {
  assert.equal((await mailFrom('anyone@evil.test')).verdict?.action, 'reject');
  assert.equal((await mailFrom('anyone@EVIL.test')).verdict?.action, 'reject');
  assert.equal((await mailFrom('anyone@mail.evil.test')).verdict, undefined);
  assert.equal((await mailFrom('anyone@notevil.test')).verdict, undefined);
});

test('.domain / @.domain match the domain and every subdomain', async () => {
  assert.equal((await mailFrom('a@bad.test')).verdict?.action, 'reject');
  assert.equal((await mailFrom('a@mx.eu.bad.test')).verdict?.action, 'reject');
  assert.equal((await mailFrom('a@notbad.test')).verdict, undefined);
  const allowed = await mailFrom('a@Deep.Sub.Trusted.Test');
  assert.equal(allowed.verdict?.action, 'accept');
  assert.deepEqual(allowed.tx.results.get('access'), { allow: true, match: 'sender:.trusted.test' });
});

test('allow.senders: accept and record on the transaction', async () => {
  const address = await mailFrom('Boss@Partner.TEST');
  assert.equal(address.verdict?.action, 'accept');
  assert.deepEqual(address.tx.results.get('access'), { allow: true, match: 'sender:boss@partner.test' });
  const domain = await mailFrom('someone@friends.test');
  assert.deepEqual(domain.tx.results.get('access'), { allow: true, match: 'sender:@friends.test' });
  const neither = await mailFrom('x@elsewhere.test');
  assert.equal(neither.verdict, undefined);
  assert.equal(neither.tx.results.has('access'), false);
});

test('deny wins over allow for the same sender', async () => {
  // spammer@friends.test is denied by address while @friends.test is allowed.
  const { verdict, tx } = await mailFrom('spammer@friends.test');
  assert.equal(verdict?.action, 'reject');
  assert.equal(tx.results.has('access'), false);
});

test('deny.senders wins over an allowlisted network too', async () => {
  const { verdict } = await mailFrom('x@evil.test', '10.1.1.1');
  assert.equal(verdict?.action, 'reject');
});

test('network-allowlisted session: the allow is copied to the transaction and mailFrom accepts', async () => {
  const { verdict, session, tx } = await mailFrom('anyone@elsewhere.test', '10.1.1.1');
  assert.equal(verdict?.action, 'accept');
  assert.deepEqual(session.results.get('access'), { allow: true, match: 'network:10.0.0.0/8' });
  assert.deepEqual(tx.results.get('access'), { allow: true, match: 'network:10.0.0.0/8' });
});

test('the null sender is never matched', async () => {
  const h = await accessHarness({ deny: { senders: ['.test', '@.test'] }, allow: { senders: ['@example.test'] } });
  assert.equal(await h.run('mailFrom', h.session(), h.transaction({ mailFrom: '<>' })), undefined);
});

test('a trailing dot in the sender domain is ignored', async () => {
  assert.equal((await mailFrom('a@evil.test.')).verdict?.action, 'reject');
});

test('works when the config left a list out (shallow merge)', async () => {
  const h = await accessHarness({ deny: { senders: ['@evil.test'] } });
  assert.equal((await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'a@evil.test' })))?.action, 'reject');
  assert.equal(await h.run('connect', h.session()), undefined);
});
