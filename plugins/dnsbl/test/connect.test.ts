import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stage } from '@postern/sdk';
import { dnsblHarness } from './helpers.js';
import type { DnsblResult } from '../src/index.js';

const LISTED = '4.3.2.1.zen.test';
const zen = { a: ['127.0.0.2'], txt: [['Listed: see https://zen.test/', '1.2.3.4']] };

test('connect tap runs at Stage.REPUTATION, after access', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] });
  assert.deepEqual(h.taps('connect').map((t) => t.stage), [Stage.REPUTATION]);
});

test('a listed IPv4 client: 554 5.7.1 with the TXT reason, result recorded', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test', message: 'unused' }] }, { [LISTED]: zen });
  const session = h.session({ remoteAddress: '1.2.3.4' });
  const verdict = await h.run('connect', session);
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.code, 554);
  assert.equal(verdict?.enhanced, '5.7.1');
  assert.equal(verdict?.message, 'Listed: see https://zen.test/1.2.3.4');
  assert.match(verdict?.reason ?? '', /zen\.test \(127\.0\.0\.2\)/);
  assert.deepEqual(session.results.get<DnsblResult>('dnsbl'), {
    listed: true,
    zones: [{ zone: 'zen.test', answers: ['127.0.0.2'], reason: 'Listed: see https://zen.test/1.2.3.4' }],
  });
  assert.deepEqual(h.queries, [`A ${LISTED}`, `TXT ${LISTED}`]);
});

test('no TXT record: the zone message, else a default naming the zone', async () => {
  const records = { [LISTED]: { a: ['127.0.0.2'] } };
  const withMessage = await dnsblHarness({ zones: [{ zone: 'zen.test', message: 'Blocked, see our site' }] }, records);
  assert.equal((await withMessage.run('connect', withMessage.session({ remoteAddress: '1.2.3.4' })))?.message, 'Blocked, see our site');
  const plain = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, records);
  const session = plain.session({ remoteAddress: '1.2.3.4' });
  assert.equal((await plain.run('connect', session))?.message, 'Client host [1.2.3.4] blocked using zen.test');
  assert.deepEqual(session.results.get<DnsblResult>('dnsbl')?.zones, [{ zone: 'zen.test', answers: ['127.0.0.2'] }]);
});

test('a client not listed (NXDOMAIN): no opinion, listed false', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { [LISTED]: zen });
  const session = h.session({ remoteAddress: '5.6.7.8' });
  assert.equal(await h.run('connect', session), undefined);
  assert.deepEqual(session.results.get('dnsbl'), { listed: false, zones: [] });
  assert.deepEqual(h.queries, ['A 8.7.6.5.zen.test']);
});

test('returnCodes: only the listed answers count', async () => {
  const records = { [LISTED]: { a: ['127.0.0.3', '127.0.0.10'] } };
  const counted = await dnsblHarness({ zones: [{ zone: 'zen.test', returnCodes: ['127.0.0.2', '127.0.0.4-127.0.0.11'] }] }, records);
  const session = counted.session({ remoteAddress: '1.2.3.4' });
  assert.equal((await counted.run('connect', session))?.action, 'reject');
  assert.deepEqual(session.results.get<DnsblResult>('dnsbl')?.zones[0]?.answers, ['127.0.0.10']);

  const ignored = await dnsblHarness({ zones: [{ zone: 'zen.test', returnCodes: ['127.0.0.2'] }] }, records);
  const clear = ignored.session({ remoteAddress: '1.2.3.4' });
  assert.equal(await ignored.run('connect', clear), undefined);
  assert.deepEqual(clear.results.get('dnsbl'), { listed: false, zones: [] });
});

test('by default an answer outside 127.0.0.0/8 does not count', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { [LISTED]: { a: ['192.0.2.1'] } });
  assert.equal(await h.run('connect', h.session({ remoteAddress: '1.2.3.4' })), undefined);
});

test('IPv6 and IPv4-mapped clients', async () => {
  const v6 = `1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test`;
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { [v6]: { a: ['127.0.0.2'] }, [LISTED]: { a: ['127.0.0.2'] } });
  assert.equal((await h.run('connect', h.session({ remoteAddress: '2001:db8::1' })))?.action, 'reject');
  assert.equal((await h.run('connect', h.session({ remoteAddress: '::ffff:1.2.3.4' })))?.action, 'reject');
  assert.deepEqual(h.queries.filter((q) => q.startsWith('A ')), [`A ${v6}`, `A ${LISTED}`]);
});

test('loopback clients are checked too', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { '1.0.0.127.zen.test': { a: ['127.0.0.2'] } });
  assert.equal((await h.run('connect', h.session({ remoteAddress: '127.0.0.1' })))?.action, 'reject');
});

test('all zones are asked in parallel; hits listed in config order', async () => {
  const records = {
    '4.3.2.1.a.test': { a: ['127.0.0.2'], txt: [['from a']] },
    '4.3.2.1.c.test': { a: ['127.0.0.4'], txt: [['from c']] },
  };
  const h = await dnsblHarness({ zones: [{ zone: 'a.test' }, { zone: 'b.test' }, { zone: 'c.test' }] }, records);
  const session = h.session({ remoteAddress: '1.2.3.4' });
  const verdict = await h.run('connect', session);
  assert.equal(verdict?.message, 'from a');
  assert.deepEqual(session.results.get<DnsblResult>('dnsbl')?.zones.map((z) => z.zone), ['a.test', 'c.test']);
  // The three A queries went out before any TXT: nobody waited for another zone.
  assert.deepEqual(h.queries.slice(0, 3), ['A 4.3.2.1.a.test', 'A 4.3.2.1.b.test', 'A 4.3.2.1.c.test']);
});

