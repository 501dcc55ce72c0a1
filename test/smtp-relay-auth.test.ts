/**
 * Relay control and SMTP AUTH, end to end: no open relay from an unauthenticated, untrusted
 * client; authenticated submission may relay; AUTH only over TLS; wrong passwords are refused
 * slowly; implicit TLS; submission demands AUTH.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import {
  createEnv,
  posternOk,
  WORLD,
  DEFAULT_LISTENERS,
  makeMessage,
  PASSWORD,
  queueIdOf,
  sendWithNodemailer,
  smtplibSend,
  splitReceived,
  stepOf,
  type Env,
} from './support/index.js';

const ANN = 'ann@example.test';
const BOB = 'bob@example.test';
const REMOTE = 'someone@remote.test';

/** nodemailer errors carry the SMTP reply. */
interface SmtpFailure extends Error {
  responseCode?: number;
  response?: string;
  code?: string;
}

async function expectDelivered(env: Env, queueId: string, to: string, messageId: string, sent: Buffer, receivedWith: string): Promise<void> {
  const line = await env.server.waitForDelivery(queueId, to);
  assert.equal(line.status, 'delivered', JSON.stringify(line));
  const copies = (await env.mailbox(to)).filter((f) => f.data.includes(`Message-ID: <${messageId}>`));
  assert.equal(copies.length, 1, `one copy for ${to}`);
  const { received, rest } = splitReceived(copies[0]!.data);
  assert.ok(received.includes(`with ${receivedWith} id ${queueId}`), `Received says "with ${receivedWith} id ${queueId}": ${received}`);
  assert.ok(rest.equals(sent), 'delivered intact');
}

test('open relay refused: an unauthenticated, untrusted client cannot send to a remote domain (554 5.7.1), even with a local sender', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  for (const tls of [false, true]) {
    const client = await env.connect('mx');
    await client.ehlo();
    if (tls) {
      assert.equal((await client.starttls()).code, 220);
      await client.ehlo();
    }
    for (const sender of ['spammer@evil.test', ANN, '']) {
      assert.equal((await client.cmd(`MAIL FROM:<${sender}>`)).code, 250);
      const rcpt = await client.cmd(`RCPT TO:<${REMOTE}>`);
      assert.ok(rcpt.code === 554 || rcpt.code === 550, `relay refused with 554/550, got ${rcpt.raw}`);
      assert.equal(rcpt.enhanced, '5.7.1', rcpt.raw);
      // Percent hack and source routes must not sneak a remote recipient in either.
      for (const trick of ['someone%remote.test@example.test', '@example.test:someone@remote.test']) {
        const r = await client.cmd(`RCPT TO:<${trick}>`);
        assert.ok(r.code >= 500, `${trick} refused, got ${r.raw}`);
      }
      // Nothing accepted: DATA has no valid recipient.
      const data = await client.cmd('DATA');
      assert.ok(data.code >= 500, `DATA without recipients refused, got ${data.raw}`);
      assert.equal((await client.cmd('RSET')).code, 250);
    }
    await client.quit();
  }
  assert.equal(env.server.find((l) => l.msg === 'smtp transaction' && l.status === 'queued').length, 0, 'nothing was queued');
});

test('an authenticated submission session may relay to a remote domain: 250, then deferred while the relay is unreachable, and kept across a restart', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const message = makeMessage({ from: ANN, to: REMOTE });
  const result = await sendWithNodemailer({
    port: env.ports.submission!,
    requireTLS: true,
    auth: { user: ANN, pass: PASSWORD },
    from: ANN,
    to: [REMOTE],
    raw: message.bytes,
  });
  assert.match(result.response, /^250 /);
  assert.ok(result.queueId);
  assert.deepEqual(result.accepted, [REMOTE]);
  const line = await env.server.waitForDelivery(result.queueId, REMOTE);
  assert.equal(line.status, 'deferred', JSON.stringify(line));
  const tx = env.server.find((l) => l.msg === 'smtp transaction' && l.queueId === result.queueId);
  assert.equal(tx[0]?.user, ANN, 'the transaction log names the authenticated user');
  assert.equal(line.code, 451);
  // Deferred, not lost: it stays in the spool and the queue, also after a restart.
  assert.equal(await env.restartCountRecovered(), 1, 'the deferred message is still spooled after a restart');
  const listed = JSON.parse((await posternOk(['queue', 'list', '--json'], { config: env.configPath })).stdout) as Array<Record<string, unknown>>;
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.id, result.queueId);
  assert.deepEqual(listed[0]!.recipients, [REMOTE]);
  assert.equal(listed[0]!.status, 'deferred');
  assert.equal(listed[0]!.lastCode, 451, 'the error code is visible');
  // Not retried before its time; `queue retry` makes it due now.
  const since = env.server.logs.length;
  await posternOk(['queue', 'retry', result.queueId], { config: env.configPath });
  const again = await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === result.queueId, 5000, since, 'the retry');
  assert.equal(again.status, 'deferred');
  assert.equal(again.attempt, 2);
});

