/**
 * The SPAMC/1.5 client against a real spamd (test/support/spamd.ts), plus the few cases a real
 * spamd cannot produce (garbage, a cut reply, silence, a reset) against a clearly labelled fake.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../../../test/support/index.js';
import { encodeRequest, parseReply } from '../src/spamc-protocol.js';
import { SpamcError, spamcRequest, spamdPing } from '../src/spamc-client.js';
import type { SpamcErrorCode } from '../src/spamc-client.js';
import { fakeSpamd, gtubeMessage, hamMessage, sharedSpamd } from './helpers.js';

const spamd = sharedSpamd();
const target = () => ({ host: '127.0.0.1', port: spamd.server.port, timeoutMs: 10_000 });
const GTUBE = () => Buffer.from(gtubeMessage());
const HAM = () => Buffer.from(hamMessage());

function isSpamcError(code: SpamcErrorCode, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SpamcError, `not a SpamcError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

test('PING: spamd answers PONG', async () => {
  await spamdPing(target());
});

test('CHECK GTUBE: spam, score >= 1000, threshold 5.0, no symbols', async () => {
  const reply = await spamcRequest(target(), 'CHECK', GTUBE());
  assert.equal(reply.isSpam, true);
  assert.ok(reply.score >= 1000 && reply.score < 1100, String(reply.score));
  assert.equal(reply.threshold, 5);
  assert.deepEqual(reply.symbols, []);
  assert.equal(reply.report, undefined);
  assert.match(reply.version, /^1\.\d+$/);
});

test('SYMBOLS GTUBE: every rule that hit, the last one included', async () => {
  const symbols = await spamcRequest(target(), 'SYMBOLS', GTUBE());
  assert.ok(symbols.symbols.includes('GTUBE'), symbols.symbols.join(','));
  for (const s of symbols.symbols) assert.match(s, /^[A-Z0-9_]+$/);
  // REPORT lists the same rules in its table ("1000 GTUBE   BODY: …"): SYMBOLS drops none.
  const report = await spamcRequest(target(), 'REPORT', GTUBE());
  const inReport = [...(report.report ?? '').matchAll(/^ *-?[\d.]+ +([A-Z0-9_]+) /gm)].map((m) => m[1]).sort();
  assert.deepEqual([...symbols.symbols].sort(), inReport);
  assert.equal(symbols.headers['content-length'], String(Buffer.byteLength(symbols.symbols.join(','))));
});

test('REPORT GTUBE: the text report', async () => {
  const reply = await spamcRequest(target(), 'REPORT', GTUBE());
  assert.equal(reply.isSpam, true);
  assert.match(reply.report ?? '', /Content analysis details: +\(10\d\d\.\d points, 5\.0 required\)/);
  assert.match(reply.report ?? '', /GTUBE/);
});

test('a plain ham: not spam, score about 0', async () => {
  const reply = await spamcRequest(target(), 'SYMBOLS', HAM());
  assert.equal(reply.isSpam, false);
  assert.ok(Math.abs(reply.score) < 1, String(reply.score));
  assert.equal(reply.threshold, 5);
  assert.ok(!reply.symbols.includes('GTUBE'));
});

test('an 8-bit body as a Buffer: Content-length counts bytes, not characters', async () => {
  const message = Buffer.from(hamMessage('Grüße aus Köln, ça va? — 日本語のテキスト\r\n'));
  assert.notEqual(message.length, message.toString().length);
  const reply = await spamcRequest(target(), 'CHECK', message);
  assert.equal(reply.isSpam, false);
});

test('User: the message is scanned as that user (spamc -u)', async () => {
  assert.match(encodeRequest('CHECK', Buffer.from('x'), 'ann').toString(), /^CHECK SPAMC\/1\.5\r\nContent-length: 1\r\nUser: ann\r\n\r\nx$/);
  const reply = await spamcRequest({ ...target(), user: 'ann' }, 'CHECK', GTUBE());
  assert.equal(reply.isSpam, true);
  assert.throws(() => encodeRequest('CHECK', Buffer.from('x'), 'ann\r\nUser: root'), TypeError);
});

test('two scans at once both get their own answer', async () => {
  const [spam, ham] = await Promise.all([spamcRequest(target(), 'CHECK', GTUBE()), spamcRequest(target(), 'CHECK', HAM())]);
  assert.equal(spam.isSpam, true);
  assert.equal(ham.isSpam, false);
});

test('spamd refuses the request: SPAMC_SPAMD_ERROR with its EX_* code (real spamd, unknown command)', async () => {
  await assert.rejects(spamcRequest(target(), 'BOGUS' as never, HAM()), (err: unknown) => {
    isSpamcError('SPAMC_SPAMD_ERROR', /spamd error 76 EX_PROTOCOL: Bad header line/)(err);
    assert.equal((err as SpamcError).spamdCode, 76);
    assert.equal((err as SpamcError).spamdCodeName, 'EX_PROTOCOL');
    return true;
  });
});

test('nothing listening: SPAMC_CONNECT (ECONNREFUSED), rejected once', async () => {
  const port = await freePort();
  const started = Date.now();
  await assert.rejects(spamcRequest({ host: '127.0.0.1', port }, 'CHECK', HAM()), (err: unknown) => {
    isSpamcError('SPAMC_CONNECT', new RegExp(`127\\.0\\.0\\.1:${port}: ECONNREFUSED`))(err);
    assert.equal(((err as SpamcError).cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    return true;
  });
  assert.ok(Date.now() - started < 1000);
  await assert.rejects(spamdPing({ host: '127.0.0.1', port }), isSpamcError('SPAMC_CONNECT'));
});

// ---- FAKE spamd below: behaviour a real spamd never shows --------------------------------------

test('FAKE spamd that never answers: SPAMC_TIMEOUT after timeoutMs', async () => {
  const fake = await fakeSpamd(() => {});
  const started = Date.now();
  await assert.rejects(spamcRequest({ host: '127.0.0.1', port: fake.port, timeoutMs: 200 }, 'CHECK', HAM()), isSpamcError('SPAMC_TIMEOUT', /no complete reply within 200 ms/));
  const took = Date.now() - started;
  assert.ok(took >= 190 && took < 1500, String(took));
});

test('FAKE spamd answering garbage: SPAMC_BAD_REPLY', async () => {
  const fake = await fakeSpamd((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
  await assert.rejects(spamcRequest({ host: '127.0.0.1', port: fake.port }, 'CHECK', HAM()), isSpamcError('SPAMC_BAD_REPLY', /no SPAMD\/1\.x status line/));
});

test('FAKE spamd: EX_OK without a Spam: header, a bad Spam: header, a cut body, an empty reply', async () => {
  const cases: Array<[string, RegExp]> = [
    ['SPAMD/1.1 0 EX_OK\r\n\r\n', /no Spam: header/],
    ['SPAMD/1.1 0 EX_OK\r\nSpam: maybe\r\n\r\n', /Spam: header not/],
    ['SPAMD/1.1 0 EX_OK\r\nContent-length: 50\r\nSpam: True ; 9.0 / 5.0\r\n\r\nGTUBE,MISS', /Content-length 50 but 10 body bytes/],
    ['', /empty reply/],
  ];
  for (const [reply, pattern] of cases) {
    const fake = await fakeSpamd((s) => s.end(reply));
    await assert.rejects(spamcRequest({ host: '127.0.0.1', port: fake.port }, 'SYMBOLS', HAM()), isSpamcError('SPAMC_BAD_REPLY', pattern));
  }
});

test('FAKE spamd that resets the connection before answering: SPAMC_CONNECT, rejected once', async () => {
  const fake = await fakeSpamd((s) => s.resetAndDestroy());
  await assert.rejects(spamcRequest({ host: '127.0.0.1', port: fake.port }, 'CHECK', HAM()), isSpamcError('SPAMC_CONNECT', /ECONNRESET/));
});

test('FAKE spamd: the request is exactly SPAMC/1.5 with a byte count, then a half-close', async () => {
  let seen: Buffer = Buffer.alloc(0);
  const fake = await fakeSpamd((s, request) => {
    seen = request;
    s.end('SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: False ; 0.1 / 5.0\r\n\r\nA,B,C');
  });
  const reply = await spamcRequest({ host: '127.0.0.1', port: fake.port }, 'SYMBOLS', Buffer.from('Subject: é\r\n\r\nx\r\n'));
  assert.equal(seen.toString('utf8'), 'SYMBOLS SPAMC/1.5\r\nContent-length: 18\r\n\r\nSubject: é\r\n\r\nx\r\n');
  assert.deepEqual(reply.symbols, ['A', 'B', 'C']);
  assert.equal(reply.score, 0.1);
});

test('FAKE spamd that answers but keeps the connection open: the complete reply is enough', async () => {
  const fake = await fakeSpamd((s) => s.write('SPAMD/1.1 0 EX_OK\r\nContent-length: 11\r\nSpam: True ; 6.5 / 5.0\r\n\r\nRULE_A,'));
  // Sent in two pieces: the first one is not yet the whole body.
  const slow = await fakeSpamd((s) => {
    s.write('SPAMD/1.1 0 EX_OK\r\nContent-length: 13\r\nSpam: True ; 6.5 / 5.0\r\n\r\nRULE_A,');
    setTimeout(() => s.write('RULE_B'), 50);
  });
  await assert.rejects(spamcRequest({ host: '127.0.0.1', port: fake.port, timeoutMs: 300 }, 'SYMBOLS', HAM()), isSpamcError('SPAMC_TIMEOUT'));
  const reply = await spamcRequest({ host: '127.0.0.1', port: slow.port, timeoutMs: 2000 }, 'SYMBOLS', HAM());
  assert.deepEqual(reply.symbols, ['RULE_A', 'RULE_B']);
  const check = await fakeSpamd((s) => s.write('SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.0 / 5.0\r\n\r\n'));
  assert.equal((await spamcRequest({ host: '127.0.0.1', port: check.port, timeoutMs: 2000 }, 'CHECK', HAM())).score, 1);
});

test('parseReply: spamd\'s status and Spam: forms', () => {
  const r = parseReply('CHECK', Buffer.from('SPAMD/1.1 0 EX_OK\r\nSpam: Yes ; -1.5 / 4.0\r\n\r\n'));
  assert.deepEqual([r.isSpam, r.score, r.threshold], [true, -1.5, 4]);
  assert.throws(() => parseReply('CHECK', Buffer.from('SPAMD/1.0 75 EX_TEMPFAIL\r\n')), isSpamcError('SPAMC_SPAMD_ERROR', /75 EX_TEMPFAIL/));
  assert.throws(() => parseReply('CHECK', Buffer.from('SPAMD/2.0 0 EX_OK\r\nSpam: True ; 1 / 5\r\n\r\n')), isSpamcError('SPAMC_BAD_REPLY', /version 2\.0/));
});
