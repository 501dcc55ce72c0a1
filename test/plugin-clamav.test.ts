/**
 * The clamav plugin against a real clamd (test signatures only: EICAR by MD5 and by string, and
 * clam.exe of clamav-testfiles by MD5; see test/support/clamd.ts): every ClamAV test sample inside
 * a base64 MIME attachment through the plugin harness, then a real Postern end to end (MX,
 * submission, trusted relay; reject, quarantine, notice; clamd stopping mid-test).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHarness } from '@postern/sdk/testing';
import { readManifest, validatePluginOptions } from '../core/src/plugin-host/manifest.js';
import plugin, { ORIGINAL_FILENAME } from '../plugins/clamav/src/index.js';
import type { ClamavResult } from '../plugins/clamav/src/index.js';
import { mimeParts, parseEntity, withAttachment } from '../plugins/clamav/test/helpers.js';
import { ANN, BOB, CLAMAV_TESTFILES, PASSWORD, createEnv, eicar, makeMessage, queueIdOf, sendWithNodemailer, sleep, startClamd, WORLD } from './support/index.js';
import type { Env, EnvOptions } from './support/index.js';
import type { TestContext } from 'node:test';

async function posternWith(t: TestContext, options: Record<string, unknown> = {}, env: EnvOptions = {}) {
  const clamd = await startClamd(t);
  const server = await createEnv(t, { ...WORLD, ...env, plugins: { clamav: { enabled: true, port: clamd.port, ...options } } });
  return { clamd, env: server };
}

async function sendRaw(env: Env, message: string | Buffer, to = [ANN], listener = 'mx') {
  const client = await env.connect(listener);
  await client.ehlo();
  const sent = await client.send('someone@sender.test', to, message);
  await client.quit();
  return sent.final;
}

const send = (env: Env, body: string) => sendRaw(env, makeMessage({ subject: 'clamav', body }).text);

async function waitForMail(env: Env, address = ANN, folder?: string, count = 1) {
  let files = await env.mailbox(address, folder);
  for (let i = 0; files.length < count && i < 50; i++) {
    await sleep(100);
    files = await env.mailbox(address, folder);
  }
  return files;
}

/** nodemailer errors carry the SMTP reply. */
interface SmtpFailure extends Error {
  responseCode?: number;
  response?: string;
}

// ---- The manifest.

test('the manifest validates; its schema defaults are the plugin\'s defaults; it takes action notice and refuses others', async () => {
  const manifest = await readManifest(new URL('../plugins/clamav', import.meta.url).pathname);
  assert.equal(manifest.name, plugin.name);
  const { options, errors } = validatePluginOptions(manifest, { enabled: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(options, plugin.defaults);
  assert.deepEqual(plugin.validate?.(options as never), []);
  for (const action of ['reject', 'quarantine', 'notice']) {
    assert.deepEqual(validatePluginOptions(manifest, { enabled: true, action }).errors, [], action);
    assert.deepEqual(plugin.validate?.({ ...(options as object), action } as never), [], action);
  }
  assert.equal(validatePluginOptions(manifest, { enabled: true, action: 'replace' }).errors.length, 1);
});

// ---- The plugin (harness) against the real clamd: what it catches.

test('EICAR and every clamav-testfiles sample, each in a base64 MIME attachment, are caught (reject 554)', async (t) => {
  const clamd = await startClamd(t);
  const h = await createHarness(plugin, { options: { port: clamd.port } });
  const names = (await readdir(CLAMAV_TESTFILES)).sort();
  assert.ok(names.length >= 44, `clamav-testfiles has ${names.length} samples in ${CLAMAV_TESTFILES}, expected 44 (apt-get install clamav-testfiles)`);
  const samples: Array<[string, Buffer]> = [['eicar.com', Buffer.from(eicar())]];
  for (const name of names) samples.push([name, await readFile(join(CLAMAV_TESTFILES, name))]);

  const missed: string[] = [];
  for (const [name, data] of samples) {
    const tx = h.transaction({ recipients: [ANN], message: withAttachment(data, name) });
    const verdict = await h.run('data', h.session(), tx);
    const result = tx.results.get<ClamavResult>('clamav');
    if (verdict?.code !== 554 || result?.infected !== true) missed.push(`${name}: ${JSON.stringify({ verdict, result })}`);
    else assert.match(verdict.message ?? '', /^Virus found: Local\.(EICAR\.Test-(File|String)|ClamAV-Test-File)\.UNOFFICIAL$/, name);
  }
  assert.deepEqual(missed, [], `not caught:\n${missed.join('\n')}`);
  assert.equal(samples.length, names.length + 1);
});

test('a clean attachment (random bytes, a text file) passes the real clamd', async (t) => {
  const clamd = await startClamd(t);
  const h = await createHarness(plugin, { options: { port: clamd.port, action: 'notice' } });
  for (const [name, data] of [['noise.bin', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))], ['notes.txt', Buffer.from('nothing to see\n')]] as const) {
    const tx = h.transaction({ recipients: [ANN], message: withAttachment(data, name) });
    assert.equal(await h.run('data', h.session(), tx), undefined, name);
    assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: false, viruses: [] });
    assert.match(tx.message!.toString(), /^Subject: attached\r$/m, 'not replaced');
  }
});

