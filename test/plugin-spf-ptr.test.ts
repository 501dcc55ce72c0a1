/**
 * The spf-ptr plugin against a real DNS (dnsmasq): first through the SDK harness (IPv6 clients,
 * which cannot connect over loopback here; every Authentication-Results outcome), then end to end,
 * a real Postern asked by its client 127.0.0.1 = mail.good.test (forward-confirmed), with SPF for
 * good.test (pass), bad.test (-all) and other.test (pass, but not the client's reverse DNS).
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { before, after, test } from 'node:test';
import { formatAuthResult, formatAuthenticationResults } from '@postern/sdk';
import { createHarness } from '@postern/sdk/testing';
import plugin from '../plugins/spf-ptr/src/index.js';
import type { SpfPtrOptions, SpfResult } from '../plugins/spf-ptr/src/index.js';
import { ANN, cleanupList, createEnv, makeMessage, startDns, waitFor, WORLD } from './support/index.js';
import type { DnsRecords, DnsServer } from './support/index.js';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readManifest, validatePluginOptions } from '../core/src/plugin-host/manifest.js';

const V6 = '2001:db8::1';

const RECORDS: DnsRecords = {
  txt: [
    { name: 'good.test', text: 'v=spf1 ip4:127.0.0.1 a:mail6.good.test -all' },
    { name: 'bad.test', text: 'v=spf1 ip4:192.0.2.1 exp=why.bad.test -all' },
    { name: 'why.bad.test', text: 'bad.test mail only comes from its own servers' },
    { name: 'other.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
    // The null sender's identity is the HELO name (RFC 7208 section 2.3).
    { name: 'mail.good.test', text: 'v=spf1 a -all' },
    { name: 'helo.good.test', text: 'v=spf1 a:mail.good.test -all' },
    // IPv6: `a` and `mx` need AAAA (mailauth asks A and AAAA; the plugin maps AAAA to resolve6).
    { name: 'six.test', text: 'v=spf1 a:mail6.good.test -all' },
    { name: 'mxsix.test', text: 'v=spf1 mx -all' },
  ],
  mx: [{ domain: 'mxsix.test', host: 'mail6.good.test', preference: 10 }],
  // RECIPES' trap: the plugin asks resolvePtr('1.0.0.127.in-addr.arpa'), never /etc/hosts.
  ptr: [
    { name: '1.0.0.127.in-addr.arpa', target: 'mail.good.test' },
    { name: '2.0.0.127.in-addr.arpa', target: 'liar.good.test' },
    // 2001:db8::5 claims the name of 2001:db8::1: not forward-confirmed.
    { name: '5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', target: 'mail6.good.test' },
  ],
  a: [
    { name: 'mail.good.test', address: '127.0.0.1' },
    { name: 'helo.good.test', address: '127.0.0.1' },
    { name: 'liar.good.test', address: '127.0.0.9' },
  ],
  // A host-record: AAAA mail6.good.test and the PTR of 2001:db8::1.
  aaaa: [{ name: 'mail6.good.test', address: V6 }],
};

const cleanup = cleanupList();
let dns: DnsServer;
before(async () => {
  dns = await startDns(cleanup, RECORDS);
});
after(() => cleanup.run());

async function harness(options: Partial<SpfPtrOptions> = {}) {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([dns.server]);
  return createHarness(plugin, { options, dns: resolver, hostname: 'mx.postern.test' });
}

/** MAIL FROM then DATA through the harness; the verdicts, the transaction and what it recorded. */
async function transaction(options: Partial<SpfPtrOptions>, mailFrom: string, session: { remoteAddress: string; helo?: string }) {
  const h = await harness(options);
  const s = h.session(session);
  const tx = h.transaction({ mailFrom, message: makeMessage().text });
  const atMail = await h.run('mailFrom', s, tx);
  const atData = atMail === undefined ? await h.run('data', s, tx) : undefined;
  return { atMail, atData, tx, spf: tx.results.get<SpfResult>('spf'), header: formatAuthenticationResults('mx.postern.test', tx.authResults) };
}

