/**
 * The dkim plugin in the harness, against a real DNS (dnsmasq) holding the public keys, SPF and
 * DMARC records: signing (checked by mailauth), verification, DMARC policy, options.
 */
import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Stage } from '@postern/sdk';
import { cleanupList } from '../../../test/support/tmp.js';
import type { InboundResults, SignedResults } from '../src/index.js';
import { fromDomain } from '../src/index.js';
import { headerBlock } from '../src/headers.js';
import { dataDirWith, dkimKey, harness, letter, mailauthVerify, signWith, startWorld } from './helpers.js';
import type { World } from './helpers.js';

const cleanup = cleanupList();
let world: World;
before(async () => {
  world = await startWorld(cleanup);
});
after(() => cleanup.run());

/** The message as the core would spool it: added headers on top of tx.message. */
function spooled(tx: { addedHeaders: ReadonlyArray<readonly [string, string]>; message: Buffer | undefined }): Buffer {
  return Buffer.concat([Buffer.from(tx.addedHeaders.map(([n, v]) => `${n}: ${v}\r\n`).join('')), tx.message!]);
}

test('data taps: verify at Stage.REPUTATION, sign at Stage.SIGN', async (t) => {
  const h = await harness(world, {}, await dataDirWith(t, []));
  assert.deepEqual(h.taps('data').map((tap) => tap.stage), [Stage.REPUTATION, Stage.SIGN]);
});

test('an authenticated user\'s mail is signed (rsa-sha256, relaxed/relaxed) and mailauth verifies it', async (t) => {
  const dataDir = await dataDirWith(t, [{ domain: 'example.test', selector: 'postern', key: world.local.rsa }]);
  const h = await harness(world, {}, dataDir);
  const tx = h.transaction({ mailFrom: 'ann@example.test', recipients: ['bob@remote.test'], message: letter('Ann <ann@example.test>') });
  tx.addHeader('X-Earlier', 'added by an earlier tap, signed too');
  assert.equal(await h.run('data', h.session({ user: 'ann@example.test', listener: 'submission' }), tx), undefined);
  const [, signature] = tx.addedHeaders;
  assert.equal(signature?.[0], 'DKIM-Signature');
  assert.match(signature![1], /^v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.test;/);
  assert.match(signature![1], /\r\n [^\r\n]*s=postern/, 'folded with CRLF + space, no header name inside');
  assert.deepEqual(tx.results.get<SignedResults>('dkim'), { signed: [{ domain: 'example.test', selector: 'postern', algorithm: 'rsa-sha256' }] });
  assert.equal(tx.authResults.length, 0, 'outbound mail is not verified');
  assert.deepEqual(await mailauthVerify(world, spooled(tx)), [{ result: 'pass', domain: 'example.test', selector: 'postern', comment: undefined }]);

  // The same bytes with one body character changed do not verify.
  const tampered = Buffer.from(spooled(tx).toString('latin1').replace('the body.', 'the b0dy.'), 'latin1');
  const [bad] = await mailauthVerify(world, tampered);
  assert.notEqual(bad?.result, 'pass');
  assert.match(String(bad?.comment), /body hash/);
});

test('a trusted relay client is signed too; rsa and ed25519 selectors both sign (RFC 8463 dual signing)', async (t) => {
  const dataDir = await dataDirWith(t, [
    { domain: 'example.test', selector: 'postern', key: world.local.rsa },
    { domain: 'example.test', selector: 'ed', key: world.local.ed },
  ]);
  const h = await harness(world, { selectors: ['postern', 'ed', 'missing'] }, dataDir);
  const tx = h.transaction({ mailFrom: 'app@example.test', message: letter('"App, the" <app@EXAMPLE.test>') });
  await h.run('data', h.session({ trusted: true }), tx);
  assert.deepEqual(tx.addedHeaders.map(([n]) => n), ['DKIM-Signature', 'DKIM-Signature']);
  assert.match(tx.addedHeaders[1]![1], /a=ed25519-sha256/);
  const verdicts = await mailauthVerify(world, spooled(tx));
  assert.deepEqual(verdicts.map((v) => `${v.selector}:${v.result}`).sort(), ['ed:pass', 'postern:pass']);
});

