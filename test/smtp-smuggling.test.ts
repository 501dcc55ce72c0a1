/**
 * SMTP smuggling (CVE-2023-51764 class): a body holding a bogus end-of-data made of bare LF / CR,
 * followed by a second, hidden SMTP transaction. Postern must see one message, refuse it as a
 * whole (554 5.6.0), never run the hidden commands, and keep the connection usable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnv, WORLD, makeMessage, queueIdOf, type Env } from './support/index.js';

const ANN = 'ann@example.test';

/** The hidden transaction an attacker appends after the bogus terminator. */
const HIDDEN = 'MAIL FROM:<x@evil.test>\r\nRCPT TO:<ann@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n';

const VARIANTS: Array<{ name: string; bogus: string }> = [
  { name: '<LF>.<CR><LF>', bogus: '\n.\r\n' },
  { name: '<LF>.<LF>', bogus: '\n.\n' },
  { name: '<CR><LF>.<LF>', bogus: '\r\n.\n' },
  { name: '<CR>.<CR><LF>', bogus: '\r.\r\n' },
];

async function assertOnlyCleanMessage(env: Env, cleanId: string): Promise<void> {
  const box = await env.mailbox(ANN);
  const smuggled = box.filter((f) => f.data.includes('smuggled'));
  assert.equal(smuggled.length, 0, `no message containing "smuggled" was delivered (found ${smuggled.map((f) => f.name).join(', ')})`);
  assert.equal(box.length, 1, `exactly one message (the clean one) in the mailbox, found ${box.length}`);
  assert.ok(box[0]!.data.includes(`Message-ID: <${cleanId}>`));
  // Nothing from x@evil.test was ever accepted as a transaction.
  assert.equal(env.server.find((l) => l.msg === 'smtp transaction' && l.from === 'x@evil.test').length, 0);
}

for (const { name, bogus } of VARIANTS) {
  test(`smuggling with ${name}: one message is refused whole with 554 5.6.0, no second message appears, and the connection still works`, async (t) => {
    const env = await createEnv(t, { ...WORLD });
    const client = await env.connect('mx');
    await client.ehlo();
    assert.equal((await client.cmd('MAIL FROM:<sender@client.example.test>')).code, 250);
    assert.equal((await client.cmd(`RCPT TO:<${ANN}>`)).code, 250);
    assert.equal((await client.cmd('DATA')).code, 354);

    // One write, as an attacker pipelines it: first part, bogus end, hidden transaction, real end.
    client.write(`From: <sender@client.example.test>\r\nSubject: first\r\n\r\nfirst part${bogus}${HIDDEN}.\r\n`);
    const reply = await client.read();
    assert.equal(reply.code, 554, `the message is refused: ${reply.raw}`);
    assert.equal(reply.enhanced, '5.6.0');
    // Exactly one reply: the hidden MAIL/RCPT/DATA were never read as commands.
    const extra = await client.expectSilence(300);
    assert.deepEqual(extra.map((r) => r.raw), [], 'no further replies (the hidden commands did not run)');

    // The same connection delivers a clean message afterwards.
    const clean = makeMessage();
    const sent = await client.send('sender@client.example.test', [ANN], clean.text);
    assert.equal(sent.final.code, 250, JSON.stringify(sent.replies.map((r) => r.raw)));
    assert.deepEqual((await client.expectSilence(100)).map((r) => r.raw), [], 'no stray replies after the clean message');
    await client.quit();
    assert.equal((await env.server.waitForDelivery(sent.queueId!, ANN)).status, 'delivered');

    const rejected = env.server.find((l) => l.msg === 'smtp transaction' && l.status === 'rejected');
    assert.equal(rejected.length, 1, 'one rejected transaction');
    assert.equal(env.server.find((l) => l.msg === 'smtp transaction' && l.status === 'queued').length, 1, 'one queued transaction (the clean one)');
    await assertOnlyCleanMessage(env, clean.id);
  });
}

test('smuggling split over packets and pipelined: the hidden transaction arrives in separate writes and still is part of the refused message', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('mx');
  await client.ehlo();
  // PIPELINING: MAIL, RCPT and DATA in one write.
  client.write(`MAIL FROM:<sender@client.example.test>\r\nRCPT TO:<${ANN}>\r\nDATA\r\n`);
  assert.deepEqual([(await client.read()).code, (await client.read()).code, (await client.read()).code], [250, 250, 354]);
  const pieces = ['Subject: first\r\n\r\nfirst part\n', '.', '\r\n', 'MAIL FROM:<x@evil.test>\r\n', `RCPT TO:<${ANN}>\r\n`, 'DATA\r\n', 'smuggled\r\n', '.\r\n'];
  for (const piece of pieces) {
    client.write(piece);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const reply = await client.read();
  assert.equal(reply.code, 554, reply.raw);
  assert.equal(reply.enhanced, '5.6.0');
  assert.deepEqual((await client.expectSilence(300)).map((r) => r.raw), []);

  const clean = makeMessage();
  const sent = await client.send('sender@client.example.test', [ANN], clean.text);
  assert.equal(sent.final.code, 250);
  await client.quit();
  await env.server.waitForDelivery(sent.queueId!, ANN);
  await assertOnlyCleanMessage(env, clean.id);
});

test('a clean message whose body has dots and CRLF-only line endings is accepted unchanged (the strict check has no false positive)', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('mx');
  await client.ehlo();
  const body = 'line one\r\n.\r\n..\r\n. not the end\r\nCR and LF only as pairs\r\n\r\n\r\nlast';
  const message = makeMessage({ body });
  const sent = await client.send('sender@client.example.test', [ANN], message.text);
  assert.equal(sent.final.code, 250, sent.final.raw);
  await client.quit();
  const queueId = queueIdOf(sent.final)!;
  assert.equal((await env.server.waitForDelivery(queueId, ANN)).status, 'delivered');
  const box = await env.mailbox(ANN);
  assert.equal(box.length, 1);
  assert.ok(box[0]!.data.subarray(box[0]!.data.length - message.bytes.length).equals(message.bytes), 'the body is stored exactly as sent (dot-stuffing undone)');
});