test('AUTH over STARTTLS works with nodemailer (AUTH PLAIN/LOGIN) and the message is delivered (ESMTPSA)', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  for (const method of ['PLAIN', 'LOGIN'] as const) {
    const message = makeMessage({ from: ANN, to: BOB, subject: `auth ${method}` });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: env.ports.submission!,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: ANN, pass: PASSWORD, method },
      name: 'nodemailer.client.test',
    });
    const info = await transport.sendMail({ envelope: { from: ANN, to: [BOB] }, raw: message.bytes });
    transport.close();
    const queueId = queueIdOf(info.response);
    assert.ok(queueId, info.response);
    await expectDelivered(env, queueId, BOB, message.id, message.bytes, 'ESMTPSA');
    assert.ok(env.server.find((l) => l.msg === 'authenticated' && l.username === ANN && l.method === method).length >= 1, `logged the ${method} login`);
  }
});

test('AUTH over STARTTLS works with python3 smtplib on the submission listener', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const message = makeMessage({ from: ANN, to: BOB, subject: 'smtplib auth' });
  const file = join(env.dir, 'message.eml');
  await writeFile(file, message.bytes);
  const result = await smtplibSend({ PORT: env.ports.submission!, MODE: 'starttls', AUTH_USER: ANN, AUTH_PASS: PASSWORD, FROM: ANN, TO: [BOB], MSG_FILE: file });
  assert.equal(result.error, undefined, JSON.stringify(result));
  assert.equal(stepOf(result, 'auth')?.code, 235);
  const data = stepOf(result, 'data');
  assert.equal(data?.code, 250, JSON.stringify(result));
  await expectDelivered(env, queueIdOf(data.text)!, BOB, message.id, message.bytes, 'ESMTPSA');
});

test('implicit TLS (465-style) with AUTH works: nodemailer and python3 smtplib', async (t) => {
  const env = await createEnv(t, { ...WORLD });

  const m1 = makeMessage({ from: ANN, to: BOB, subject: 'implicit tls nodemailer' });
  const r1 = await sendWithNodemailer({ port: env.ports.submissions!, secure: true, auth: { user: ANN, pass: PASSWORD }, from: ANN, to: [BOB], raw: m1.bytes });
  assert.ok(r1.queueId, r1.response);
  await expectDelivered(env, r1.queueId, BOB, m1.id, m1.bytes, 'ESMTPSA');

  const m2 = makeMessage({ from: ANN, to: BOB, subject: 'implicit tls smtplib' });
  const file = join(env.dir, 'message.eml');
  await writeFile(file, m2.bytes);
  const r2 = await smtplibSend({ PORT: env.ports.submissions!, MODE: 'ssl', AUTH_USER: ANN, AUTH_PASS: PASSWORD, FROM: ANN, TO: [BOB], MSG_FILE: file });
  assert.equal(r2.error, undefined, JSON.stringify(r2));
  const data = stepOf(r2, 'data');
  assert.equal(data?.code, 250, JSON.stringify(r2));
  await expectDelivered(env, queueIdOf(data.text)!, BOB, m2.id, m2.bytes, 'ESMTPSA');

  // The implicit-TLS port speaks TLS from the first byte: a plaintext client gets no greeting.
  const got = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: env.ports.submissions! });
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (data += d));
    s.on('error', () => resolve(data));
    s.on('close', () => resolve(data));
    setTimeout(() => {
      s.destroy();
      resolve(data);
    }, 500);
  });
  assert.ok(!got.startsWith('220'), `no plaintext greeting on the implicit TLS port (got ${JSON.stringify(got)})`);
});