test('harness, IPv4: spf=pass smtp.mailfrom and iprev=pass policy.iprev; Received-SPF added at DATA', async () => {
  const { atMail, atData, tx, header } = await transaction({ ptr: 'header-only' }, 'a@good.test', { remoteAddress: '127.0.0.1', helo: 'mail.good.test' });
  assert.equal(atMail, undefined);
  assert.equal(atData, undefined);
  assert.deepEqual(tx.authResults, [
    { method: 'spf', result: 'pass', props: { 'smtp.mailfrom': 'a@good.test' } },
    { method: 'iprev', result: 'pass', props: { 'policy.iprev': '127.0.0.1' } },
  ]);
  assert.equal(header, 'mx.postern.test;\r\n\tspf=pass smtp.mailfrom=a@good.test;\r\n\tiprev=pass policy.iprev=127.0.0.1');
  assert.deepEqual(tx.addedHeaders, [
    [
      'Received-SPF',
      'pass (mx.postern.test: domain of a@good.test designates 127.0.0.1 as permitted sender) client-ip=127.0.0.1; envelope-from=a@good.test; helo=mail.good.test; receiver=mx.postern.test; identity=mailfrom;',
    ],
  ]);
});

test('harness: iprev fail (PTR not confirmed), permerror (no PTR), temperror (PTR lookup refused)', async () => {
  const fail = await transaction({ ptr: 'header-only', actions: { fail: 'tag' } }, 'a@good.test', { remoteAddress: '127.0.0.2' });
  assert.deepEqual(fail.tx.results.get('ptr'), { ptr: 'liar.good.test', confirmed: false, matches: false });
  assert.deepEqual(fail.tx.authResults[1], { method: 'iprev', result: 'fail', reason: 'liar.good.test does not resolve to 127.0.0.2', props: { 'policy.iprev': '127.0.0.2' } });
  assert.equal(fail.tx.authResults[0]?.result, 'fail', 'SPF of good.test does not allow 127.0.0.2');

  const none = await transaction({ ptr: 'header-only', actions: { fail: 'tag' } }, 'a@good.test', { remoteAddress: '127.0.0.3' });
  assert.equal(formatAuthResult(none.tx.authResults[1]!), 'iprev=permerror reason="no PTR record" policy.iprev=127.0.0.3');

  // dnsmasq refuses ip6.arpa names outside 2001:db8::/32: a DNS error, not an answer.
  const refused = await transaction({ ptr: 'header-only' }, 'a@nospf.test', { remoteAddress: '2001:db9::1' });
  assert.deepEqual(refused.tx.authResults[1], { method: 'iprev', result: 'temperror', reason: 'EREFUSED', props: { 'policy.iprev': '2001:db9::1' } });
  assert.equal(refused.spf?.result, 'none');

  const off = await transaction({}, 'a@good.test', { remoteAddress: '127.0.0.1' });
  assert.deepEqual(off.tx.authResults.map((r) => r.method), ['spf'], 'no iprev entry when ptr is off');
});

test('harness: SPF fail tagged carries the exp= text as reason; receivedSpf: false adds no header', async () => {
  const { atMail, tx } = await transaction({ actions: { fail: 'tag' }, receivedSpf: false }, 'a@bad.test', { remoteAddress: '127.0.0.1' });
  assert.equal(atMail, undefined);
  assert.equal(formatAuthResult(tx.authResults[0]!), 'spf=fail reason="bad.test mail only comes from its own servers" smtp.mailfrom=a@bad.test');
  assert.deepEqual(tx.addedHeaders, []);
  const h = await harness({ receivedSpf: false });
  assert.deepEqual(h.taps('data'), [], 'no data tap at all');

  const refused = await transaction({}, 'a@bad.test', { remoteAddress: '127.0.0.1' });
  assert.equal(refused.atMail?.code, 550);
  assert.equal(refused.atMail?.enhanced, '5.7.23');
});

