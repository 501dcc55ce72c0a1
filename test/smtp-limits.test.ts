/**
 * Limits, end to end: message size (SIZE advertised, 552), recipients per message (452), messages
 * per IP per minute (the rate-limit plugin, 451 4.7.0) and mailbox quota (452 4.2.2 at RCPT).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { createEnv, WORLD, makeMessage, posternOk, queueIdOf, sendWithNodemailer, waitFor, type Env } from './support/index.js';

const ANN = 'ann@example.test';
const BOB = 'bob@example.test';
/** ann may hold 1 KiB; bob is a local sender. */
const QUOTA_WORLD = { domains: ['example.test'], users: [{ address: ANN, quota: '1K' }, BOB] };

interface SmtpFailure extends Error {
  responseCode?: number;
  response?: string;
}

test('oversized messages: SIZE is advertised; 552 at MAIL FROM SIZE= and 552 5.3.4 after DATA; the session goes on and a message under the limit is delivered', async (t) => {
  const env = await createEnv(t, { ...WORLD, smtp: { maxMessageSize: 10_000 } });
  const client = await env.connect('mx');
  const ehlo = await client.ehlo();
  assert.ok(ehlo.lines.includes('SIZE 10000'), `SIZE 10000 advertised: ${ehlo.lines.join(' | ')}`);

  const declared = await client.cmd('MAIL FROM:<sender@client.example.test> SIZE=20000');
  assert.equal(declared.code, 552, declared.raw);
  assert.equal((await client.cmd('RSET')).code, 250);

  // Not declared: the server reads it all, then refuses the whole message.
  const big = makeMessage({ padTo: 20_000 });
  const sent = await client.send('sender@client.example.test', [ANN], big.text);
  assert.equal(sent.final.code, 552, sent.final.raw);
  assert.equal(sent.final.enhanced, '5.3.4');
  // The log line may reach us a moment after the reply: wait for it, then count.
  const isRejected = (l: { msg?: unknown; status?: unknown }) => l.msg === 'smtp transaction' && l.status === 'rejected';
  await env.server.waitForLog(isRejected, 5000, 0, 'the rejected transaction');
  assert.equal(env.server.find(isRejected).length, 1, 'one rejected transaction logged');

  // Same connection, a message just under the limit: accepted and delivered.
  const small = makeMessage({ padTo: 9_000 });
  const ok = await client.send('sender@client.example.test', [ANN], small.text);
  assert.equal(ok.final.code, 250, ok.final.raw);
  const line = await env.server.waitForDelivery(ok.queueId!, ANN);
  assert.equal(line.status, 'delivered');
  await client.quit();

  const box = await env.mailbox(ANN);
  assert.equal(box.length, 1, 'only the small message was delivered');
  assert.ok(box[0]!.data.includes(`Message-ID: <${small.id}>`));

  // A real client gets the 552 too.
  await assert.rejects(
    sendWithNodemailer({ port: env.ports.mx!, from: 'sender@client.example.test', to: [ANN], raw: makeMessage({ padTo: 30_000 }).bytes }),
    (err: SmtpFailure) => err.responseCode === 552,
  );
  assert.equal((await env.mailbox(ANN)).length, 1);
  assert.equal(env.server.find((l) => l.msg === 'smtp transaction' && l.status === 'queued').length, 1, 'only the small message was queued');
});

test('too many recipients: the 6th RCPT gets 452 (maxRecipients 5); the message goes to the first five only', async (t) => {
  // catchall.test takes any local part, so six distinct recipients need no six users.
  const env = await createEnv(t, { ...WORLD, smtp: { maxRecipients: 5 } });
  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<sender@client.example.test>')).code, 250);
  const rcpts = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((r) => `${r}@catchall.test`);
  const replies = [];
  for (const r of rcpts) replies.push(await client.cmd(`RCPT TO:<${r}>`));
  assert.deepEqual(
    replies.map((r) => r.code),
    [250, 250, 250, 250, 250, 452],
    replies.map((r) => r.raw).join(''),
  );
  assert.equal((await client.cmd('DATA')).code, 354);
  const message = makeMessage();
  client.write(`${message.text}.\r\n`);
  const done = await client.read();
  assert.equal(done.code, 250, done.raw);
  await client.quit();

  const tx = await env.server.waitForLog((l) => l.msg === 'smtp transaction' && l.status === 'queued');
  assert.deepEqual(tx.to, rcpts.slice(0, 5), 'the envelope holds the first five');
  const deliveries = await waitFor(() => {
    const lines = env.server.find((l) => l.msg === 'delivery' && l.queueId === tx.queueId);
    return lines.length >= 5 ? lines : undefined;
  }, 'five delivery lines');
  assert.deepEqual(deliveries.map((l) => l.to).sort(), rcpts.slice(0, 5));
  assert.ok(deliveries.every((l) => l.status === 'delivered'));
});

