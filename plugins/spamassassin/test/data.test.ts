/**
 * The plugin's decisions in the sdk harness, scanning with a real spamd (test/support/spamd.ts).
 * Only the "spamd never answers" case uses a clearly labelled FAKE spamd.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stage } from '@postern/sdk';
import { createHarness, HarnessError } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import { freePort } from '../../../test/support/index.js';
import plugin, { SKIPPED_HEADER, createSpamassassinPlugin, defaults, fold } from '../src/index.js';
import type { SpamassassinOptions, SpamassassinResult } from '../src/index.js';
import { fakeSpamd, gtubeMessage, hamMessage, sharedSpamd } from './helpers.js';

const spamd = sharedSpamd();

async function harness(options: DeepPartial<SpamassassinOptions> = {}) {
  return createHarness(plugin, { options: { port: spamd.server.port, ...options } });
}

type Harness = Awaited<ReturnType<typeof harness>>;

/**
 * A client as in the end-to-end tests: a proper HELO from loopback. (The harness's default client,
 * 192.0.2.10 without a HELO, is what it looks like to spamd: RCVD_ILLEGAL_IP, HELO_NO_DOMAIN,
 * RDNS_NONE, enough to push a plain ham over 5.0.)
 */
const client = (h: Harness, overrides: Parameters<Harness['session']>[0] = {}) => h.session({ helo: 'client.example.net', remoteAddress: '127.0.0.1', ...overrides });

async function scan(h: Harness, message: string, session = client(h)) {
  const tx = h.transaction({ recipients: ['ann@example.test'], message });
  const verdict = await h.run('data', session, tx);
  const headers = Object.fromEntries(tx.addedHeaders);
  return { verdict, tx, headers, result: tx.results.get<SpamassassinResult>('spamassassin') };
}

test('the data tap runs at Stage.CONTENT with room for the scan timeout', async () => {
  const h = await harness({ scanTimeoutMs: 3000 });
  assert.deepEqual(h.taps('data').map((t) => [t.stage, t.timeoutMs]), [[Stage.CONTENT, 4000]]);
  assert.deepEqual(h.taps().map((t) => t.hook), ['data']);
});

test('defaults: 127.0.0.1:783, 500 KiB, spamd\'s own verdict, no reject, Junk, tempfail, skip outbound', async () => {
  const h = await createHarness(plugin);
  assert.deepEqual({ ...h.options }, {
    host: '127.0.0.1',
    port: 783,
    connectTimeoutMs: 2000,
    scanTimeoutMs: 15_000,
    maxSizeBytes: 512_000,
    user: null,
    markThreshold: null,
    rejectThreshold: null,
    folder: 'Junk',
    onError: 'tempfail',
    skipAuthenticated: true,
    skipTrusted: true,
  });
});

test('the manifest\'s option schema has exactly the defaults', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    postern: { options: { properties: Record<string, { default: unknown }> }; permissions: { net: string[] } };
  };
  const fromSchema = Object.fromEntries(Object.entries(pkg.postern.options.properties).map(([k, v]) => [k, v.default]));
  assert.deepEqual(fromSchema, { ...defaults });
  assert.deepEqual(pkg.postern.permissions.net, [`${defaults.host}:${defaults.port}`]);
});

test('ham: accepted, X-Spam-Flag NO, score and status headers, result recorded', async () => {
  const h = await harness();
  const { verdict, headers, result, tx } = await scan(h, hamMessage());
  assert.equal(verdict, undefined);
  assert.deepEqual(tx.addedHeaders.map(([n]) => n), ['X-Spam-Flag', 'X-Spam-Score', 'X-Spam-Status']);
  assert.equal(headers['X-Spam-Flag'], 'NO');
  assert.match(headers['X-Spam-Score'] ?? '', /^-?0\.\d$/);
  assert.match(headers['X-Spam-Status'] ?? '', /^No, score=-?0\.\d required=5\.0 tests=\S+/);
  assert.ok(result?.scanned);
  assert.equal(result.isSpam, false);
  assert.equal(result.action, 'accept');
  assert.equal(result.required, 5);
  assert.equal(result.spamdThreshold, 5);
});