test('not signed: inbound clients, a From domain without a key (logged at debug), domains with sign: false', async (t) => {
  const dataDir = await dataDirWith(t, [{ domain: 'example.test', selector: 'postern', key: world.local.rsa }]);
  const h = await harness(world, { verify: false }, dataDir);
  const inbound = h.transaction({ message: letter('ann@example.test') });
  await h.run('data', h.session(), inbound);
  assert.deepEqual(inbound.addedHeaders, []);

  const nokey = h.transaction({ message: letter('someone@nokey.test') });
  await h.run('data', h.session({ user: 'someone@nokey.test' }), nokey);
  assert.deepEqual(nokey.addedHeaders, []);
  assert.ok(h.log.some((e) => e.level === 'debug' && e.msg === 'dkim: not signed: no key for the domain' && (e.obj as { domain?: string }).domain === 'nokey.test'));

  const off = await harness(world, { verify: false, domains: { 'example.test': { sign: false } } }, dataDir);
  const tx = off.transaction({ message: letter('ann@example.test') });
  await off.run('data', off.session({ user: 'ann@example.test' }), tx);
  assert.deepEqual(tx.addedHeaders, []);
});

test("an authenticated user's mail is signed only for the user's own domain, unless signOwnDomainOnly is off", async (t) => {
  const dataDir = await dataDirWith(t, [{ domain: 'example.test', selector: 'postern', key: world.local.rsa }]);
  const h = await harness(world, { verify: false }, dataDir);
  const foreign = h.transaction({ message: letter('Boss <boss@example.test>') });
  await h.run('data', h.session({ user: 'mallory@other.test', listener: 'submission' }), foreign);
  assert.deepEqual(foreign.addedHeaders, [], "another customer's domain is not signed");
  assert.ok(h.log.some((e) => e.level === 'info' && e.msg === "dkim: not signed: the From domain is not the user's own"));

  const sub = h.transaction({ message: letter('news@example.test') });
  await h.run('data', h.session({ user: 'ann@Example.test', listener: 'submission' }), sub);
  assert.equal(sub.addedHeaders.length, 1, "the user's own domain is signed (case-insensitive)");

  const relay = h.transaction({ message: letter('boss@example.test') });
  await h.run('data', h.session({ trusted: true }), relay);
  assert.equal(relay.addedHeaders.length, 1, 'trusted networks are not limited');

  const any = await harness(world, { verify: false, signOwnDomainOnly: false }, dataDir);
  const tx = any.transaction({ message: letter('boss@example.test') });
  await any.run('data', any.session({ user: 'mallory@other.test' }), tx);
  assert.equal(tx.addedHeaders.length, 1, 'off: any domain with a key');
});

test('a broken key file is logged and the mail goes unsigned; a replaced key file is picked up', async (t) => {
  const dataDir = await dataDirWith(t, [{ domain: 'example.test', selector: 'postern', key: world.local.rsa }]);
  const file = join(dataDir, 'dkim', 'example.test', 'postern.key');
  const h = await harness(world, { verify: false }, dataDir);
  const session = h.session({ user: 'ann@example.test' });
  const first = h.transaction({ message: letter('ann@example.test') });
  await h.run('data', session, first);
  assert.equal(first.addedHeaders.length, 1);

  await writeFile(file, 'not a key');
  await utimes(file, new Date(), new Date(Date.now() + 5000));
  const broken = h.transaction({ message: letter('ann@example.test') });
  assert.equal(await h.run('data', session, broken), undefined);
  assert.deepEqual(broken.addedHeaders, []);
  assert.ok(h.log.some((e) => e.level === 'warn' && e.msg === 'dkim: cannot use the key; not signing with it'));

  const other = dkimKey('rsa', 1024);
  await writeFile(file, other.pem);
  await utimes(file, new Date(), new Date(Date.now() + 10_000));
  const rotated = h.transaction({ message: letter('ann@example.test') });
  await h.run('data', session, rotated);
  const [verdict] = await mailauthVerify(world, spooled(rotated));
  assert.equal(verdict?.result, 'fail', 'signed with the new key, which DNS does not publish');
});