test('a zone that times out or SERVFAILs counts as not listed, logged at warn', async () => {
  const records = {
    '4.3.2.1.slow.test': { hang: true },
    '4.3.2.1.broken.test': { error: 'ESERVFAIL' },
    '4.3.2.1.zen.test': { a: ['127.0.0.2'] },
  };
  const h = await dnsblHarness({ lookupTimeoutMs: 50, action: 'tag', zones: [{ zone: 'slow.test' }, { zone: 'broken.test' }, { zone: 'zen.test' }] }, records);
  const session = h.session({ remoteAddress: '1.2.3.4' });
  const started = Date.now();
  assert.equal(await h.run('connect', session), undefined);
  assert.ok(Date.now() - started < 1000);
  assert.deepEqual(session.results.get<DnsblResult>('dnsbl')?.zones.map((z) => z.zone), ['zen.test']);
  const warnings = h.log.filter((l) => l.level === 'warn').map((l) => [(l.obj as { zone: string }).zone, (l.obj as { error: string }).error]);
  assert.deepEqual(warnings.sort(), [['broken.test', 'ESERVFAIL'], ['slow.test', 'ETIMEOUT']]);

  const onlyFailing = await dnsblHarness({ lookupTimeoutMs: 50, zones: [{ zone: 'slow.test' }, { zone: 'broken.test' }] }, records);
  const s2 = onlyFailing.session({ remoteAddress: '1.2.3.4' });
  assert.equal(await onlyFailing.run('connect', s2), undefined, 'never a tempfail of the client');
  assert.deepEqual(s2.results.get('dnsbl'), { listed: false, zones: [] });
});

test('answers are cached per IP and zone; failures are not', async () => {
  const records = { [LISTED]: zen, '4.3.2.1.broken.test': { error: 'ESERVFAIL' } };
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }, { zone: 'broken.test' }] }, records);
  for (const ip of ['1.2.3.4', '1.2.3.4', '5.6.7.8', '5.6.7.8']) await h.run('connect', h.session({ remoteAddress: ip }));
  const count = (q: string) => h.queries.filter((x) => x === q).length;
  assert.equal(count(`A ${LISTED}`), 1);
  assert.equal(count(`TXT ${LISTED}`), 1);
  assert.equal(count('A 8.7.6.5.zen.test'), 1, 'not listed is cached too');
  assert.equal(count('A 4.3.2.1.broken.test'), 2, 'a SERVFAIL is asked again');

  const uncached = await dnsblHarness({ cacheMaxSeconds: 0, zones: [{ zone: 'zen.test' }] }, records);
  for (let i = 0; i < 2; i++) await uncached.run('connect', uncached.session({ remoteAddress: '1.2.3.4' }));
  assert.equal(uncached.queries.filter((x) => x === `A ${LISTED}`).length, 2);
});

test('a client allowlisted by the access plugin is not looked up', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { [LISTED]: zen });
  const session = h.session({ remoteAddress: '1.2.3.4' });
  session.results.set('access', { allow: true, match: 'network:1.2.3.0/24' });
  assert.equal(await h.run('connect', session), undefined);
  assert.equal(session.results.has('dnsbl'), false);
  assert.deepEqual(h.queries, []);
});

test('action tempfail: 421 4.7.1; action tag: only the result', async () => {
  const temp = await dnsblHarness({ action: 'tempfail', zones: [{ zone: 'zen.test' }] }, { [LISTED]: zen });
  const verdict = await temp.run('connect', temp.session({ remoteAddress: '1.2.3.4' }));
  assert.equal(verdict?.action, 'tempfail');
  assert.equal(verdict?.code, 421);
  const tag = await dnsblHarness({ action: 'tag', zones: [{ zone: 'zen.test' }] }, { [LISTED]: zen });
  const session = tag.session({ remoteAddress: '1.2.3.4' });
  assert.equal(await tag.run('connect', session), undefined);
  assert.equal(session.results.get<DnsblResult>('dnsbl')?.listed, true);
});

test('non-SMTP sessions and non-IP addresses are left alone', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { [LISTED]: zen });
  assert.equal(await h.run('connect', h.session({ protocol: 'imap', remoteAddress: '1.2.3.4' })), undefined);
  assert.equal(await h.run('connect', h.session({ remoteAddress: 'unknown' })), undefined);
  assert.deepEqual(h.queries, []);
});

test('TXT reasons are made safe for an SMTP reply', async () => {
  const h = await dnsblHarness({ zones: [{ zone: 'zen.test' }] }, { [LISTED]: { a: ['127.0.0.2'], txt: [['line1\r\nline2'], ['x'.repeat(300)]] } });
  const message = (await h.run('connect', h.session({ remoteAddress: '1.2.3.4' })))?.message ?? '';
  assert.doesNotMatch(message, /[\r\n]/);
  assert.ok(message.startsWith('line1 line2; x'));
  assert.equal(message.length, 200);
});
