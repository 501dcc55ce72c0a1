/**
 * Outbound delivery, end to end: a local user submits mail for remote domains; Postern finds the
 * MX hosts through a real DNS server (dnsmasq) and delivers to real SMTP servers on loopback:
 * Postfix's smtp-sink, or a scriptable smtp-server peer where per-recipient replies, TLS or AUTH
 * matter. MX hosts are told apart by address (127.0.0.1 listens, 127.0.0.2 refuses), since every
 * MX is contacted on the one configured `outbound.port`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ANN,
  createEnv,
  PASSWORD,
  WORLD,
  makeMessage,
  posternOk,
  sendWithNodemailer,
  startDns,
  startSmtpPeer,
  startSmtpSink,
  type DnsRecords,
  type Env,
} from './support/index.js';
import type { Cleanup } from './support/tmp.js';

/** Submit as ann (AUTH over STARTTLS) and return the queue id. */
async function submit(env: Env, to: string[], message = makeMessage({ from: ANN, to: to[0]! })): Promise<string> {
  const sent = await sendWithNodemailer({ port: env.ports.submission!, requireTLS: true, auth: { user: ANN, pass: PASSWORD }, from: ANN, to, raw: message.bytes });
  assert.ok(sent.queueId, sent.response);
  return sent.queueId;
}

/** A Postern whose DNS is a dnsmasq with `records` and whose remote port is `port`. */
async function outboundEnv(t: Cleanup, records: DnsRecords, port: number, outbound: Record<string, unknown> = {}, queue: Record<string, unknown> = {}): Promise<Env> {
  const dns = await startDns(t, records);
  return createEnv(t, {
    ...WORLD,
    extra: {
      dns: { servers: [dns.server], timeoutMs: 1000 },
      outbound: { port, connectTimeoutMs: 2000, ...outbound },
      queue: { retryIntervalSec: 1, backoff: 1, minTimeInQueueSec: 0, ...queue },
    },
  });
}

/** The message as Postern sent it: ours plus the Received header Postern prepends. */
function assertSameMessage(received: Buffer, sent: Buffer): void {
  const text = received.toString('latin1');
  assert.match(text, /^Received: from /, 'Postern added its Received header');
  assert.ok(received.subarray(received.length - sent.length).equals(sent), 'the message arrived byte for byte after our Received header');
}

test('MX delivery to a real smtp-sink: found through DNS, delivered intact, the queue is empty afterwards', async (t) => {
  const sink = await startSmtpSink(t);
  const env = await outboundEnv(
    t,
    { mx: [{ domain: 'remote.test', host: 'mx1.remote.test', preference: 10 }], a: [{ name: 'mx1.remote.test', address: '127.0.0.1' }] },
    sink.port,
  );
  const message = makeMessage({ from: ANN, to: 'bob@remote.test', subject: 'to the sink' });
  const id = await submit(env, ['bob@remote.test', 'carol@remote.test'], message);
  const line = await env.server.waitForDelivery(id, 'bob@remote.test');
  assert.equal(line.status, 'delivered', JSON.stringify(line));
  assert.equal(line.code, 250);
  assert.match(String(line.destination), /^mx1\.remote\.test \[127\.0\.0\.1\]:\d+/);
  assert.equal((await env.server.waitForDelivery(id, 'carol@remote.test')).status, 'delivered');

  const [received] = await sink.waitForMessages(1);
  assert.equal(received!.from, ANN);
  assert.deepEqual([...received!.to].sort(), ['bob@remote.test', 'carol@remote.test'], 'one transaction carried both recipients of the domain');
  assert.equal(received!.helo, 'mx.example.test', 'EHLO with our hostname');
  assertSameMessage(received!.data, message.bytes);
  assert.equal((await sink.messages()).length, 1);

  const listed = JSON.parse((await posternOk(['queue', 'list', '--json'], { config: env.configPath })).stdout) as unknown[];
  assert.deepEqual(listed, [], 'nothing left in the queue');
});

