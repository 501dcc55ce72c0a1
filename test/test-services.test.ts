/**
 * The test services for outbound delivery, each started and used once: dnsmasq (MX, A, AAAA,
 * TXT, PTR, null MX), smtp-sink (a message in, parsed back; a refusal mode), the scriptable
 * smtp-peer (per-recipient replies, STARTTLS, AUTH, a DATA-end refusal) and a private Postfix that
 * relays to an smtp-sink.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  freePort,
  sendWithNodemailer,
  smtplibSend,
  startDns,
  startPrivatePostfix,
  startSmtpPeer,
  startSmtpSink,
  stepOf,
  tempDir,
} from './support/index.js';

const MESSAGE = 'From: a@src.test\r\nTo: b@remote.test\r\nSubject: test services\r\n\r\nline one\r\n.a line that starts with a dot\r\n\r\nend\r\n';

test('dnsmasq answers MX, A, AAAA, TXT, PTR and a null MX', async (t) => {
  const dns = await startDns(t, {
    mx: [
      { domain: 'remote.test', host: 'mx2.remote.test', preference: 20 },
      { domain: 'remote.test', host: 'mx1.remote.test', preference: 10 },
    ],
    a: [
      { name: 'mx1.remote.test', address: '127.0.0.1' },
      { name: 'mx2.remote.test', address: '127.0.0.2' },
      { name: 'mx2.remote.test', address: '127.0.0.3' },
    ],
    aaaa: [{ name: 'mx1.remote.test', address: '::1' }],
    txt: [{ name: 'remote.test', text: 'v=spf1 ip4:127.0.0.1 -all' }],
    ptr: [{ name: '1.0.0.127.in-addr.arpa', target: 'mx1.remote.test' }],
    nullMx: ['nomail.test'],
  });
  assert.equal(dns.server, `127.0.0.1:${dns.port}`);
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([dns.server]);

  const mx = await resolver.resolveMx('remote.test');
  assert.deepEqual(
    mx.sort((a, b) => a.priority - b.priority),
    [
      { exchange: 'mx1.remote.test', priority: 10 },
      { exchange: 'mx2.remote.test', priority: 20 },
    ],
  );
  assert.deepEqual((await resolver.resolve4('mx2.remote.test')).sort(), ['127.0.0.2', '127.0.0.3']);
  assert.deepEqual(await resolver.resolve6('mx1.remote.test'), ['::1']);
  assert.deepEqual(await resolver.resolveTxt('remote.test'), [['v=spf1 ip4:127.0.0.1 -all']]);
  assert.deepEqual(await resolver.resolvePtr('1.0.0.127.in-addr.arpa'), ['mx1.remote.test']);
  assert.deepEqual(await resolver.resolveMx('nomail.test'), [{ exchange: '', priority: 0 }]);
  await assert.rejects(resolver.resolveMx('unknown.test'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolveMx('mx1.remote.test'), { code: 'ENODATA' });
});

test('smtp-sink keeps a message sent with nodemailer, envelope and bytes', async (t) => {
  const sink = await startSmtpSink(t);
  const result = await sendWithNodemailer({ port: sink.port, from: 'a@src.test', to: ['b@remote.test', 'c@remote.test'], raw: MESSAGE });
  assert.match(result.response, /^250 /);
  const [message] = await sink.waitForMessages(1);
  assert.ok(message);
  assert.equal(message.from, 'a@src.test');
  assert.deepEqual(message.to, ['b@remote.test', 'c@remote.test']);
  assert.equal(message.helo, 'nodemailer.client.test');
  assert.equal(message.data.toString(), MESSAGE);
});

test('smtp-sink refuses every RCPT with the 4xx reply it is given', async (t) => {
  const sink = await startSmtpSink(t, { reject: { RCPT: '4xx' }, softReply: '451 4.7.1 Try again later' });
  await assert.rejects(sendWithNodemailer({ port: sink.port, from: 'a@src.test', to: ['b@remote.test'], raw: MESSAGE }), (err: { responseCode?: number; response?: string }) => {
    assert.equal(err.responseCode, 451);
    assert.match(err.response ?? '', /4\.7\.1 Try again later/);
    return true;
  });
  assert.deepEqual(await sink.messages(), []);
});

test('smtp-peer: per-recipient replies, STARTTLS, AUTH, and what it records', async (t) => {
  const peer = await startSmtpPeer(t, {
    tls: true,
    auth: { user: 'relay', pass: 'secret' },
    rcpt: (address) =>
      address.startsWith('busy@') ? { code: 450, message: '4.2.1 Mailbox busy' } : address.startsWith('nobody@') ? { code: 550, message: '5.1.1 No such user' } : undefined,
  });
  const dir = await tempDir(t);
  const file = join(dir, 'message.eml');
  await writeFile(file, MESSAGE);
  const result = await smtplibSend({ PORT: peer.port, MODE: 'starttls', AUTH_USER: 'relay', AUTH_PASS: 'secret', FROM: 'a@src.test', TO: ['ok@remote.test', 'busy@remote.test', 'nobody@remote.test'], MSG_FILE: file });
  assert.equal(result.error, undefined, result.detail);
  assert.deepEqual(
    result.steps.filter((s) => s.step === 'rcpt').map((s) => `${s.code} ${s.text}`),
    ['250 Accepted', '450 4.2.1 Mailbox busy', '550 5.1.1 No such user'],
  );
  assert.equal(stepOf(result, 'data')?.code, 250);

  const [message] = await peer.waitForMessages(1);
  assert.ok(message);
  assert.deepEqual(message.to, ['ok@remote.test']);
  assert.equal(message.from, 'a@src.test');
  assert.equal(message.helo, 'python.client.test');
  assert.equal(message.secure, true);
  assert.equal(message.user, 'relay');
  assert.equal(message.data.toString(), MESSAGE);
  assert.equal(peer.connections, 1);
  assert.deepEqual(
    peer.commands.map((c) => `${c.command} ${c.address} ${c.code}`),
    ['MAIL a@src.test 250', 'RCPT ok@remote.test 250', 'RCPT busy@remote.test 450', 'RCPT nobody@remote.test 550'],
  );
});

test('smtp-peer: a 4xx at the end of DATA is what the client sees, and the message is recorded as refused', async (t) => {
  const peer = await startSmtpPeer(t, { dataReply: () => ({ code: 452, message: '4.3.1 Insufficient system storage' }) });
  await assert.rejects(sendWithNodemailer({ port: peer.port, from: 'a@src.test', to: ['b@remote.test'], raw: MESSAGE }), { responseCode: 452 });
  assert.equal(peer.received.length, 1);
  assert.equal(peer.received[0]!.accepted, false);
  assert.equal(peer.received[0]!.secure, false);
});

test('a private Postfix relays a message to smtp-sink', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const sink = await startSmtpSink(t);
  const postfix = await startPrivatePostfix({ port: await freePort(), relayTo: sink.address, dir: await tempDir(t, 'postern-postfix-'), t });
  await sendWithNodemailer({ port: postfix.port, from: 'a@src.test', to: ['b@remote.test'], raw: MESSAGE });
  const [message] = await sink.waitForMessages(1, 10_000);
  assert.ok(message);
  assert.equal(message.from, 'a@src.test');
  assert.deepEqual(message.to, ['b@remote.test']);
  assert.equal(message.helo, 'postfix.bench.test');
  // Postfix adds its Received line (and Message-ID, Date) to the message it relays.
  assert.match(message.data.toString(), /^Received: from .*by postfix\.bench\.test \(Postfix\)/s);
  assert.ok(message.data.toString().includes('\r\n.a line that starts with a dot\r\n'));
  assert.equal(await postfix.queued(), 0);
});