// ---- End to end through a running Postern.

test('a message carrying EICAR is refused with 554 5.7.1 and the signature name', async (t) => {
  const { env } = await posternWith(t);
  const reply = await send(env, `see attached\r\n${eicar()}\r\n`);
  assert.equal(reply.code, 554, reply.raw);
  assert.match(reply.raw, /5\.7\.1 Virus found: Local\.EICAR\.Test-String\.UNOFFICIAL/);
  await sleep(200);
  assert.equal((await env.mailbox(ANN)).length, 0);
});

test('a clamav-testfiles sample (clam.zip) in a base64 attachment is refused through the server', async (t) => {
  const { env } = await posternWith(t);
  const reply = await sendRaw(env, withAttachment(await readFile(join(CLAMAV_TESTFILES, 'clam.zip')), 'clam.zip'));
  assert.equal(reply.code, 554, reply.raw);
  assert.match(reply.raw, /5\.7\.1 Virus found: Local\.ClamAV-Test-File\.UNOFFICIAL/);
  await sleep(200);
  assert.equal((await env.mailbox(ANN)).length, 0);
});

test('a clean message is delivered with X-Virus-Scanned: ClamAV', async (t) => {
  const { env } = await posternWith(t);
  const reply = await send(env, 'Hello Ann,\r\nnothing to see here\r\n');
  assert.equal(reply.code, 250, reply.raw);
  const files = await waitForMail(env);
  assert.equal(files.length, 1);
  assert.match(files[0]!.data.toString(), /^X-Virus-Scanned: ClamAV\r$/m);
});

test('action quarantine: the EICAR message lands in the recipient\'s Quarantine folder', async (t) => {
  const { env } = await posternWith(t, { action: 'quarantine' });
  const reply = await send(env, `see attached\r\n${eicar()}\r\n`);
  assert.equal(reply.code, 250, reply.raw);
  const files = await waitForMail(env, ANN, 'Quarantine');
  assert.equal(files.length, 1);
  assert.match(files[0]!.data.toString(), /^X-Virus-Scanned: ClamAV\r$/m);
  assert.equal((await env.mailbox(ANN)).length, 0);
});

