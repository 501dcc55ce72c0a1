/**
 * The outbound queue's parts on their own: MX resolution against a real dnsmasq (order, shuffling
 * of equal preferences, implicit MX, null MX, NXDOMAIN, a dead resolver), the connection limits,
 * the retry schedule and reply parsing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimits } from '../core/src/outbound/connection-limits.js';
import { resolveMx } from '../core/src/outbound/mx-resolver.js';
import { parseReply } from '../core/src/outbound/smtp-send.js';
import { clampRetryAt, isDelayWarningDue, isExpired, nextAttemptAt } from '../core/src/queue/schedule.js';
import { createResolver } from '../core/src/util/dns-resolver.js';
import { freePort, startDns } from './support/index.js';

test('resolveMx: lowest preference first, equal preferences shuffled, implicit MX, null MX, NXDOMAIN, lookup failures', async (t) => {
  const dns = await startDns(t, {
    mx: [
      { domain: 'multi.test', host: 'backup.multi.test', preference: 30 },
      { domain: 'multi.test', host: 'a.multi.test', preference: 10 },
      { domain: 'multi.test', host: 'b.multi.test', preference: 10 },
      { domain: 'noaddr.test', host: 'ghost.noaddr.test', preference: 10 },
    ],
    a: [
      { name: 'a.multi.test', address: '192.0.2.1' },
      { name: 'b.multi.test', address: '192.0.2.2' },
      { name: 'backup.multi.test', address: '192.0.2.3' },
      { name: 'implicit.test', address: '192.0.2.9' },
    ],
    aaaa: [{ name: 'a.multi.test', address: '2001:db8::1' }],
    nullMx: ['nullmx.test'],
  });
  const resolver = createResolver({ servers: [dns.server], timeoutMs: 1000 });

  const orders = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const result = await resolveMx(resolver, 'multi.test');
    assert.ok(result.ok);
    const names = result.hosts.map((h) => h.name);
    assert.equal(names[2], 'backup.multi.test', 'the backup (30) always last');
    orders.add(names.slice(0, 2).join(','));
  }
  assert.deepEqual([...orders].sort(), ['a.multi.test,b.multi.test', 'b.multi.test,a.multi.test'], 'both orders of the two preference-10 hosts occur');
  const fixed = await resolveMx(resolver, 'multi.test', () => 0.5);
  assert.ok(fixed.ok);
  assert.deepEqual(fixed.hosts.find((h) => h.name === 'a.multi.test')!.addresses, ['192.0.2.1', '2001:db8::1'], 'IPv4 first, then IPv6');

  assert.deepEqual(await resolveMx(resolver, 'implicit.test'), { ok: true, hosts: [{ name: 'implicit.test', addresses: ['192.0.2.9'], preference: 0 }] });
  assert.deepEqual(await resolveMx(resolver, 'nullmx.test'), { ok: false, permanent: true, code: 556, enhanced: '5.1.10', message: 'Domain nullmx.test does not accept mail (null MX)' });
  const nx = await resolveMx(resolver, 'missing.test');
  assert.equal(nx.ok, false);
  assert.ok(!nx.ok && nx.permanent && nx.enhanced === '5.1.2');
  const noAddress = await resolveMx(resolver, 'noaddr.test');
  assert.ok(!noAddress.ok && !noAddress.permanent && noAddress.enhanced === '4.4.4', JSON.stringify(noAddress));
  assert.deepEqual(await resolveMx(resolver, '[192.0.2.7]'), { ok: true, hosts: [{ name: '[192.0.2.7]', addresses: ['192.0.2.7'], preference: 0 }] });

  // Nobody answers on this port: temporary, so the message is retried, never bounced.
  const dead = createResolver({ servers: [`127.0.0.1:${await freePort()}`], timeoutMs: 200 });
  const failed = await resolveMx(dead, 'multi.test');
  assert.ok(!failed.ok && !failed.permanent && failed.code === 451 && failed.enhanced === '4.4.3', JSON.stringify(failed));
});

test('ConnectionLimits: at most N to one destination and M in total; waiters get slots in order', async () => {
  const limits = new ConnectionLimits(3, 2);
  const a1 = await limits.acquire('a');
  const a2 = await limits.acquire('a');
  let a3: (() => void) | undefined;
  const waitingA = limits.acquire('a').then((release) => (a3 = release));
  const b1 = await limits.acquire('b');
  let c1: (() => void) | undefined;
  const waitingC = limits.acquire('c').then((release) => (c1 = release));
  await new Promise((r) => setImmediate(r));
  assert.equal(limits.open, 3);
  assert.equal(a3, undefined, 'a third connection to a waits (2 per destination)');
  assert.equal(c1, undefined, 'c waits for the total (3)');
  // a1 frees a total slot: c asked for one first and gets it; the next a has a's slot and now waits for the total.
  a1();
  await waitingC;
  assert.equal(limits.open, 3);
  assert.equal(a3, undefined);
  b1();
  await waitingA;
  assert.equal(limits.open, 3);
  a1(); // a second release of the same slot does nothing
  a2();
  a3!();
  c1!();
  assert.equal(limits.open, 0);
});

test('the schedule: backoff between the minimum and maximum wait; a plugin\'s time is clamped; expiry and the delay warning', () => {
  const schedule = { retryIntervalSec: 300, backoff: 2, maxRetryIntervalSec: 3600, minTimeInQueueSec: 60, maxTimeInQueueSec: 432_000, delayWarningSec: 14_400 };
  const now = 1_000_000_000;
  const waits = [1, 2, 3, 4, 5, 6].map((n) => (nextAttemptAt(now, n, schedule) - now) / 60_000);
  assert.deepEqual(waits, [5, 10, 20, 40, 60, 60]);
  assert.equal(nextAttemptAt(now, 1, { ...schedule, retryIntervalSec: 10 }) - now, 60_000, 'never below minTimeInQueueSec');
  assert.equal(clampRetryAt(now + 1000, now, now, schedule), now + 60_000);
  assert.equal(clampRetryAt(now + 10 * 86_400_000, now, now, schedule), now + 432_000_000);
  assert.equal(isExpired(now + 432_000_000, now, schedule), true);
  assert.equal(isExpired(now + 431_999_000, now, schedule), false);
  assert.equal(isDelayWarningDue(now + 14_400_000, now, false, schedule), true);
  assert.equal(isDelayWarningDue(now + 14_400_000, now, true, schedule), false, 'once');
  assert.equal(isDelayWarningDue(now + 14_400_000, now, false, { ...schedule, delayWarningSec: 0 }), false, '0 = never');
});

test('parseReply: code, enhanced code (or the class default) and text, multi-line replies joined', () => {
  assert.deepEqual(parseReply('550 5.1.1 <bob@x.test>: User unknown'), { code: 550, enhanced: '5.1.1', message: '<bob@x.test>: User unknown' });
  assert.deepEqual(parseReply('451 Try later'), { code: 451, enhanced: '4.0.0', message: 'Try later' });
  assert.deepEqual(parseReply('550-5.7.1 Blocked\r\n550 5.7.1 see https://x.test'), { code: 550, enhanced: '5.7.1', message: 'Blocked 5.7.1 see https://x.test' });
  assert.deepEqual(parseReply('garbage'), { code: 451, enhanced: '4.0.0', message: 'garbage' });
});
