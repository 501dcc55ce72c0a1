import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import type { PluginDns } from '../src/index.js';
import { clientIp, dnsError, ipv6Hextets, lookupByType, reverseDnsName, reversedIp, withTimeout } from '../src/net.js';
import { startDns } from '../../test/support/dnsmasq.js';

const V6_ONE = ['1', ...new Array<string>(23).fill('0'), '8', 'b', 'd', '0', '1', '0', '0', '2'].join('.');

test('clientIp: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 lower-cased, anything else ""', () => {
  assert.equal(clientIp('192.0.2.1'), '192.0.2.1');
  assert.equal(clientIp('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(clientIp('::FFFF:192.0.2.1'), '192.0.2.1');
  assert.equal(clientIp('2001:DB8::1'), '2001:db8::1');
  assert.equal(clientIp('::ffff:c000:201'), '::ffff:c000:201', 'only the dotted mapped form is rewritten');
  for (const bad of ['', 'unknown', '192.0.2.256', '::ffff:300.1.1.1', '2001:db8::1::2', ' 192.0.2.1']) assert.equal(clientIp(bad), '', bad);
});

test('ipv6Hextets: "::" expanded, 4 lower-case digits each, embedded IPv4 tail converted', () => {
  assert.deepEqual(ipv6Hextets('2001:DB8::1'), ['2001', '0db8', '0000', '0000', '0000', '0000', '0000', '0001']);
  assert.deepEqual(ipv6Hextets('::'), new Array<string>(8).fill('0000'));
  assert.deepEqual(ipv6Hextets('::1'), [...new Array<string>(7).fill('0000'), '0001']);
  assert.deepEqual(ipv6Hextets('fe80::'), ['fe80', ...new Array<string>(7).fill('0000')]);
  assert.deepEqual(ipv6Hextets('2001:db8:1:2:3:4:567:89ab'), ['2001', '0db8', '0001', '0002', '0003', '0004', '0567', '89ab']);
  assert.deepEqual(ipv6Hextets('::ffff:192.0.2.1'), ['0000', '0000', '0000', '0000', '0000', 'ffff', 'c000', '0201']);
  assert.deepEqual(ipv6Hextets('64:ff9b::198.51.100.7'), ['0064', 'ff9b', '0000', '0000', '0000', '0000', 'c633', '6407']);
  assert.deepEqual(ipv6Hextets('fe80::1%eth0'), ['fe80', '0000', '0000', '0000', '0000', '0000', '0000', '0001'], 'zone dropped');
  for (const bad of ['', '192.0.2.1', 'unknown', '1:2:3']) assert.equal(ipv6Hextets(bad), undefined, bad);
});

test('reversedIp: IPv4 octets, mapped IPv4 as IPv4, IPv6 as 32 nibbles; undefined when not an IP', () => {
  assert.equal(reversedIp('1.2.3.4'), '4.3.2.1');
  assert.equal(reversedIp('::FFFF:192.0.2.1'), '1.2.0.192');
  assert.equal(reversedIp('2001:DB8::1'), V6_ONE);
  assert.equal(reversedIp('2001:db8:1:2:3:4:567:89ab'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(reversedIp('64:ff9b::198.51.100.7'), ['7', '0', '4', '6', '3', '3', '6', 'c', ...new Array<string>(16).fill('0'), 'b', '9', 'f', 'f', '4', '6', '0', '0'].join('.'));
  assert.equal(reversedIp('unknown'), undefined);
  assert.equal(reversedIp(''), undefined);
});

test('reverseDnsName: under in-addr.arpa (IPv4, mapped IPv4) or ip6.arpa', () => {
  assert.equal(reverseDnsName('192.0.2.10'), '10.2.0.192.in-addr.arpa');
  assert.equal(reverseDnsName('::ffff:192.0.2.10'), '10.2.0.192.in-addr.arpa');
  assert.equal(reverseDnsName('2001:db8::1'), `${V6_ONE}.ip6.arpa`);
  assert.equal(reverseDnsName('not an ip'), undefined);
});

test('withTimeout: the value or the error; the error made only on timeout, the timer cleared', async () => {
  let made = 0;
  const onTimeout = () => (made++, new Error('too slow'));
  assert.equal(await withTimeout(Promise.resolve(7), 1000, onTimeout), 7);
  await assert.rejects(withTimeout(Promise.reject(new Error('own')), 1000, onTimeout), /own/);
  assert.equal(made, 0);
  await assert.rejects(withTimeout(new Promise<never>(() => {}), 20, onTimeout), /too slow/);
  assert.equal(made, 1);
});

test('dnsError: Node-style code, hostname and message', () => {
  const err = dnsError('ENODATA', 'a.test', 'SRV');
  assert.ok(err instanceof Error);
  assert.deepEqual([err.code, err.hostname, err.message], ['ENODATA', 'a.test', 'query SRV a.test: ENODATA']);
});

/** A PluginDns (what api.dns is) asking the DNS server at `server` ("127.0.0.1:PORT"). */
function dnsAt(server: string, timeout = 1000): { dns: PluginDns; resolver: Resolver } {
  const resolver = new Resolver({ timeout, tries: 1 });
  resolver.setServers([server]);
  return { dns: resolver as unknown as PluginDns, resolver };
}

test('lookupByType against dnsmasq: A, AAAA, MX, TXT, PTR as Node answers them; Node error codes', async (t) => {
  const server = await startDns(t, {
    a: [{ name: 'mail.net.test', address: '192.0.2.10' }],
    aaaa: [{ name: 'mail.net.test', address: '2001:db8::10' }],
    mx: [{ domain: 'net.test', host: 'mail.net.test', preference: 10 }],
    txt: [{ name: 'net.test', text: 'v=spf1 a:mail.net.test -all' }],
  });
  const lookup = lookupByType(dnsAt(server.server).dns, 2000);
  assert.deepEqual(await lookup('mail.net.test', 'A'), ['192.0.2.10']);
  assert.deepEqual(await lookup('mail.net.test', 'aaaa'), ['2001:db8::10'], 'the type in any case');
  assert.deepEqual(await lookup('net.test', 'MX'), [{ exchange: 'mail.net.test', priority: 10 }]);
  assert.deepEqual(await lookup('net.test', 'TXT'), [['v=spf1 a:mail.net.test -all']]);
  assert.deepEqual(await lookup(reverseDnsName('192.0.2.10')!, 'PTR'), ['mail.net.test']);
  await assert.rejects(lookup('nowhere.test', 'A'), { code: 'ENOTFOUND' });
  await assert.rejects(lookup('net.test', 'A'), { code: 'ENODATA' });
  await assert.rejects(lookup('net.test', 'SRV'), { code: 'ENODATA', hostname: 'net.test', message: 'query SRV net.test: ENODATA' });
});

test('lookupByType: a server that never answers is ETIMEOUT after timeoutMs', async (t) => {
  // A UDP socket that reads queries and answers none: the resolver's own timeout (5 s) is longer.
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.after(() => silent.close());
  const { dns, resolver } = dnsAt(`127.0.0.1:${silent.address().port}`, 5000);
  t.after(() => resolver.cancel());
  const lookup = lookupByType(dns, 50);
  const started = Date.now();
  await assert.rejects(lookup('slow.test', 'TXT'), { code: 'ETIMEOUT', hostname: 'slow.test', message: 'query TXT slow.test: ETIMEOUT' });
  assert.ok(Date.now() - started < 2000);
});
