import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stage } from '@postern/sdk';
import { lookupByType } from '@postern/sdk/net';
import { createHarness } from '@postern/sdk/testing';
import plugin from '../src/index.js';
import { ARPA, CLIENT, WORLD, spfHarness } from './helpers.js';
import type { SpfResult } from '../src/index.js';

async function check(mailFrom: string, options = {}, session = {}) {
  const h = await spfHarness(options);
  const tx = h.transaction({ mailFrom });
  const verdict = await h.run('mailFrom', h.session({ helo: 'helo.good.test', ...session }), tx);
  return { h, tx, verdict, spf: tx.results.get<SpfResult>('spf') };
}

test('mailFrom tap at Stage.REPUTATION', async () => {
  const h = await spfHarness();
  assert.deepEqual(h.taps('mailFrom').map((t) => t.stage), [Stage.REPUTATION]);
});

test('pass: accepted, { result: "pass", domain } recorded with an Authentication-Results entry', async () => {
  const { verdict, spf, h } = await check('a@good.test');
  assert.equal(verdict, undefined);
  assert.equal(spf?.result, 'pass');
  assert.equal(spf?.domain, 'good.test');
  assert.equal(spf?.action, 'accept');
  assert.match(spf?.authResults ?? '', /^spf=pass .*smtp\.mailfrom=a@good\.test/);
  assert.ok(h.queries.includes('TXT good.test'));
  assert.ok(!h.queries.some((q) => q.startsWith('PTR')), 'ptr is off by default');
});

test('fail: 550 5.7.23 with the exp= explanation', async () => {
  const { verdict, spf } = await check('a@bad.test');
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.code, 550);
  assert.equal(verdict?.enhanced, '5.7.23');
  assert.equal(verdict?.message, 'SPF check failed: bad.test mail only comes from its own servers');
  assert.equal(spf?.result, 'fail');
  assert.equal(spf?.explanation, 'bad.test mail only comes from its own servers');
});

test('fail without exp=: the explanation is mailauth\'s comment', async () => {
  const h = await spfHarness({}, { ...WORLD, 'bad.test': { txt: ['v=spf1 -all'] } });
  const tx = h.transaction({ mailFrom: 'a@bad.test' });
  const verdict = await h.run('mailFrom', h.session(), tx);
  assert.equal(verdict?.code, 550);
  assert.match(verdict?.message ?? '', /does not designate 192\.0\.2\.10 as permitted sender/);
});

test('softfail: tagged (accepted, recorded); neutral and none accepted', async () => {
  const soft = await check('a@soft.test');
  assert.equal(soft.verdict, undefined);
  assert.deepEqual([soft.spf?.result, soft.spf?.action], ['softfail', 'tag']);
  assert.match(soft.spf?.authResults ?? '', /^spf=softfail/);
  const neutral = await check('a@neutral.test');
  assert.deepEqual([neutral.verdict, neutral.spf?.result], [undefined, 'neutral']);
  const none = await check('a@nospf.test');
  assert.deepEqual([none.verdict, none.spf?.result], [undefined, 'none']);
  const nx = await check('a@nowhere.test');
  assert.deepEqual([nx.verdict, nx.spf?.result], [undefined, 'none']);
});

test('temperror (SERVFAIL): 451 4.7.24; permerror accepted by default', async () => {
  const temp = await check('a@broken.test');
  assert.equal(temp.verdict?.action, 'tempfail');
  assert.equal(temp.verdict?.code, 451);
  assert.equal(temp.verdict?.enhanced, '4.7.24');
  assert.equal(temp.spf?.result, 'temperror');
  const perm = await check('a@perm.test');
  assert.deepEqual([perm.verdict, perm.spf?.result], [undefined, 'permerror']);
});

test('a DNS timeout is a temperror (451), AAAA included', async () => {
  const never = () => new Promise<never>(() => {});
  const dns = { resolve4: never, resolve6: never, resolveTxt: never, resolveMx: never, resolvePtr: never };
  const h = await createHarness(plugin, { options: { lookupTimeoutMs: 30 }, dns });
  const tx = h.transaction({ mailFrom: 'a@slow.test' });
  assert.equal((await h.run('mailFrom', h.session(), tx))?.code, 451);
  assert.equal(tx.results.get<SpfResult>('spf')?.result, 'temperror');
  const resolver = lookupByType(dns, 30);
  await assert.rejects(resolver('slow.test', 'TXT'), { code: 'ETIMEOUT' });
  await assert.rejects(resolver('slow.test', 'AAAA'), { code: 'ETIMEOUT' });
  await assert.rejects(resolver('slow.test', 'SRV'), { code: 'ENODATA' });
});

test('actions are configurable and merged over the defaults', async () => {
  const { verdict, spf } = await check('a@soft.test', { actions: { softfail: 'reject' } });
  assert.equal(verdict?.code, 550);
  assert.equal(spf?.action, 'reject');
  const failTag = await check('a@bad.test', { actions: { fail: 'tag' } });
  assert.equal(failTag.verdict, undefined);
  const temp = await check('a@broken.test', { actions: { fail: 'tag' } });
  assert.equal(temp.verdict?.code, 451, 'temperror keeps its default');
});