test('harness: the null sender is checked by its HELO name: spf smtp.helo, Received-SPF identity=helo', async () => {
  const { atMail, tx, spf } = await transaction({}, '', { remoteAddress: '127.0.0.1', helo: 'helo.good.test' });
  assert.equal(atMail, undefined);
  assert.deepEqual([spf?.result, spf?.domain], ['pass', 'helo.good.test']);
  assert.deepEqual(tx.authResults, [{ method: 'spf', result: 'pass', props: { 'smtp.helo': 'helo.good.test' } }]);
  const [[name, value] = []] = tx.addedHeaders;
  assert.equal(name, 'Received-SPF');
  assert.match(value ?? '', /^pass \(mx\.postern\.test: domain of postmaster@helo\.good\.test designates 127\.0\.0\.1 as permitted sender\) client-ip=127\.0\.0\.1; helo=helo\.good\.test; receiver=mx\.postern\.test; identity=helo;$/);

  const failing = await transaction({}, '', { remoteAddress: '127.0.0.2', helo: 'helo.good.test' });
  assert.equal(failing.atMail?.code, 550, 'HELO SPF fail refuses the null sender');
  const literal = await transaction({}, '', { remoteAddress: '127.0.0.1', helo: '[127.0.0.1]' });
  assert.deepEqual(literal.tx.authResults, [{ method: 'spf', result: 'none', props: { 'smtp.helo': '[127.0.0.1]' } }]);
  assert.equal(formatAuthResult(literal.tx.authResults[0]!), 'spf=none smtp.helo="[127.0.0.1]"');
  assert.deepEqual(literal.tx.addedHeaders, [], 'nothing checked, no Received-SPF');
});

test('harness, IPv6: SPF a/mx match by AAAA; FCrDNS confirmed with AAAA; iprev for the IPv6 address', async () => {
  const six = await transaction({ ptr: 'reject' }, 'a@good.test', { remoteAddress: V6, helo: 'mail6.good.test' });
  assert.equal(six.atMail, undefined);
  assert.equal(six.spf?.result, 'pass');
  assert.deepEqual(six.tx.results.get('ptr'), { ptr: 'mail6.good.test', confirmed: true, matches: true });
  assert.deepEqual(six.tx.authResults, [
    { method: 'spf', result: 'pass', props: { 'smtp.mailfrom': 'a@good.test' } },
    { method: 'iprev', result: 'pass', props: { 'policy.iprev': V6 } },
  ]);
  assert.match(six.tx.addedHeaders[0]?.[1] ?? '', /^pass .* client-ip=2001:db8::1; envelope-from=a@good\.test;/);

  // Another spelling of the same address is the same client.
  const spelled = await transaction({ ptr: 'reject' }, 'a@six.test', { remoteAddress: '2001:DB8:0:0::1' });
  assert.equal(spelled.spf?.result, 'pass');
  assert.deepEqual(spelled.tx.results.get('ptr'), { ptr: 'mail6.good.test', confirmed: true, matches: false });
  assert.equal(spelled.atMail?.enhanced, '5.7.25', 'six.test is not the PTR name');

  const mx = await transaction({}, 'a@mxsix.test', { remoteAddress: V6 });
  assert.equal(mx.spf?.result, 'pass', 'mx mechanism through AAAA');

  // 2001:db8::5: SPF does not list it, its PTR name does not point back to it.
  const other = await transaction({ ptr: 'header-only', actions: { fail: 'tag' } }, 'a@six.test', { remoteAddress: '2001:db8::5' });
  assert.equal(other.spf?.result, 'fail');
  assert.deepEqual(other.tx.results.get('ptr'), { ptr: 'mail6.good.test', confirmed: false, matches: false });
  assert.equal(other.tx.authResults[1]?.result, 'fail');
  // 2001:db8::2 has no PTR (NXDOMAIN in the local 2001:db8::/32 reverse zone).
  const noPtr = await transaction({ ptr: 'header-only', actions: { fail: 'tag' } }, 'a@six.test', { remoteAddress: '2001:db8::2' });
  assert.deepEqual(noPtr.tx.results.get('ptr'), { ptr: null, confirmed: false, matches: false });
  assert.equal(noPtr.tx.authResults[1]?.result, 'permerror');
});

// ---- end to end

async function posternWith(t: TestContext) {
  return createEnv(t, {
    ...WORLD,
    plugins: { 'spf-ptr': { enabled: true, ptr: 'reject' } },
    extra: { dns: { servers: [dns.server], timeoutMs: 1000 } },
  });
}

