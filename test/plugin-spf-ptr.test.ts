/**
 * The spf-ptr plugin end to end: a real Postern asking a real DNS (dnsmasq) about its client,
 * 127.0.0.1 = mail.good.test (forward-confirmed), with SPF for good.test (pass), bad.test (-all)
 * and other.test (pass, but not the client's reverse DNS).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANN, createEnv, makeMessage, sleep, startDns, WORLD } from './support/index.js';
import type { TestContext } from 'node:test';

async function posternWith(t: TestContext) {
  const dns = await startDns(t, {
    txt: [
      { name: 'good.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
      { name: 'bad.test', text: 'v=spf1 ip4:192.0.2.1 -all' },
      { name: 'other.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
    ],
    // RECIPES' trap: the plugin asks resolvePtr('1.0.0.127.in-addr.arpa'), never /etc/hosts.
    ptr: [{ name: '1.0.0.127.in-addr.arpa', target: 'mail.good.test' }],
    a: [{ name: 'mail.good.test', address: '127.0.0.1' }],
  });
  return createEnv(t, {
    ...WORLD,
    plugins: { 'spf-ptr': { enabled: true, ptr: 'reject' } },
    extra: { dns: { servers: [dns.server], timeoutMs: 1000 } },
  });
}

test('spf-ptr with a real DNS: pass delivered, SPF fail 550 5.7.23, PTR mismatch 550 5.7.25', async (t) => {
  const env = await posternWith(t);

  const client = await env.connect('mx');
  await client.ehlo('mail.good.test');
  const message = makeMessage({ subject: 'spf pass' });
  const sent = await client.send('a@good.test', [ANN], message.text);
  assert.equal(sent.final.code, 250, sent.final.raw);

  const bad = await client.cmd('MAIL FROM:<a@bad.test>');
  assert.equal(bad.code, 550, bad.raw);
  assert.match(bad.raw, /5\.7\.23/);
  assert.match(bad.raw, /SPF/);

  const other = await client.cmd('MAIL FROM:<a@other.test>');
  assert.equal(other.code, 550, other.raw);
  assert.match(other.raw, /5\.7\.25/);
  assert.match(other.raw, /reverse DNS/);
  await client.quit();

  let files = await env.mailbox(ANN);
  for (let i = 0; files.length === 0 && i < 50; i++) {
    await sleep(100);
    files = await env.mailbox(ANN);
  }
  assert.equal(files.length, 1);
});