test('AUTH without TLS is refused with 538 5.7.11 (allowInsecureAuth false), and the session stays unauthenticated', async (t) => {
  const env = await createEnv(t, {
    ...WORLD,
    listeners: [...DEFAULT_LISTENERS, { name: 'plain', tls: 'none', auth: 'optional', earlyTalkerDelayMs: 0 }],
  });
  const client = await env.connect('plain');
  const ehlo = await client.ehlo();
  assert.equal(ehlo.code, 250);
  assert.ok(!ehlo.lines.includes('STARTTLS'), 'tls: none offers no STARTTLS');

  const plain = await client.authPlain(ANN, PASSWORD);
  assert.equal(plain.code, 538, plain.raw);
  assert.equal(plain.enhanced, '5.7.11');

  const login = await client.cmd('AUTH LOGIN');
  if (login.code === 334) {
    // Some servers only refuse after the credentials; either way the result must be 538.
    await client.cmd(Buffer.from(ANN).toString('base64'));
    const final = await client.cmd(Buffer.from(PASSWORD).toString('base64'));
    assert.equal(final.code, 538, final.raw);
  } else {
    assert.equal(login.code, 538, login.raw);
    assert.equal(login.enhanced, '5.7.11');
  }

  // Not logged in: relaying is still refused.
  assert.equal((await client.cmd(`MAIL FROM:<${ANN}>`)).code, 250);
  const rcpt = await client.cmd(`RCPT TO:<${REMOTE}>`);
  assert.equal(rcpt.code, 554, rcpt.raw);
  assert.equal(rcpt.enhanced, '5.7.1');
  await client.quit();
  assert.equal(env.server.find((l) => l.msg === 'authenticated').length, 0, 'no login happened');
});

test('a wrong password (or unknown user) gets 535 5.7.8 after a delay; the session stays unauthenticated (530 at MAIL on submission)', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const client = await env.connect('submission');
  await client.ehlo();
  assert.equal((await client.starttls()).code, 220);
  await client.ehlo();

  const started = Date.now();
  const wrong = await client.authPlain(ANN, 'not the password');
  const elapsed = Date.now() - started;
  assert.equal(wrong.code, 535, wrong.raw);
  assert.equal(wrong.enhanced, '5.7.8');
  assert.ok(elapsed >= 900, `the refusal is delayed (~1 s), took ${elapsed} ms`);

  const unknown = await client.authPlain('nobody@example.test', PASSWORD);
  assert.equal(unknown.code, 535, 'an unknown user gets the same answer');
  assert.equal(unknown.enhanced, '5.7.8');

  const mail = await client.cmd(`MAIL FROM:<${ANN}>`);
  assert.equal(mail.code, 530, mail.raw);

  // The right password still works afterwards on the same connection.
  const ok = await client.authPlain(ANN, PASSWORD);
  assert.equal(ok.code, 235, ok.raw);
  assert.equal((await client.cmd(`MAIL FROM:<${ANN}>`)).code, 250);
  await client.quit();
});

test('submission without AUTH: MAIL FROM gets 530 (also for local recipients); nodemailer without credentials fails', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  for (const name of ['submission', 'submissions']) {
    const client = await env.connect(name, { tls: name === 'submissions' });
    const ehlo = await client.ehlo();
    assert.equal(ehlo.code, 250);
    if (name === 'submission') {
      assert.equal((await client.starttls()).code, 220);
      await client.ehlo();
    }
    const mail = await client.cmd(`MAIL FROM:<${ANN}>`);
    assert.equal(mail.code, 530, `${name}: ${mail.raw}`);
    await client.quit();
  }
  await assert.rejects(
    sendWithNodemailer({ port: env.ports.submission!, requireTLS: true, from: 'x@remote.test', to: [ANN], raw: makeMessage().bytes }),
    (err: SmtpFailure) => err.responseCode === 530,
  );
  assert.deepEqual(await env.mailbox(ANN), []);
});