/** The header block of a delivered file, unfolded, as [name, value] pairs. */
function headersOf(data: Buffer): Array<[string, string]> {
  const text = data.toString('latin1');
  const block = text.slice(0, text.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  return block.split('\r\n').map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
}

test('end to end: pass delivered with Authentication-Results and Received-SPF; SPF fail 550 5.7.23; PTR mismatch 550 5.7.25; a forged Authentication-Results removed', async (t) => {
  const env = await posternWith(t);

  const client = await env.connect('mx');
  await client.ehlo('mail.good.test');
  const message = makeMessage({ subject: 'spf pass' });
  // A forged verdict under our own authserv-id, and a foreign one that is not ours to remove.
  const forged = `Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=forged@bad.test\r\nAuthentication-Results: elsewhere.test; spf=fail smtp.mailfrom=a@good.test\r\n${message.text}`;
  const sent = await client.send('a@good.test', [ANN], forged);
  assert.equal(sent.final.code, 250, sent.final.raw);

  const bad = await client.cmd('MAIL FROM:<a@bad.test>');
  assert.equal(bad.code, 550, bad.raw);
  assert.match(bad.raw, /5\.7\.23/);
  assert.match(bad.raw, /bad\.test mail only comes from its own servers/);

  const other = await client.cmd('MAIL FROM:<a@other.test>');
  assert.equal(other.code, 550, other.raw);
  assert.match(other.raw, /5\.7\.25/);
  assert.match(other.raw, /reverse DNS/);
  await client.quit();

  const [file] = await waitFor(async () => {
    const files = await env.mailbox(ANN);
    return files.length > 0 ? files : undefined;
  }, 'the delivered message');
  assert.equal((await env.mailbox(ANN)).length, 1);
  const headers = headersOf(file!.data);
  const ar = headers.filter(([name]) => name.toLowerCase() === 'authentication-results').map(([, v]) => v);
  const ours = ar.filter((v) => v.startsWith('mx.example.test;'));
  assert.deepEqual(ours, ['mx.example.test; spf=pass smtp.mailfrom=a@good.test; iprev=pass policy.iprev=127.0.0.1'], JSON.stringify(ar));
  assert.ok(!ar.some((v) => v.includes('forged@bad.test')), `the forged header survived: ${JSON.stringify(ar)}`);
  assert.ok(ar.includes('elsewhere.test; spf=fail smtp.mailfrom=a@good.test'), 'another server\'s header is kept');
  const spf = headers.filter(([name]) => name === 'Received-SPF').map(([, v]) => v);
  assert.equal(spf.length, 1);
  assert.match(spf[0]!, /^pass \(mx\.example\.test: domain of a@good\.test designates 127\.0\.0\.1 as permitted sender\) client-ip=127\.0\.0\.1; envelope-from=a@good\.test; helo=mail\.good\.test; receiver=mx\.example\.test; identity=mailfrom;$/);
  // Our findings sit above the message the client sent.
  const firstOfClient = headers.findIndex(([, v]) => v.startsWith('elsewhere.test;'));
  assert.ok(headers.findIndex(([name]) => name === 'Received-SPF') < firstOfClient);
});

test('end to end: a bounce (MAIL FROM:<>) is checked by its HELO name and delivered with spf=pass smtp.helo', async (t) => {
  const env = await posternWith(t);
  const client = await env.connect('mx');
  await client.ehlo('mail.good.test');
  const sent = await client.send('', [ANN], makeMessage({ subject: 'bounce' }).text);
  assert.equal(sent.final.code, 250, sent.final.raw);
  await client.quit();

  const [file] = await waitFor(async () => {
    const files = await env.mailbox(ANN);
    return files.length > 0 ? files : undefined;
  }, 'the delivered bounce');
  const headers = headersOf(file!.data);
  const ar = headers.filter(([name]) => name.toLowerCase() === 'authentication-results').map(([, v]) => v);
  assert.deepEqual(ar, ['mx.example.test; spf=pass smtp.helo=mail.good.test; iprev=pass policy.iprev=127.0.0.1']);
  const spf = headers.find(([name]) => name === 'Received-SPF')?.[1] ?? '';
  assert.match(spf, /^pass \(mx\.example\.test: domain of postmaster@mail\.good\.test designates 127\.0\.0\.1 as permitted sender\) client-ip=127\.0\.0\.1; helo=mail\.good\.test; receiver=mx\.example\.test; identity=helo;$/);
});

test('the manifest validates, and its schema\'s defaults are the plugin\'s defaults', async () => {
  const manifest = await readManifest(fileURLToPath(new URL('../plugins/spf-ptr', import.meta.url)));
  assert.equal(manifest.name, plugin.name);
  const { options, errors } = validatePluginOptions(manifest, { enabled: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(options, plugin.defaults);
  assert.deepEqual(plugin.validate?.(options as never), []);
});
