/**
 * The dnsbl plugin end to end: a real Postern asking a real DNS (dnsmasq) about its client,
 * 127.0.0.1, listed in zen.test as 127.0.0.2 with a TXT reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANN, RawSmtp, createEnv, makeMessage, sleep, startDns, WORLD } from './support/index.js';
import type { TestContext } from 'node:test';

const LISTED = '1.0.0.127.zen.test';
const REASON = 'Listed: see https://zen.test/127.0.0.1';

async function posternWith(t: TestContext, zone: Record<string, unknown>) {
  const dns = await startDns(t, { a: [{ name: LISTED, address: '127.0.0.2' }], txt: [{ name: LISTED, text: REASON }] });
  return createEnv(t, {
    ...WORLD,
    plugins: { dnsbl: { enabled: true, zones: [zone] } },
    extra: { dns: { servers: [dns.server], timeoutMs: 1000 } },
  });
}

test('a listed client gets 554 5.7.1 with the list\'s TXT reason at connect', async (t) => {
  const env = await posternWith(t, { zone: 'zen.test' });
  const { client, greeting } = await RawSmtp.connect(env.ports.mx!);
  t.after(() => client.close());
  assert.equal(greeting.code, 554, greeting.raw);
  assert.match(greeting.raw, /5\.7\.1/);
  assert.match(greeting.raw, /Listed: see https:\/\/zen\.test\/127\.0\.0\.1/);
});

test('with returnCodes excluding 127.0.0.2 the client is accepted and its mail delivered', async (t) => {
  const env = await posternWith(t, { zone: 'zen.test', returnCodes: ['127.0.0.3-127.0.0.11'] });
  const client = await env.connect('mx');
  await client.ehlo();
  const message = makeMessage({ subject: 'not listed' });
  const sent = await client.send('someone@sender.test', [ANN], message.text);
  assert.equal(sent.final.code, 250, sent.final.raw);
  await client.quit();
  let files = await env.mailbox(ANN);
  for (let i = 0; files.length === 0 && i < 50; i++) {
    await sleep(100);
    files = await env.mailbox(ANN);
  }
  assert.equal(files.length, 1);
});