test('MX order and fallback: the preferred MX refuses connections, the next one takes the mail', async (t) => {
  const sink = await startSmtpSink(t);
  const env = await outboundEnv(
    t,
    {
      mx: [
        { domain: 'remote.test', host: 'mx2.remote.test', preference: 20 },
        { domain: 'remote.test', host: 'mx1.remote.test', preference: 10 },
      ],
      // 127.0.0.2 is loopback too, but nothing listens there on the sink's port.
      a: [
        { name: 'mx1.remote.test', address: '127.0.0.2' },
        { name: 'mx2.remote.test', address: '127.0.0.1' },
      ],
    },
    sink.port,
  );
  const id = await submit(env, ['bob@remote.test']);
  const line = await env.server.waitForDelivery(id, 'bob@remote.test');
  assert.equal(line.status, 'delivered', JSON.stringify(line));
  assert.match(String(line.destination), /^mx2\.remote\.test \[127\.0\.0\.1\]/);
  const failed = env.server.find((l) => l.msg === 'remote host failed, trying the next one' && l.queueId === id);
  assert.equal(failed.length, 1);
  assert.match(String(failed[0]!.host), /^mx1\.remote\.test \[127\.0\.0\.2\]/, 'the lower preference was tried first');
  assert.equal(failed[0]!.code, 'POSTERN_REMOTE_UNREACHABLE');
  assert.equal((await sink.waitForMessages(1)).length, 1);
});

test('no MX record: the domain\'s own address is used (RFC 5321 5.1)', async (t) => {
  const sink = await startSmtpSink(t);
  const env = await outboundEnv(t, { a: [{ name: 'plain.test', address: '127.0.0.1' }] }, sink.port);
  const id = await submit(env, ['bob@plain.test']);
  const line = await env.server.waitForDelivery(id, 'bob@plain.test');
  assert.equal(line.status, 'delivered', JSON.stringify(line));
  assert.match(String(line.destination), /^plain\.test \[127\.0\.0\.1\]/);
  assert.deepEqual((await sink.waitForMessages(1))[0]!.to, ['bob@plain.test']);
});

test('a null MX (RFC 7505) and a domain that does not exist fail at once with a DSN to the sender; nothing is sent', async (t) => {
  const sink = await startSmtpSink(t);
  const env = await outboundEnv(t, { nullMx: ['nomail.test'] }, sink.port);
  const id = await submit(env, ['bob@nomail.test', 'bob@nowhere.test']);
  const nullMx = await env.server.waitForDelivery(id, 'bob@nomail.test');
  assert.equal(nullMx.status, 'failed');
  assert.equal(nullMx.code, 556);
  assert.equal(nullMx.enhanced, '5.1.10');
  const nx = await env.server.waitForDelivery(id, 'bob@nowhere.test');
  assert.equal(nx.status, 'failed');
  assert.equal(nx.enhanced, '5.1.2');

  const bounce = await env.server.waitForLog((l) => l.msg === 'bounce queued' && l.original === id);
  assert.equal((await env.server.waitForDelivery(String(bounce.queueId), ANN)).status, 'delivered');
  const box = await env.mailbox(ANN);
  assert.equal(box.length, 1, 'one DSN for both recipients');
  const dsn = box[0]!.data.toString('latin1');
  assert.match(dsn, /^Content-Type: multipart\/report; report-type=delivery-status;/m);
  assert.match(dsn, /^Final-Recipient: rfc822;bob@nomail\.test\r?$/m);
  assert.match(dsn, /^Status: 5\.1\.10\r?$/m);
  assert.match(dsn, /^Final-Recipient: rfc822;bob@nowhere\.test\r?$/m);
  assert.match(dsn, /^Status: 5\.1\.2\r?$/m);
  assert.equal((await sink.messages()).length, 0);
});

