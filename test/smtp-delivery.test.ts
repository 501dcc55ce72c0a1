/**
 * End to end: real clients (nodemailer, python3 smtplib, a raw socket) → Postern's MX listener →
 * spool → local delivery → the recipient's Maildir. Every test starts its own server.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createEnv,
  WORLD,
  makeMessage,
  sendWithNodemailer,
  smtplibSend,
  splitReceived,
  stepOf,
  queueIdOf,
  type Env,
  type MailFile,
} from './support/index.js';

const ANN = 'ann@example.test';
const BOB = 'bob@example.test';

/** The files of `address` (new/ and cur/) whose content carries Message-ID `id`. */
async function copiesOf(env: Env, address: string, id: string): Promise<MailFile[]> {
  return (await env.mailbox(address)).filter((f) => f.data.includes(`Message-ID: <${id}>`));
}

/**
 * The checks every delivered message must pass: exactly one copy in new/, its Maildir name carries
 * the queue id and the real size, it starts with Postern's Received header naming the queue id,
 * and the rest is byte for byte what the client sent.
 */
async function assertDeliveredIntact(env: Env, address: string, queueId: string, sent: Buffer, messageId: string, receivedPattern: RegExp): Promise<void> {
  const line = await env.server.waitForDelivery(queueId, address);
  assert.equal(line.status, 'delivered', `delivery of ${queueId} to ${address}: ${JSON.stringify(line)}`);

  const box = await env.maildir(address);
  const copies = box.new.filter((f) => f.data.includes(`Message-ID: <${messageId}>`));
  assert.equal(copies.length, 1, `exactly one copy of ${messageId} in ${address}/new (found ${box.new.map((f) => f.name).join(', ')})`);
  assert.equal(box.tmp.length, 0, 'nothing left in tmp/');
  const file = copies[0]!;

  const name = /^(\d+)\.M(\d+)Q([0-9A-Z]+)\.mx\.example\.test,S=(\d+)$/.exec(file.name);
  assert.ok(name, `Maildir name ${file.name} has the form <sec>.M<usec>Q<queueId>.<host>,S=<size>`);
  assert.equal(name[3], queueId, 'the Maildir name carries the queue id');
  assert.equal(Number(name[4]), file.data.length, 'S= is the file size');

  const { received, rest } = splitReceived(file.data);
  assert.match(received, /^Received: /, 'the file starts with a Received header');
  assert.match(received, receivedPattern);
  assert.ok(received.includes(` id ${queueId}`), `Received names the queue id ${queueId}: ${received}`);
  assert.ok(rest.equals(sent), `body differs from what was sent:\n--- sent\n${sent.toString('latin1')}\n--- stored\n${rest.toString('latin1')}`);
}

test('a message sent with nodemailer reaches Maildir/new intact, with a Received header carrying the queue id', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const message = makeMessage({ subject: 'from nodemailer' });

  const result = await sendWithNodemailer({ port: env.ports.mx!, from: 'sender@client.example.test', to: [ANN], raw: message.bytes });
  assert.match(result.response, /^250 /);
  assert.ok(result.queueId, `a queue id in "${result.response}"`);

  // nodemailer upgrades with STARTTLS when offered: ESMTPS, not authenticated.
  await assertDeliveredIntact(env, ANN, result.queueId, message.bytes, message.id, /^Received: from nodemailer\.client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.test \(Postern\) with ESMTPS id /);

  const tx = env.server.find((l) => l.msg === 'smtp transaction' && l.queueId === result.queueId);
  assert.equal(tx.length, 1, 'one transaction log line');
  assert.equal(tx[0]!.status, 'queued');
});

test('a message sent with python3 smtplib reaches Maildir/new intact, with a Received header carrying the queue id', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const message = makeMessage({ subject: 'from smtplib' });
  const file = join(env.dir, 'message.eml');
  await writeFile(file, message.bytes);

  const result = await smtplibSend({ PORT: env.ports.mx!, MODE: 'starttls', FROM: 'sender@client.example.test', TO: [ANN], MSG_FILE: file });
  assert.equal(result.error, undefined, `smtplib failed: ${JSON.stringify(result)}`);
  const data = stepOf(result, 'data');
  assert.equal(data?.code, 250, JSON.stringify(result));
  const queueId = queueIdOf(data.text);
  assert.ok(queueId, `a queue id in "${data.text}"`);

  await assertDeliveredIntact(env, ANN, queueId, message.bytes, message.id, /^Received: from python\.client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.test \(Postern\) with ESMTPS id /);
});

test('the reply to DATA is "250 2.0.0 Ok: queued as <queue id>"', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('mx');
  assert.equal((await client.ehlo()).code, 250);
  const sent = await client.send('sender@client.example.test', [ANN], makeMessage().text);
  assert.equal(sent.final.code, 250);
  // Exactly one enhanced status code, the one the core chose (2.0.0), then the queue id.
  assert.match(sent.final.raw, /^250 2\.0\.0 Ok: queued as [0-9A-Z]{20}\r\n$/, `reply was ${JSON.stringify(sent.final.raw)}`);
  await client.quit();
});