test('GTUBE, spamd\'s threshold: quarantined into Junk, X-Spam-Flag YES, status in SpamAssassin\'s shape', async () => {
  const h = await harness();
  const { verdict, headers, result } = await scan(h, gtubeMessage());
  assert.equal(verdict?.action, 'quarantine');
  assert.equal(verdict?.folder, 'Junk');
  assert.equal(verdict?.by, 'spamassassin');
  assert.match(verdict?.reason ?? '', /score (?:99\d|10\d\d)\.\d \(required 5\.0\) tests=.*GTUBE/);
  assert.equal(headers['X-Spam-Flag'], 'YES');
  assert.match(headers['X-Spam-Score'] ?? '', /^(?:99\d|10\d\d)\.\d$/);
  const status = headers['X-Spam-Status'] ?? '';
  assert.match(status, /^Yes, score=(?:99\d|10\d\d)\.\d required=5\.0 tests=/);
  assert.match(status.replace(/\r\n\t/g, ''), /[=,]GTUBE(,|$)/);
  for (const line of status.split('\r\n\t')) assert.ok(line.length <= 78 - 'X-Spam-Status: '.length || !line.includes(','), line);
  assert.ok(result?.scanned);
  assert.equal(result.action, 'junk');
  assert.ok(result.tests.includes('GTUBE'));
  assert.ok(h.log.some((e) => e.level === 'info' && e.msg === 'spamassassin: spam'));
});

test('GTUBE at or above rejectThreshold: 550 5.7.1 with the score, headers still recorded', async () => {
  const h = await harness({ rejectThreshold: 20 });
  const { verdict, result } = await scan(h, gtubeMessage());
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.code, 550);
  assert.equal(verdict?.enhanced, '5.7.1');
  assert.match(verdict?.message ?? '', /^Message refused as spam \(score (?:99\d|10\d\d)\.\d\)$/);
  assert.match(verdict?.reason ?? '', /reject 20\.0/);
  assert.ok(result?.scanned);
  assert.equal(result.action, 'reject');
});

test('markThreshold replaces spamd\'s threshold (both ways)', async () => {
  const lenient = await harness({ markThreshold: 2000 });
  const spam = await scan(lenient, gtubeMessage());
  assert.equal(spam.verdict, undefined);
  assert.equal(spam.headers['X-Spam-Flag'], 'NO');
  assert.match(spam.headers['X-Spam-Status'] ?? '', /^No, score=(?:99\d|10\d\d)\.\d required=2000\.0 /);

  const strict = await harness({ markThreshold: -5, folder: 'Spam' });
  const ham = await scan(strict, hamMessage());
  assert.equal(ham.verdict?.action, 'quarantine');
  assert.equal(ham.verdict?.folder, 'Spam');
  assert.equal(ham.headers['X-Spam-Flag'], 'YES');
  assert.ok(ham.result?.scanned && ham.result.required === -5 && ham.result.spamdThreshold === 5);
});

test('below rejectThreshold but spam: Junk, not refused', async () => {
  const h = await harness({ markThreshold: 5, rejectThreshold: 5000 });
  const { verdict } = await scan(h, gtubeMessage());
  assert.equal(verdict?.action, 'quarantine');
});

test('user: the scan is made as that user (spamc -u) and still works', async () => {
  const h = await harness({ user: 'ann', rejectThreshold: 20 });
  assert.equal((await scan(h, gtubeMessage())).verdict?.code, 550);
});