test('rate limit: with limit 3 per IP per minute, the 4th MAIL FROM gets 451 4.7.0, on the same and on a new connection', async (t) => {
  const env = await createEnv(t, {
    ...WORLD,
    plugins: { 'rate-limit': { enabled: true, limit: 3, windowSec: 60, key: 'ip' } },
  });
  const client = await env.connect('mx');
  await client.ehlo();
  const queued: string[] = [];
  for (let i = 0; i < 3; i++) {
    const sent = await client.send(`sender${i}@client.example.test`, [ANN], makeMessage().text);
    assert.equal(sent.final.code, 250, `message ${i + 1}: ${sent.final.raw}`);
    queued.push(sent.queueId!);
  }
  const fourth = await client.cmd('MAIL FROM:<sender3@client.example.test>');
  assert.equal(fourth.code, 451, fourth.raw);
  assert.equal(fourth.enhanced, '4.7.0');
  // tempfail keeps the session: the client may QUIT politely.
  await client.quit();

  const again = await env.connect('mx');
  await again.ehlo();
  const fifth = await again.cmd('MAIL FROM:<other@client.example.test>');
  assert.equal(fifth.code, 451, fifth.raw);
  assert.equal(fifth.enhanced, '4.7.0');
  await again.quit();

  for (const id of queued) assert.equal((await env.server.waitForDelivery(id, ANN)).status, 'delivered');
  assert.equal((await env.mailbox(ANN)).length, 3);
});

/**
 * One message from bob to ann on a fresh connection, declaring its size in MAIL FROM (SIZE=, RFC
 * 1870) as real MTAs do when SIZE is advertised, unless `declareSize` is false. Returns the RCPT
 * reply, and the queue id if the message was accepted.
 */
async function sendToAnn(env: Env, padTo: number, declareSize = true): Promise<{ rcpt: { code: number; enhanced: string | undefined; raw: string }; queueId?: string; messageId: string }> {
  const client = await env.connect('mx');
  await client.ehlo();
  const message = makeMessage({ from: BOB, padTo });
  assert.equal((await client.cmd(`MAIL FROM:<${BOB}>${declareSize ? ` SIZE=${message.bytes.length}` : ''}`)).code, 250);
  const rcpt = await client.cmd(`RCPT TO:<${ANN}>`);
  if (rcpt.code !== 250) {
    await client.quit();
    return { rcpt, messageId: message.id };
  }
  assert.equal((await client.cmd('DATA')).code, 354);
  client.write(`${message.text}.\r\n`);
  const done = await client.read();
  assert.equal(done.code, 250, done.raw);
  await client.quit();
  return { rcpt, queueId: queueIdOf(done), messageId: message.id };
}

test('quota: a user with --quota 1K gets mail until the next message would not fit, then 452 4.2.2 at RCPT', async (t) => {
  const env = await createEnv(t, QUOTA_WORLD);
  const first = await sendToAnn(env, 600);
  assert.equal(first.rcpt.code, 250, first.rcpt.raw);
  assert.equal((await env.server.waitForDelivery(first.queueId!, ANN)).status, 'delivered', 'a message under the quota is delivered');

  // ~800 bytes stored (message + Received); another 600 would take the mailbox past 1024.
  const second = await sendToAnn(env, 600);
  assert.equal(second.rcpt.code, 452, second.rcpt.raw);
  assert.equal(second.rcpt.enhanced, '4.2.2');

  const box = await env.mailbox(ANN);
  assert.equal(box.length, 1, 'only the first message is in the mailbox');
  assert.ok(box[0]!.data.includes(first.messageId));
});

test('quota: a mailbox already over its quota gets 452 4.2.2 at RCPT, even without a declared SIZE', async (t) => {
  const env = await createEnv(t, QUOTA_WORLD);
  const first = await sendToAnn(env, 600, false);
  assert.equal((await env.server.waitForDelivery(first.queueId!, ANN)).status, 'delivered');
  // The admin lowers the quota below what the mailbox already holds.
  await posternOk(['user', 'set', ANN, '--quota', '512'], { config: env.configPath });
  const second = await sendToAnn(env, 600, false);
  assert.equal(second.rcpt.code, 452, second.rcpt.raw);
  assert.equal(second.rcpt.enhanced, '4.2.2');
  assert.equal((await env.mailbox(ANN)).length, 1);
});