test('unknown local recipient: 550 5.1.1 at RCPT, nothing delivered', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<sender@client.example.test>')).code, 250);
  const rcpt = await client.cmd('RCPT TO:<nobody@example.test>');
  assert.equal(rcpt.code, 550);
  assert.equal(rcpt.enhanced, '5.1.1');
  // The transaction stays usable: a known recipient is still accepted, and only it gets the mail.
  const ann = await client.cmd(`RCPT TO:<${ANN}>`);
  assert.equal(ann.code, 250);
  assert.equal((await client.cmd('DATA')).code, 354);
  const message = makeMessage();
  client.write(`${message.text}.\r\n`);
  const done = await client.read();
  assert.equal(done.code, 250);
  const queueId = queueIdOf(done)!;
  const delivered = await env.server.waitForDelivery(queueId, ANN);
  assert.equal(delivered.status, 'delivered');
  assert.equal(env.server.find((l) => l.msg === 'delivery' && l.to === 'nobody@example.test').length, 0, 'no delivery attempted for the refused recipient');
  await client.quit();
  assert.equal((await copiesOf(env, ANN, message.id)).length, 1);
});

test('catch-all: mail to an unknown address of a catch-all domain lands in the catch-all mailbox; other domains still 550 5.1.1', async (t) => {
  const env = await createEnv(t, {
    ...WORLD,
  });
  const client = await env.connect('mx');
  await client.ehlo();

  const message = makeMessage({ to: 'whoever@catchall.test' });
  const sent = await client.send('sender@client.example.test', ['whoever@catchall.test'], message.text);
  assert.equal(sent.final.code, 250, JSON.stringify(sent.replies));
  const line = await env.server.waitForDelivery(sent.queueId!);
  assert.equal(line.status, 'delivered');
  const copies = await copiesOf(env, ANN, message.id);
  assert.equal(copies.length, 1, 'one copy in the catch-all mailbox');
  assert.ok(splitReceived(copies[0]!.data).rest.equals(message.bytes), 'delivered intact');

  // No catch-all on example.test: unknown users there are still refused.
  assert.equal((await client.cmd('MAIL FROM:<sender@client.example.test>')).code, 250);
  const rcpt = await client.cmd('RCPT TO:<whoever@example.test>');
  assert.equal(rcpt.code, 550);
  assert.equal(rcpt.enhanced, '5.1.1');
  await client.quit();
});

test('alias to two users delivers one copy to each; a mailbox named twice (directly and via the alias) gets one copy', async (t) => {
  const env = await createEnv(t, {
    ...WORLD,
  });
  const client = await env.connect('mx');
  await client.ehlo();

  const first = makeMessage({ to: 'team@example.test', subject: 'to the team' });
  const sent = await client.send('sender@client.example.test', ['team@example.test'], first.text);
  assert.equal(sent.final.code, 250, JSON.stringify(sent.replies));
  const line = await env.server.waitForDelivery(sent.queueId!, 'team@example.test');
  assert.equal(line.status, 'delivered');
  for (const user of [ANN, BOB]) {
    const copies = await copiesOf(env, user, first.id);
    assert.equal(copies.length, 1, `exactly one copy for ${user}`);
    assert.ok(splitReceived(copies[0]!.data).rest.equals(first.bytes), `intact for ${user}`);
  }

  // ann is a recipient twice over: directly and through the alias.
  const second = makeMessage({ to: 'team@example.test, ann@example.test', subject: 'twice' });
  const sent2 = await client.send('sender@client.example.test', ['team@example.test', ANN], second.text);
  assert.equal(sent2.final.code, 250, JSON.stringify(sent2.replies));
  for (const to of ['team@example.test', ANN]) {
    const l = await env.server.waitForDelivery(sent2.queueId!, to);
    assert.equal(l.status, 'delivered', `${to}: ${JSON.stringify(l)}`);
  }
  await client.quit();
  assert.equal((await copiesOf(env, ANN, second.id)).length, 1, 'ann gets one copy, not two');
  assert.equal((await copiesOf(env, BOB, second.id)).length, 1, 'bob gets one copy');
  // And the first message is still there exactly once each (nothing was rewritten).
  assert.equal((await copiesOf(env, ANN, first.id)).length, 1);
  assert.equal((await copiesOf(env, BOB, first.id)).length, 1);
});

test('a new mailbox is created with the default folders (Maildir++: .Sent .Drafts .Junk .Trash)', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('mx');
  await client.ehlo();
  const sent = await client.send('sender@client.example.test', [ANN], makeMessage().text);
  assert.equal(sent.final.code, 250);
  await env.server.waitForDelivery(sent.queueId!, ANN);
  await client.quit();
  const root = (await env.maildir(ANN)).root;
  for (const dir of ['new', 'cur', 'tmp', ...['.Sent', '.Drafts', '.Junk', '.Trash'].flatMap((f) => [`${f}/new`, `${f}/cur`, `${f}/tmp`])]) {
    assert.ok(existsSync(join(root, dir)), `${dir} exists`);
  }
});

test('malformed recipients get a permanent 5xx (not a 451 that makes the client retry), and the session goes on', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<sender@client.example.test>')).code, 250);
  for (const bad of ['x@[127.0.0.1]', '@example.test', 'x@exa_mple..test']) {
    const reply = await client.cmd(`RCPT TO:<${bad}>`);
    assert.ok(reply.code >= 500 && reply.code < 600, `RCPT TO:<${bad}> got ${reply.raw}`);
  }
  assert.equal((await client.cmd(`RCPT TO:<${ANN}>`)).code, 250);
  await client.quit();
});