test('authenticated and trusted senders: not scanned by default, recorded as skipped, no headers', async () => {
  const h = await harness({ rejectThreshold: 20 });
  const auth = await scan(h, gtubeMessage(), client(h, { user: 'bob@example.test' }));
  assert.equal(auth.verdict, undefined);
  assert.deepEqual(auth.tx.addedHeaders, []);
  assert.deepEqual(auth.result, { scanned: false, skipped: 'authenticated' });
  const trusted = await scan(h, gtubeMessage(), client(h, { trusted: true }));
  assert.equal(trusted.verdict, undefined);
  assert.deepEqual(trusted.result, { scanned: false, skipped: 'trusted' });

  const scanAll = await harness({ rejectThreshold: 20, skipAuthenticated: false, skipTrusted: false });
  assert.equal((await scan(scanAll, gtubeMessage(), client(scanAll, { user: 'bob@example.test', trusted: true }))).verdict?.code, 550);
});

test('a message over maxSizeBytes is not scanned: accepted, skipped too-large, X-Spam-Skipped', async () => {
  const h = await harness({ maxSizeBytes: 100, rejectThreshold: 20 });
  const { verdict, tx, result } = await scan(h, gtubeMessage());
  assert.equal(verdict, undefined);
  assert.deepEqual(tx.addedHeaders, [[SKIPPED_HEADER, 'too-large']]);
  assert.deepEqual(result, { scanned: false, skipped: 'too-large' });
});

test('spamd down, onError tempfail (default): 451 4.7.1, cause in the log only', async () => {
  const h = await harness({ port: await freePort() });
  const { verdict, tx, result } = await scan(h, gtubeMessage());
  assert.equal(verdict?.action, 'tempfail');
  assert.equal(verdict?.code, 451);
  assert.equal(verdict?.enhanced, '4.7.1');
  assert.equal(verdict?.message, 'Spam scan unavailable, try again later');
  assert.match(verdict?.reason ?? '', /ECONNREFUSED/);
  assert.deepEqual(tx.addedHeaders, []);
  assert.equal(result?.scanned, false);
  assert.ok(!result?.scanned && result?.skipped === 'error' && /ECONNREFUSED/.test(result.error ?? ''));
  const warn = h.log.find((e) => e.level === 'warn' && e.msg === 'spamassassin: scan failed');
  assert.equal((warn?.obj as { code?: string }).code, 'SPAMC_CONNECT');
});

test('spamd down, onError accept: accepted unscanned with X-Spam-Skipped: error', async () => {
  const h = await harness({ port: await freePort(), onError: 'accept' });
  const { verdict, tx, result } = await scan(h, gtubeMessage());
  assert.equal(verdict, undefined);
  assert.deepEqual(tx.addedHeaders, [[SKIPPED_HEADER, 'error']]);
  assert.ok(!result?.scanned && result?.skipped === 'error');
});

test('FAKE spamd that never answers: past scanTimeoutMs a 451 (or accept), not the tap timeout', async () => {
  const fake = await fakeSpamd(() => {});
  const h = await harness({ port: fake.port, scanTimeoutMs: 150 });
  const started = Date.now();
  const { verdict, result } = await scan(h, hamMessage());
  assert.equal(verdict?.code, 451);
  assert.ok(Date.now() - started < 1000);
  assert.ok(!result?.scanned && /within 150 ms/.test(result?.error ?? ''));
  const lenient = await harness({ port: fake.port, scanTimeoutMs: 150, onError: 'accept' });
  assert.equal((await scan(lenient, hamMessage())).verdict, undefined);
});

test('no message (not at DATA): nothing', async () => {
  const h = await harness();
  const tx = h.transaction();
  assert.equal(await h.run('data', h.session(), tx), undefined);
  assert.equal(tx.results.has('spamassassin'), false);
});

test('another scanner can be plugged in (createSpamassassinPlugin)', async () => {
  const seen: Buffer[] = [];
  const custom = createSpamassassinPlugin(() => async (m) => {
    seen.push(m);
    return { isSpam: true, score: 6.25, threshold: 5, symbols: ['A', 'B'] };
  });
  const h = await createHarness(custom);
  const tx = h.transaction({ message: hamMessage() });
  assert.equal((await h.run('data', h.session(), tx))?.action, 'quarantine');
  assert.deepEqual(tx.addedHeaders, [['X-Spam-Flag', 'YES'], ['X-Spam-Score', '6.3'], ['X-Spam-Status', 'Yes, score=6.3 required=5.0 tests=A,B']]);
  assert.equal(seen.length, 1);
});

