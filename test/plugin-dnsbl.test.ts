/**
 * The dnsbl plugin against a real DNS (dnsmasq): end to end, a real Postern asking about its client
 * 127.0.0.1, listed in zen.test as 127.0.0.2 with a TXT reason; and through the SDK harness, the
 * cache honouring the answers' TTLs (dnsmasq `local-ttl`), its floor, ceiling and negative TTL.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { test } from 'node:test';
import type { PluginDns } from '@postern/sdk';
import { createHarness } from '@postern/sdk/testing';
import plugin from '../plugins/dnsbl/src/index.js';
import type { DnsblOptions, DnsblResult } from '../plugins/dnsbl/src/index.js';
import { ANN, RawSmtp, createEnv, makeMessage, sleep, startDns, WORLD } from './support/index.js';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readManifest, validatePluginOptions } from '../core/src/plugin-host/manifest.js';

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

// ---- the cache, through the harness, against dnsmasq

const LISTED_V6 = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test';

/**
 * A harness whose api.dns is a real Resolver pointed at a dnsmasq whose answers carry `localTtl`;
 * `asked(name)` counts the A queries that reached the resolver (nothing answers but dnsmasq).
 */
async function cacheHarness(t: TestContext, localTtl: number, options: Partial<DnsblOptions>) {
  const dns = await startDns(t, { a: [{ name: LISTED, address: '127.0.0.2' }, { name: LISTED_V6, address: '127.0.0.2' }], txt: [{ name: LISTED, text: REASON }] }, { localTtl });
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([dns.server]);
  const asked: string[] = [];
  const counting = {
    resolve4: (name: string, o?: { ttl: true }) => {
      asked.push(name);
      return o ? resolver.resolve4(name, o) : resolver.resolve4(name);
    },
    resolve6: (name: string, o?: { ttl: true }) => (o ? resolver.resolve6(name, o) : resolver.resolve6(name)),
    resolveMx: (name: string) => resolver.resolveMx(name),
    resolveTxt: (name: string) => resolver.resolveTxt(name),
    resolvePtr: (name: string) => resolver.resolvePtr(name),
  } as PluginDns;
  const h = await createHarness(plugin, { options: { zones: [{ zone: 'zen.test' }], ...options }, dns: counting });
  const connect = async (ip: string) => {
    const session = h.session({ remoteAddress: ip });
    const verdict = await h.run('connect', session);
    return { verdict, result: session.results.get<DnsblResult>('dnsbl') };
  };
  return { connect, count: (name: string) => asked.filter((n) => n === name).length };
}

test('cache: a listed answer is kept for its DNS TTL, NXDOMAIN for the negative TTL, then asked again', async (t) => {
  const { connect, count } = await cacheHarness(t, 2, { cacheMinSeconds: 0, negativeCacheSeconds: 1 });
  const CLEAR = '5.0.0.127.zen.test';
  const first = await connect('127.0.0.1');
  assert.equal(first.verdict?.code, 554);
  assert.equal(first.verdict?.message, REASON);
  assert.equal((await connect('127.0.0.5')).result?.listed, false);
  const again = await connect('127.0.0.1');
  assert.equal(again.verdict?.message, REASON, 'the cached answer keeps its TXT reason');
  await connect('127.0.0.5');
  assert.deepEqual([count(LISTED), count(CLEAR)], [1, 1], 'both answered from the cache');

  await sleep(1200); // past the negative TTL (1 s), within the A TTL (2 s)
  await connect('127.0.0.1');
  await connect('127.0.0.5');
  assert.deepEqual([count(LISTED), count(CLEAR)], [1, 2]);

  await sleep(1000); // past the A TTL
  assert.equal((await connect('127.0.0.1')).verdict?.code, 554);
  assert.equal(count(LISTED), 2);
});

test('cache: the floor keeps a TTL-0 answer, the ceiling cuts a long TTL; 0 turns it off', async (t) => {
  // dnsmasq's default: TTL 0. Without a floor nothing would be kept.
  const floor = await cacheHarness(t, 0, { cacheMinSeconds: 1 });
  await floor.connect('127.0.0.1');
  await floor.connect('127.0.0.1');
  assert.equal(floor.count(LISTED), 1, 'kept for the 1 s floor');
  const noFloor = await cacheHarness(t, 0, { cacheMinSeconds: 0 });
  await noFloor.connect('127.0.0.1');
  await noFloor.connect('127.0.0.1');
  assert.equal(noFloor.count(LISTED), 2, 'TTL 0 and no floor: asked every time');

  const ceiling = await cacheHarness(t, 3600, { cacheMaxSeconds: 1 });
  await ceiling.connect('2001:db8::1');
  await ceiling.connect('2001:db8::1');
  assert.equal(ceiling.count(LISTED_V6), 1, 'an IPv6 client: A of its nibbles, cached the same way');
  await sleep(1200);
  await floor.connect('127.0.0.1');
  await ceiling.connect('2001:DB8:0::1');
  assert.equal(floor.count(LISTED), 2, 'the floor passed');
  assert.equal(ceiling.count(LISTED_V6), 2, 'the ceiling passed, whatever the TTL (another spelling, the same entry)');

  const off = await cacheHarness(t, 3600, { cacheMaxSeconds: 0 });
  await off.connect('127.0.0.1');
  await off.connect('127.0.0.1');
  assert.equal(off.count(LISTED), 2);
});

test('the manifest validates, and its schema\'s defaults are the plugin\'s defaults', async () => {
  const manifest = await readManifest(fileURLToPath(new URL('../plugins/dnsbl', import.meta.url)));
  assert.equal(manifest.name, plugin.name);
  const { options, errors } = validatePluginOptions(manifest, { enabled: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(options, plugin.defaults);
  assert.deepEqual(plugin.validate?.(options as never), []);
});