test('inbound: a valid signature gives dkim=pass with header.d/s/i/b; DMARC none; SPF reused from spf-ptr', async () => {
  const h = await harness(world);
  const message = await signWith(letter('Rita <rita@remote.test>', 'Hi\n', 'ann@example.test').replace(/\n/g, '\r\n'), 'remote.test', 'sel', world.remote);
  const tx = h.transaction({ mailFrom: 'rita@remote.test', message });
  tx.results.set('spf', { result: 'pass', domain: 'remote.test', action: 'accept' });
  assert.equal(await h.run('data', h.session(), tx), undefined);
  const results = tx.results.get<InboundResults>('dkim')!;
  assert.equal(results.signatures.length, 1);
  assert.deepEqual({ ...results.signatures[0], b: undefined }, {
    result: 'pass', domain: 'remote.test', selector: 'sel', identity: '@remote.test', b: undefined, algorithm: 'rsa-sha256', aligned: true,
  });
  assert.deepEqual(results.spf, { result: 'pass', domain: 'remote.test', source: 'spf-ptr' });
  assert.equal(results.dmarc?.result, 'none');
  const dkim = tx.authResults.find((r) => r.method === 'dkim');
  assert.equal(dkim?.result, 'pass');
  assert.equal(dkim?.props?.['header.d'], 'remote.test');
  assert.equal(dkim?.props?.['header.s'], 'sel');
  assert.equal(dkim?.props?.['header.i'], '@remote.test');
  assert.equal(dkim?.props?.['header.b']?.length, 8);
  assert.ok(message.toString().includes(`b=${dkim?.props?.['header.b']}`));
  assert.equal(tx.authResults.some((r) => r.method === 'spf'), false, 'spf-ptr\'s result is not recorded twice');
  assert.deepEqual(tx.authResults.find((r) => r.method === 'dmarc')?.props, { 'header.from': 'remote.test' });
});

test('inbound: a tampered body fails; an unsigned message records dkim=none', async () => {
  const h = await harness(world);
  const signed = await signWith(letter('rita@remote.test', 'Pay 10 EUR\n').replace(/\n/g, '\r\n'), 'remote.test', 'sel', world.remote);
  const tx = h.transaction({ mailFrom: 'rita@remote.test', message: Buffer.from(signed.toString().replace('10 EUR', '99 EUR')) });
  await h.run('data', h.session(), tx);
  const sig = tx.results.get<InboundResults>('dkim')!.signatures[0];
  assert.notEqual(sig?.result, 'pass');
  assert.notEqual(tx.authResults.find((r) => r.method === 'dkim')?.result, 'pass');

  const plain = h.transaction({ mailFrom: 'rita@remote.test', message: letter('rita@remote.test') });
  await h.run('data', h.session(), plain);
  assert.deepEqual(tx.results.get<InboundResults>('dkim')?.signatures.length, 1);
  assert.deepEqual(plain.authResults.find((r) => r.method === 'dkim'), { method: 'dkim', result: 'none', reason: 'message not signed' });
});

test('DMARC p=reject without alignment: 550 5.7.1; with SPF aligned: accepted', async () => {
  const h = await harness(world);
  const tx = h.transaction({ mailFrom: 'x@elsewhere.test', message: letter('boss@reject.test') });
  const verdict = await h.run('data', h.session(), tx);
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.code, 550);
  assert.equal(verdict?.enhanced, '5.7.1');
  assert.match(verdict?.message ?? '', /reject\.test .*DMARC/);
  const dmarc = tx.results.get<InboundResults>('dkim')?.dmarc;
  assert.deepEqual([dmarc?.result, dmarc?.policy, dmarc?.action], ['fail', 'reject', 'reject']);
  assert.deepEqual(tx.authResults.find((r) => r.method === 'dmarc')?.props, { 'header.from': 'reject.test', 'policy.dmarc': 'reject' });
  // The plugin checked SPF itself (no spf-ptr result): elsewhere.test has no record.
  assert.deepEqual(tx.authResults.find((r) => r.method === 'spf'), { method: 'spf', result: 'none', props: { 'smtp.mailfrom': 'x@elsewhere.test' } });

  const aligned = h.transaction({ mailFrom: 'boss@reject.test', message: letter('boss@reject.test') });
  const ok = await h.run('data', h.session({ remoteAddress: '192.0.2.99' }), aligned);
  assert.equal(ok, undefined);
  assert.equal(aligned.results.get<InboundResults>('dkim')?.spf?.result, 'pass');
  assert.equal(aligned.results.get<InboundResults>('dkim')?.dmarc?.result, 'pass');
});