test('spamd sees the current hop: a Received header on top of the scanned copy only', async () => {
  const seen: Buffer[] = [];
  const custom = createSpamassassinPlugin(() => async (m) => {
    seen.push(m);
    return { isSpam: false, score: 0, threshold: 5, symbols: [] };
  });
  const h = await createHarness(custom, { hostname: 'mx.example.test' });
  const tx = h.transaction({ id: 'Q123', recipients: ['ann@example.test'], message: hamMessage() });
  await h.run('data', h.session({ helo: 'client.example.net', remoteAddress: '::ffff:198.51.100.7' }), tx);
  const scanned = seen[0]?.toString('latin1') ?? '';
  assert.match(scanned, /^Received: from client\.example\.net \(\[198\.51\.100\.7\]\)\r\n\tby mx\.example\.test \(Postern\) with ESMTP id Q123\r\n\tfor <ann@example\.test>;\r\n\t\w{3}, \d{1,2} \w{3} \d{4} [\d:]{8} \+0000\r\nFrom: Bob/);
  assert.equal(scanned.slice(scanned.indexOf('From: Bob')), tx.message?.toString('latin1'));

  // The real spamd parses it: the message has a relay now (no NO_RELAYS / NO_RECEIVED).
  const real = await harness();
  const { result } = await scan(real, hamMessage(), real.session({ helo: 'client.example.net', remoteAddress: '198.51.100.7' }));
  assert.ok(result?.scanned);
  assert.ok(!result.tests.includes('NO_RELAYS') && !result.tests.includes('NO_RECEIVED'), result.tests.join(','));
});

test('fold: long tests lists break after a comma, continuation lines start with a tab', () => {
  const tests = Array.from({ length: 12 }, (_, i) => `SOME_LONG_RULE_NAME_${i}`).join(',');
  const folded = fold('X-Spam-Status', `Yes, score=7.2 required=5.0 tests=${tests}`);
  const lines = folded.split('\r\n\t');
  assert.ok(lines.length > 2);
  assert.ok(`X-Spam-Status: ${lines[0]}`.length <= 78);
  for (const line of lines.slice(1)) assert.ok(line.length + 1 <= 78, line);
  // Here every break is after a comma of the list: taking the folds out gives the value back.
  assert.equal(folded.replace(/\r\n\t/g, ''), `Yes, score=7.2 required=5.0 tests=${tests}`);
  assert.equal(fold('X-Spam-Status', 'No, score=0.0 required=5.0 tests=none'), 'No, score=0.0 required=5.0 tests=none');
});

test('validate lists every bad option', async () => {
  await assert.rejects(
    createHarness(plugin, {
      options: {
        host: '',
        port: 70000,
        connectTimeoutMs: 0,
        scanTimeoutMs: -1,
        maxSizeBytes: 1.5,
        user: 'a b',
        markThreshold: 'high' as never,
        rejectThreshold: Number.NaN,
        folder: 'INBOX',
        onError: 'ignore' as never,
        skipAuthenticated: 'yes' as never,
        skipTrusted: 1 as never,
      },
    }),
    (err: unknown) => {
      assert.ok(err instanceof HarnessError);
      for (const key of ['host:', 'port:', 'connectTimeoutMs:', 'scanTimeoutMs:', 'maxSizeBytes:', 'user:', 'markThreshold:', 'rejectThreshold:', 'folder:', 'onError:', 'skipAuthenticated:', 'skipTrusted:']) {
        assert.match(err.message, new RegExp(key));
      }
      return true;
    },
  );
  await assert.rejects(createHarness(plugin, { options: { markThreshold: 10, rejectThreshold: 5 } }), /rejectThreshold: must not be below markThreshold/);
});