test('null sender: the HELO identity is checked', async () => {
  const { verdict, spf, h } = await check('<>');
  assert.equal(verdict, undefined);
  assert.deepEqual([spf?.result, spf?.domain], ['pass', 'helo.good.test']);
  assert.ok(h.queries.includes('TXT helo.good.test'));
  const failing = await check('<>', {}, { helo: 'bad.test' });
  assert.equal(failing.verdict?.code, 550);
  const noHelo = await check('', {}, { helo: undefined });
  assert.deepEqual([noHelo.verdict, noHelo.spf?.result], [undefined, 'none']);
  const literal = await check('', {}, { helo: '[192.0.2.10]' });
  assert.deepEqual([literal.verdict, literal.spf?.result], [undefined, 'none']);
});

test('PTR reject: a sender under the confirmed PTR name is accepted', async () => {
  const { verdict, tx, h } = await check('a@good.test', { ptr: 'reject' });
  assert.equal(verdict, undefined);
  assert.deepEqual(tx.results.get('ptr'), { ptr: 'mail.good.test', confirmed: true, matches: true });
  assert.ok(h.queries.includes(`PTR ${ARPA}`));
  assert.ok(h.queries.includes('A mail.good.test'));
});

test('PTR reject: a sender of another domain gets 550 5.7.25', async () => {
  const records = { ...WORLD, 'other.test': { txt: [`v=spf1 ip4:${CLIENT} -all`] } };
  const h = await spfHarness({ ptr: 'reject' }, records);
  const tx = h.transaction({ mailFrom: 'a@other.test' });
  const verdict = await h.run('mailFrom', h.session(), tx);
  assert.equal(verdict?.code, 550);
  assert.equal(verdict?.enhanced, '5.7.25');
  assert.equal(verdict?.message, "Sender domain does not match the client's reverse DNS");
  assert.deepEqual(tx.results.get('ptr'), { ptr: 'mail.good.test', confirmed: true, matches: false });
  assert.equal(tx.results.get<SpfResult>('spf')?.result, 'pass');
});

test('PTR not forward-confirmed (or absent): no match; header-only only records', async () => {
  const unconfirmed = { ...WORLD, 'mail.good.test': { a: ['198.51.100.7'] } };
  const h = await spfHarness({ ptr: 'reject' }, unconfirmed);
  const tx = h.transaction({ mailFrom: 'a@good.test' });
  assert.equal((await h.run('mailFrom', h.session(), tx))?.enhanced, '5.7.25');
  assert.deepEqual(tx.results.get('ptr'), { ptr: 'mail.good.test', confirmed: false, matches: false });

  const noPtr = { ...WORLD, [ARPA]: {} };
  const h2 = await spfHarness({ ptr: 'header-only' }, noPtr);
  const tx2 = h2.transaction({ mailFrom: 'a@good.test' });
  assert.equal(await h2.run('mailFrom', h2.session(), tx2), undefined);
  assert.deepEqual(tx2.results.get('ptr'), { ptr: null, confirmed: false, matches: false });

  const h3 = await spfHarness({ ptr: 'header-only' });
  const tx3 = h3.transaction({ mailFrom: 'a@soft.test' });
  assert.equal(await h3.run('mailFrom', h3.session(), tx3), undefined);
  assert.deepEqual(tx3.results.get('ptr'), { ptr: 'mail.good.test', confirmed: true, matches: false });
});

test('PTR lookup SERVFAIL with ptr reject: 451 4.7.25, not a 550', async () => {
  const h = await spfHarness({ ptr: 'reject' }, { ...WORLD, [ARPA]: { error: 'ESERVFAIL' } });
  const tx = h.transaction({ mailFrom: 'a@good.test' });
  const verdict = await h.run('mailFrom', h.session(), tx);
  assert.deepEqual([verdict?.code, verdict?.enhanced], [451, '4.7.25']);
});

test('skipped: authenticated, trusted, access-allowlisted (session or transaction)', async () => {
  const h = await spfHarness({ ptr: 'reject' });
  for (const session of [h.session({ user: 'ann@example.test' }), h.session({ trusted: true })]) {
    const tx = h.transaction({ mailFrom: 'a@bad.test' });
    assert.equal(await h.run('mailFrom', session, tx), undefined);
    assert.equal(tx.results.has('spf'), false);
  }
  const allowed = h.session();
  allowed.results.set('access', { allow: true });
  assert.equal(await h.run('mailFrom', allowed, h.transaction({ mailFrom: 'a@bad.test' })), undefined);
  const tx = h.transaction({ mailFrom: 'a@bad.test' });
  tx.results.set('access', { allow: true });
  assert.equal(await h.run('mailFrom', h.session(), tx), undefined);
  assert.deepEqual(h.queries, []);
});

test('options are validated', async () => {
  await assert.rejects(spfHarness({ ptr: 'maybe', actions: { fail: 'drop', bogus: 'accept' }, lookupTimeoutMs: 0 } as never), (err: { errors: string[] }) => {
    for (const key of ['ptr', 'actions.fail', 'actions.bogus', 'lookupTimeoutMs']) assert.ok(err.errors.some((e) => e.startsWith(`${key}:`)), key);
    return true;
  });
});
