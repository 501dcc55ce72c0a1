/**
 * What a trusted plugin gets besides taps: `api.dns` through the server's resolvers (a real
 * dnsmasq here) and `api.kv`, persistent state in the server's database (it survives a restart).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnv, makeMessage, startDns, WORLD } from './support/index.js';

const plugin = `
export default {
  setup(api) {
    api.tap('mailFrom', async (_session, tx) => {
      const seen = (await api.kv.get('senders')) ?? 0;
      await api.kv.set('senders', seen + 1);
      await api.kv.set('short-lived', true, { ttlMs: 1 });
      const mx = await api.dns.resolveMx(tx.mailFrom.domain).catch((err) => err.code);
      api.log.info({ seen: seen + 1, mx }, 'capabilities');
      if (typeof mx === 'string') return { action: 'reject', message: 'Sender domain has no mail servers' };
      return undefined;
    });
  },
};`;

test('a trusted plugin resolves through the configured DNS and keeps kv state across a restart', async (t) => {
  const dns = await startDns(t, { mx: [{ domain: 'sender.test', host: 'mx.sender.test', preference: 10 }], a: [{ name: 'mx.sender.test', address: '127.0.0.1' }] });
  const env = await createEnv(t, {
    ...WORLD,
    testPlugins: { caps: plugin },
    plugins: { caps: { enabled: true } },
    extra: { dns: { servers: [dns.server], timeoutMs: 1000 } },
  });
  const client = await env.connect('mx');
  await client.ehlo();
  const good = await client.send('a@sender.test', ['ann@example.test'], makeMessage().text);
  assert.equal(good.final.code, 250, good.final.raw);
  const bad = await client.cmd('MAIL FROM:<b@nomx.test>');
  assert.equal(bad.code, 550, bad.raw);
  await client.quit();
  // The log line may reach us a moment after the client's reply: wait for both.
  await env.server.waitForLog((l) => l.msg === 'capabilities' && l.seen === 2);
  const lines = env.server.find((l) => l.msg === 'capabilities');
  assert.deepEqual(lines.map((l) => [l.seen, l.mx]), [[1, [{ exchange: 'mx.sender.test', priority: 10 }]], [2, 'ENOTFOUND']]);

  await env.restartCountRecovered();
  const again = await env.connect('mx');
  await again.ehlo();
  await again.cmd('MAIL FROM:<c@sender.test>');
  await again.quit();
  const after = await env.server.waitForLog((l) => l.msg === 'capabilities');
  assert.equal(after.seen, 3, 'the count survived the restart');
});