test('per-recipient replies over one connection: 250 delivered, 450 deferred and retried, 550 bounced with the remote\'s reply', async (t) => {
  let tries = 0;
  const peer = await startSmtpPeer(t, {
    rcpt: (address) => {
      if (address.startsWith('gone@')) return { code: 550, message: '5.1.1 <gone@remote.test>: Recipient address rejected: User unknown' };
      if (address.startsWith('busy@') && tries++ === 0) return { code: 450, message: '4.2.1 Mailbox busy, try later' };
      return undefined;
    },
  });
  const env = await outboundEnv(t, { mx: [{ domain: 'remote.test', host: 'mx.remote.test', preference: 10 }], a: [{ name: 'mx.remote.test', address: '127.0.0.1' }] }, peer.port);
  const message = makeMessage({ from: ANN, to: 'ok@remote.test', subject: 'three recipients' });
  const id = await submit(env, ['ok@remote.test', 'busy@remote.test', 'gone@remote.test'], message);

  assert.equal((await env.server.waitForDelivery(id, 'ok@remote.test')).status, 'delivered');
  const busy = await env.server.waitForDelivery(id, 'busy@remote.test');
  assert.equal(busy.status, 'deferred');
  assert.equal(busy.code, 450);
  const gone = await env.server.waitForDelivery(id, 'gone@remote.test');
  assert.equal(gone.status, 'failed');
  assert.equal(gone.code, 550);
  assert.equal(gone.enhanced, '5.1.1');

  // The retry (1 s later by the test's schedule) carries only the deferred recipient.
  const retried = await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === id && l.to === 'busy@remote.test' && l.status === 'delivered', 10_000);
  assert.equal(retried.attempt, 2);
  const received = await peer.waitForMessages(2);
  assert.deepEqual(received[0]!.to, ['ok@remote.test'], 'first attempt: only the accepted recipient got the data');
  assert.deepEqual(received[1]!.to, ['busy@remote.test'], 'the retry: only the deferred recipient');
  assertSameMessage(received[1]!.data, message.bytes);

  // The bounce for gone@ reaches ann's mailbox with the remote's code and text, and the original headers.
  const bounce = await env.server.waitForLog((l) => l.msg === 'bounce queued' && l.original === id);
  await env.server.waitForDelivery(String(bounce.queueId), ANN);
  // Long fields are folded (RFC 5322): unfold before matching.
  const dsn = (await env.mailbox(ANN))[0]!.data.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
  assert.match(dsn, /^Subject: Undelivered Mail Returned to Sender\r?$/m);
  assert.match(dsn, /^Final-Recipient: rfc822;gone@remote\.test\r?$/m);
  assert.match(dsn, /^Action: failed\r?$/m);
  assert.match(dsn, /^Diagnostic-Code: smtp; 550 5\.1\.1 <gone@remote\.test>: Recipient address rejected: User unknown\r?$/m);
  assert.ok(dsn.includes(`Message-ID: <${message.id}>`), 'the original headers are attached');
  assert.ok(!/busy@remote\.test/.test(dsn.split('Content-Type: text/rfc822-headers')[0]!.replace(/^To:.*$/m, '')), 'the delivered and deferred recipients are not reported as failed');
  assert.equal(peer.connections, 1, 'one connection for the domain; the retry a second later reused it (idle session cache)');
});

test('smarthost with STARTTLS and AUTH replaces MX lookup; a per-domain route wins over it', async (t) => {
  const relay = await startSmtpPeer(t, { tls: true, requireTls: true, auth: { user: 'relay-user', pass: 'relay-secret' } });
  const partner = await startSmtpPeer(t);
  // No DNS records at all: nothing is looked up.
  const env = await outboundEnv(t, {}, 1, {
    smarthost: { host: '127.0.0.1', port: relay.port, tls: 'starttls', verifyCertificate: false, auth: { user: 'relay-user', pass: 'relay-secret' } },
    routes: [{ domain: 'partner.test', host: '127.0.0.1', port: partner.port, tls: 'none' }],
  });
  const id = await submit(env, ['someone@far-away.test', 'bob@partner.test']);
  const viaRelay = await env.server.waitForDelivery(id, 'someone@far-away.test');
  assert.equal(viaRelay.status, 'delivered', JSON.stringify(viaRelay));
  assert.match(String(viaRelay.destination), /\(TLS\)$/);
  const viaRoute = await env.server.waitForDelivery(id, 'bob@partner.test');
  assert.equal(viaRoute.status, 'delivered', JSON.stringify(viaRoute));

  const [atRelay] = await relay.waitForMessages(1);
  assert.equal(atRelay!.secure, true, 'STARTTLS before AUTH');
  assert.equal(atRelay!.user, 'relay-user');
  assert.deepEqual(atRelay!.to, ['someone@far-away.test']);
  const [atPartner] = await partner.waitForMessages(1);
  assert.deepEqual(atPartner!.to, ['bob@partner.test']);
  assert.equal(atPartner!.secure, false);
});

