/**
 * The clamav plugin end to end: a real Postern scanning each message with a real clamd (test
 * signatures only: EICAR by MD5 and by string, see test/support/clamd.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANN, createEnv, eicar, makeMessage, sleep, startClamd, WORLD } from './support/index.js';
import type { TestContext } from 'node:test';

async function posternWith(t: TestContext, options: Record<string, unknown> = {}) {
  const clamd = await startClamd(t);
  const env = await createEnv(t, { ...WORLD, plugins: { clamav: { enabled: true, port: clamd.port, ...options } } });
  return { clamd, env };
}

async function send(env: Awaited<ReturnType<typeof createEnv>>, body: string) {
  const client = await env.connect('mx');
  await client.ehlo();
  const sent = await client.send('someone@sender.test', [ANN], makeMessage({ subject: 'clamav', body }).text);
  await client.quit();
  return sent.final;
}

async function waitForMail(env: Awaited<ReturnType<typeof createEnv>>, folder?: string) {
  let files = await env.mailbox(ANN, folder);
  for (let i = 0; files.length === 0 && i < 50; i++) {
    await sleep(100);
    files = await env.mailbox(ANN, folder);
  }
  return files;
}

test('a message carrying EICAR is refused with 554 5.7.1 and the signature name', async (t) => {
  const { env } = await posternWith(t);
  const reply = await send(env, `see attached\r\n${eicar()}\r\n`);
  assert.equal(reply.code, 554, reply.raw);
  assert.match(reply.raw, /5\.7\.1 Virus found: Local\.EICAR\.Test-String\.UNOFFICIAL/);
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
  const files = await waitForMail(env, 'Quarantine');
  assert.equal(files.length, 1);
  assert.match(files[0]!.data.toString(), /^X-Virus-Scanned: ClamAV\r$/m);
  assert.equal((await env.mailbox(ANN)).length, 0);
});

test('clamd down: 451 4.7.1, nothing delivered', async (t) => {
  const { clamd, env } = await posternWith(t);
  await clamd.stop();
  const reply = await send(env, 'Hello Ann\r\n');
  assert.equal(reply.code, 451, reply.raw);
  assert.match(reply.raw, /4\.7\.1/);
  await sleep(200);
  assert.equal((await env.mailbox(ANN)).length, 0);
});