test('action notice: the INBOX gets a notice (multipart/mixed) with the original as an opaque attachment', async (t) => {
  const { env } = await posternWith(t, { action: 'notice' });
  const sent = withAttachment(Buffer.from(eicar()), 'eicar.com', 'Quarterly report');
  const reply = await sendRaw(env, sent, [ANN, BOB]);
  assert.equal(reply.code, 250, reply.raw);
  const queueId = queueIdOf(reply)!;

  for (const rcpt of [ANN, BOB]) {
    const files = await waitForMail(env, rcpt);
    assert.equal(files.length, 1, `one message in ${rcpt}'s INBOX`);
    assert.equal((await env.mailbox(rcpt, 'Quarantine')).length, 0);
    const data = files[0]!.data;
    // The virus is not readable anywhere in the stored file: neither the EICAR string nor the
    // original's base64 of it; only the outer base64 of the whole original is there.
    assert.equal(data.includes('EICAR-STANDARD-ANTIVIRUS-TEST-FILE'), false);
    assert.equal(data.includes(Buffer.from(eicar()).toString('base64').slice(0, 40)), false);

    assert.ok(data.toString('latin1').startsWith('X-Virus-Scanned: ClamAV\r\nReceived: '), 'added headers on top of the notice');
    const notice = parseEntity(data);
    assert.match(notice.headers.get('received')!, new RegExp(`id ${queueId}`));
    assert.equal(notice.headers.get('from'), 'Mail Delivery System <MAILER-DAEMON@mx.example.test>');
    assert.equal(notice.headers.get('to'), 'Ann <ann@example.test>');
    assert.equal(notice.headers.get('subject'), '[virus removed] Quarterly report');
    assert.equal(notice.headers.get('references'), '<sample.1@sender.test>');
    assert.equal(notice.headers.get('auto-submitted'), 'auto-generated');
    // Either EICAR signature (the file's MD5 or the string) may be the one clamd names.
    assert.match(notice.headers.get('x-virus-found')!, /^Local\.EICAR\.Test-(File|String)\.UNOFFICIAL$/);
    assert.match(notice.headers.get('content-type')!, /^multipart\/mixed; boundary="/);

    const parts = mimeParts(notice);
    assert.equal(parts.length, 2);
    const [text, attachment] = parts as [ReturnType<typeof parseEntity>, ReturnType<typeof parseEntity>];
    assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
    for (const expected of [/Virus:\s+Local\.EICAR\.Test-(File|String)\.UNOFFICIAL/, /Mallory <mallory@sender\.test>/, /<someone@sender\.test>/, /Subject:\s+Quarterly report/, /Date:\s+Sun, 06 Dec 2026 10:00:00 \+0000/, new RegExp(`Queue ID:\\s+${queueId}`)]) {
      assert.match(text.body, expected);
    }
    assert.equal(attachment.headers.get('content-type'), `application/octet-stream; name="${ORIGINAL_FILENAME}"`);
    assert.equal(attachment.headers.get('content-disposition'), `attachment; filename="${ORIGINAL_FILENAME}"`);
    assert.equal(attachment.headers.get('content-transfer-encoding'), 'base64');
    assert.ok(Buffer.from(attachment.body, 'base64').equals(sent), 'the original, byte for byte');
  }
});

test('outgoing mail is scanned too: an authenticated submission carrying EICAR is refused, a clean one delivered', async (t) => {
  const { env } = await posternWith(t);
  const infected = makeMessage({ from: ANN, to: BOB, subject: 'from ann', body: `here\r\n${eicar()}\r\n` });
  await assert.rejects(
    sendWithNodemailer({ port: env.ports.submission!, auth: { user: ANN, pass: PASSWORD }, from: ANN, to: [BOB], raw: infected.text }),
    (err: SmtpFailure) => {
      assert.equal(err.responseCode, 554, err.message);
      assert.match(err.response ?? '', /5\.7\.1 Virus found: Local\.EICAR\.Test-String\.UNOFFICIAL/);
      return true;
    },
  );
  const found = await env.server.waitForLog((l) => l.msg === 'clamav: virus found');
  assert.equal(found.user, ANN);
  assert.equal(found.listener, 'submission');

  const clean = makeMessage({ from: ANN, to: BOB, subject: 'from ann' });
  const result = await sendWithNodemailer({ port: env.ports.submission!, auth: { user: ANN, pass: PASSWORD }, from: ANN, to: [BOB], raw: clean.text });
  assert.match(result.response, /^250 /);
  const files = await waitForMail(env, BOB);
  assert.equal(files.length, 1);
  assert.match(files[0]!.data.toString(), /^X-Virus-Scanned: ClamAV\r$/m);
});

test('outgoing mail is scanned too: a trusted-network client relaying EICAR to a remote domain is refused', async (t) => {
  const { env } = await posternWith(t, {}, { trustedNetworks: ['127.0.0.1/32'] });
  const reply = await sendRaw(env, makeMessage({ to: 'someone@remote.test', body: `x\r\n${eicar()}\r\n` }).text, ['someone@remote.test']);
  assert.equal(reply.code, 554, reply.raw);
  const found = await env.server.waitForLog((l) => l.msg === 'clamav: virus found');
  assert.equal(found.trusted, true);
  assert.equal(found.user, undefined);
  // The same client's clean mail is relayed (queued: 250).
  assert.equal((await sendRaw(env, makeMessage({ to: 'someone@remote.test' }).text, ['someone@remote.test'])).code, 250);
});

test('clamd stops mid-test, onError tempfail (default): 451 4.7.1, nothing delivered, the server goes on', async (t) => {
  const { clamd, env } = await posternWith(t);
  assert.equal((await send(env, 'first, scanned\r\n')).code, 250);
  assert.equal((await waitForMail(env)).length, 1);

  await clamd.stop();
  const reply = await send(env, 'second, while clamd is down\r\n');
  assert.equal(reply.code, 451, reply.raw);
  assert.match(reply.raw, /4\.7\.1 Virus scan unavailable/);
  await env.server.waitForLog((l) => l.msg === 'clamav: scan failed');
  await sleep(200);
  assert.equal((await env.mailbox(ANN)).length, 1, 'refused, so the sender keeps it; nothing stored');
  // Still serving: a new session gets its greeting and EHLO.
  const client = await env.connect('mx');
  assert.equal((await client.ehlo()).code, 250);
  await client.quit();
});

test('clamd stops mid-test, onError accept: delivered unscanned (no X-Virus-Scanned), the failure logged', async (t) => {
  const { clamd, env } = await posternWith(t, { onError: 'accept' });
  assert.equal((await send(env, 'first, scanned\r\n')).code, 250);
  assert.equal((await waitForMail(env)).length, 1);

  await clamd.stop();
  const reply = await send(env, 'second, while clamd is down\r\n');
  assert.equal(reply.code, 250, reply.raw);
  const files = await waitForMail(env, ANN, undefined, 2);
  assert.equal(files.length, 2);
  const unscanned = files.filter((f) => !/^X-Virus-Scanned: /m.test(f.data.toString()));
  assert.equal(unscanned.length, 1);
  assert.match(unscanned[0]!.data.toString(), /second, while clamd is down/);
  const failed = await env.server.waitForLog((l) => l.msg === 'clamav: scan failed');
  assert.equal(failed.onError, 'accept');
});