test('quota: a message accepted without a declared SIZE that does not fit is deferred (452 4.2.2), never dropped, and delivered once there is room', async (t) => {
  const env = await createEnv(t, {
    ...QUOTA_WORLD,
    extra: { queue: { retryIntervalSec: 1, minTimeInQueueSec: 0, backoff: 1 } },
  });
  const first = await sendToAnn(env, 600, false);
  assert.equal((await env.server.waitForDelivery(first.queueId!, ANN)).status, 'delivered');

  // No SIZE: the server cannot know at RCPT that it will not fit; it takes it and must not lose it.
  const second = await sendToAnn(env, 600, false);
  assert.equal(second.rcpt.code, 250, second.rcpt.raw);
  const deferred = await env.server.waitForDelivery(second.queueId!, ANN);
  assert.equal(deferred.status, 'deferred', `over quota at delivery: deferred, not ${deferred.status} (${JSON.stringify(deferred)})`);
  assert.equal(deferred.code, 452);
  assert.equal(deferred.enhanced, '4.2.2');
  assert.equal((await env.mailbox(ANN)).length, 1);

  // The owner gets more room; the next retry delivers the message, once. (Mark the log first: the
  // retry may land between the CLI's commit and its exit.)
  const since = env.server.logs.length;
  await posternOk(['user', 'set', ANN, '--quota', '1M'], { config: env.configPath });
  const retried = await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === second.queueId && l.status === 'delivered', 10_000, since, 'the retry to deliver');
  assert.ok(Number(retried.attempt) >= 2, 'delivered by a retry');
  const box = await env.mailbox(ANN);
  assert.equal(box.length, 2);
  assert.equal(box.filter((f) => f.data.includes(second.messageId)).length, 1);
});

test('early talkers: a client that speaks before the greeting gets 421; the MX delay is on by default and configurable, off for submission', async (t) => {
  const env = await createEnv(t, {
    listeners: [
      { name: 'mx', tls: 'starttls', auth: 'none', earlyTalkerDelayMs: null },
      { name: 'slow', tls: 'starttls', auth: 'none', earlyTalkerDelayMs: 400 },
      { name: 'submission', tls: 'starttls', auth: 'required', earlyTalkerDelayMs: null },
    ],
  });
  /** Connect, optionally talk at once, and collect what the server says within `ms`. */
  const session = (port: number, talkFirst: boolean, ms: number) =>
    new Promise<{ data: string; greetingAfter: number | undefined; closed: boolean }>((resolve) => {
      const started = Date.now();
      let data = '';
      let greetingAfter: number | undefined;
      let closed = false;
      const socket = connect({ host: '127.0.0.1', port }, () => {
        if (talkFirst) socket.write('EHLO early.example.test\r\n');
      });
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        if (data === '') greetingAfter = Date.now() - started;
        data += d;
      });
      socket.on('error', () => undefined);
      socket.on('close', () => (closed = true));
      setTimeout(() => {
        socket.destroy();
        resolve({ data, greetingAfter, closed });
      }, ms);
    });

  const early = await session(env.ports.slow!, true, 1000);
  assert.match(early.data, /^421 /, `an early talker is refused: ${JSON.stringify(early.data)}`);
  assert.ok(!/^220 /m.test(early.data), 'and never greeted');

  const patient = await session(env.ports.slow!, false, 1000);
  assert.match(patient.data, /^220 /);
  assert.ok(patient.greetingAfter! >= 380, `the greeting waits the configured 400 ms (${patient.greetingAfter} ms)`);

  // Default for an MX listener (auth none): 100 ms.
  const mx = await session(env.ports.mx!, false, 600);
  assert.match(mx.data, /^220 /);
  assert.ok(mx.greetingAfter! >= 90, `MX greets after its default early-talker delay (${mx.greetingAfter} ms)`);
  const mxEarly = await session(env.ports.mx!, true, 600);
  assert.match(mxEarly.data, /^421 /, 'the default MX delay catches early talkers too');
  // Submission (auth required) has no delay by default: the greeting comes at once. Best of five
  // tries, so a busy machine does not make a slow greeting look like the 100 ms delay.
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const sub = await session(env.ports.submission!, false, 150);
    assert.match(sub.data, /^220 /);
    times.push(sub.greetingAfter!);
  }
  assert.ok(Math.min(...times) < 90, `submission greets without the early-talker delay (${times.join(', ')} ms)`);
});