test('a smarthost that refuses our login defers the mail (an admin error must not bounce users\' mail)', async (t) => {
  const relay = await startSmtpPeer(t, { tls: true, auth: { user: 'relay-user', pass: 'relay-secret' } });
  const env = await outboundEnv(t, {}, 1, {
    smarthost: { host: '127.0.0.1', port: relay.port, tls: 'starttls', verifyCertificate: false, auth: { user: 'relay-user', pass: 'wrong' } },
  });
  const id = await submit(env, ['someone@far-away.test']);
  const line = await env.server.waitForDelivery(id, 'someone@far-away.test');
  assert.equal(line.status, 'deferred', JSON.stringify(line));
  assert.match(String(line.reply), /refused our login/);
  assert.deepEqual(relay.authFailures, ['relay-user']);
  assert.equal(relay.received.length, 0);
});

test('opportunistic STARTTLS to an MX that offers it; outbound.tls "required" defers mail to an MX without it', async (t) => {
  const withTls = await startSmtpPeer(t, { tls: true });
  const records: DnsRecords = { mx: [{ domain: 'remote.test', host: 'mx.remote.test', preference: 10 }], a: [{ name: 'mx.remote.test', address: '127.0.0.1' }] };
  const env = await outboundEnv(t, records, withTls.port);
  const id = await submit(env, ['bob@remote.test']);
  assert.equal((await env.server.waitForDelivery(id, 'bob@remote.test')).status, 'delivered');
  assert.equal((await withTls.waitForMessages(1))[0]!.secure, true, 'upgraded with STARTTLS (self-signed certificate accepted)');

  const plain = await startSmtpPeer(t);
  const strict = await outboundEnv(t, records, plain.port, { tls: 'required' });
  const id2 = await submit(strict, ['bob@remote.test']);
  const line = await strict.server.waitForDelivery(id2, 'bob@remote.test');
  assert.equal(line.status, 'deferred', JSON.stringify(line));
  assert.equal(plain.received.length, 0, 'nothing sent in the clear');
});

test('the session cache: the next message reuses an idle session; one the remote closed meanwhile is replaced, nothing is deferred', async (t) => {
  // The peer drops a session idle for 400 ms; Postern keeps idle sessions for 2 s.
  const peer = await startSmtpPeer(t, { serverOptions: { socketTimeout: 400 } });
  const env = await outboundEnv(t, { mx: [{ domain: 'remote.test', host: 'mx.remote.test', preference: 10 }], a: [{ name: 'mx.remote.test', address: '127.0.0.1' }] }, peer.port);
  const first = await submit(env, ['bob@remote.test']);
  assert.equal((await env.server.waitForDelivery(first, 'bob@remote.test')).status, 'delivered');
  const second = await submit(env, ['carol@remote.test']);
  assert.equal((await env.server.waitForDelivery(second, 'carol@remote.test')).status, 'delivered');
  assert.equal(peer.connections, 1, 'the second message went over the idle session');

  await new Promise((r) => setTimeout(r, 1000)); // the peer has closed it; the cache still holds it
  const third = await submit(env, ['dave@remote.test']);
  const line = await env.server.waitForDelivery(third, 'dave@remote.test');
  assert.equal(line.status, 'delivered', JSON.stringify(line));
  assert.equal(line.attempt, 1, 'delivered at the first attempt, on a new session');
  assert.equal(peer.connections, 2);
  assert.equal((await peer.waitForMessages(3)).length, 3);
});