test('DMARC actions: rejectAction quarantine, p=quarantine to the folder, pct=0 softens, enforce false, allowlisted', async () => {
  const quarantining = await harness(world, { dmarc: { rejectAction: 'quarantine', quarantineFolder: 'Spam' } });
  const q = await quarantining.run('data', quarantining.session(), quarantining.transaction({ mailFrom: 'x@elsewhere.test', message: letter('boss@reject.test') }));
  assert.deepEqual([q?.action, q?.folder], ['quarantine', 'Spam']);

  const h = await harness(world);
  const pq = await h.run('data', h.session(), h.transaction({ mailFrom: 'x@elsewhere.test', message: letter('a@quarantine.test') }));
  assert.deepEqual([pq?.action, pq?.folder], ['quarantine', 'Junk']);
  const sampled = await h.run('data', h.session(), h.transaction({ mailFrom: 'x@elsewhere.test', message: letter('a@sampled.test') }));
  assert.equal(sampled?.action, 'quarantine', 'pct=0: outside the sample, p=reject becomes quarantine (RFC 7489 6.6.4)');

  const recordOnly = await harness(world, { dmarc: { enforce: false } });
  const tx = recordOnly.transaction({ mailFrom: 'x@elsewhere.test', message: letter('boss@reject.test') });
  assert.equal(await recordOnly.run('data', recordOnly.session(), tx), undefined);
  assert.equal(tx.results.get<InboundResults>('dkim')?.dmarc?.action, 'reject');

  const session = h.session();
  session.results.set('access', { allow: true });
  assert.equal(await h.run('data', session, h.transaction({ mailFrom: 'x@elsewhere.test', message: letter('boss@reject.test') })), undefined);
});

test('authenticated and trusted senders are not verified', async () => {
  const h = await harness(world, { sign: false });
  for (const session of [h.session({ user: 'ann@example.test' }), h.session({ trusted: true })]) {
    const tx = h.transaction({ mailFrom: 'x@elsewhere.test', message: letter('boss@reject.test') });
    assert.equal(await h.run('data', session, tx), undefined);
    assert.equal(tx.results.has('dkim'), false);
    assert.deepEqual(tx.authResults, []);
  }
});

test('fromDomain reads the one From address', () => {
  const block = (from: string) => `Subject: x\r\nFrom: ${from}\r\n\r\n`;
  assert.equal(fromDomain(block('Ann <ann@Example.TEST>')), 'example.test');
  assert.equal(fromDomain(block('"a@fake.test" <ann@example.test> (a@comment.test)')), 'example.test');
  assert.equal(fromDomain(block('ann@example.test')), 'example.test');
  assert.equal(fromDomain('From: Ann\r\n <ann@folded.test>\r\n\r\n'), 'folded.test');
  assert.equal(fromDomain(headerBlock(Buffer.from(block('jörg@bücher.test')))), 'xn--bcher-kva.test');
  assert.equal(fromDomain(block('undisclosed')), undefined);
  assert.equal(fromDomain('From: a@one.test\r\nFrom: b@two.test\r\n\r\n'), undefined);
});

test('options are validated', async () => {
  await assert.rejects(
    harness(world, { selectors: ['bad/one'], keyDir: 5, dmarc: { rejectAction: 'drop', bogus: 1 }, headerList: ['Subject'], domains: { 'Bad..Domain': {} }, lookupTimeoutMs: 0, expireSec: -1 } as never),
    (err: { errors: string[] }) => {
      for (const key of ['selectors[0]', 'keyDir', 'dmarc.rejectAction', 'dmarc.bogus', 'headerList', 'domains.Bad..Domain', 'lookupTimeoutMs', 'expireSec']) {
        assert.ok(err.errors.some((e) => e.startsWith(`${key}:`)), `${key} in ${err.errors.join('; ')}`);
      }
      return true;
    },
  );
});
