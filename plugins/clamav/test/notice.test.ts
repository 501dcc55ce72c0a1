import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildNotice, ORIGINAL_FILENAME } from '../src/index.js';
import type { NoticeInput } from '../src/index.js';
import { mimeParts, parseEntity } from './helpers.js';

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

const ORIGINAL = crlf(
  [
    'From: Mallory <mallory@sender.test>',
    'To: Ann <ann@example.test>,',
    ' Bob <bob@example.test>',
    'Cc: team@example.test',
    'Subject: Invoice',
    ' 4711',
    'Date: Sun, 06 Dec 2026 10:00:00 +0000',
    'Message-ID: <orig.42@sender.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain',
    '',
    'payload',
    '',
  ].join('\n'),
);

const input = (over: Partial<NoticeInput> = {}): NoticeInput => ({
  original: ORIGINAL,
  viruses: ['Win.Test.EICAR_HDB-1'],
  queueId: 'ABC123',
  mailFrom: 'bounce@sender.test',
  hostname: 'mx.example.test',
  date: new Date(Date.UTC(2026, 11, 6, 12, 0, 0)),
  ...over,
});

test('the notice: headers from the server, To/Cc of the original, prefixed subject, References', () => {
  const notice = buildNotice(input());
  const { headers } = parseEntity(notice);
  assert.equal(headers.get('from'), 'Mail Delivery System <MAILER-DAEMON@mx.example.test>');
  assert.equal(headers.get('to'), 'Ann <ann@example.test>, Bob <bob@example.test>');
  assert.equal(headers.get('cc'), 'team@example.test');
  assert.equal(headers.get('subject'), '[virus removed] Invoice 4711');
  assert.equal(headers.get('date'), 'Sun, 06 Dec 2026 12:00:00 +0000');
  assert.match(headers.get('message-id')!, /^<clamav-notice\.ABC123\.[0-9a-f]{12}@mx\.example\.test>$/);
  assert.equal(headers.get('references'), '<orig.42@sender.test>');
  assert.equal(headers.get('auto-submitted'), 'auto-generated');
  assert.equal(headers.get('x-virus-found'), 'Win.Test.EICAR_HDB-1');
  assert.equal(headers.get('mime-version'), '1.0');
  // Every line CRLF, none longer than 998.
  const text = notice.toString('latin1');
  assert.equal(text.replace(/\r\n/g, '').includes('\n'), false);
  assert.ok(text.split('\r\n').every((l) => l.length <= 998));
});

test('the notice: a text part naming the virus, the sender, subject, date and queue id', () => {
  const [textPart] = mimeParts(parseEntity(buildNotice(input({ viruses: ['A.One', 'B.Two'] }))));
  assert.equal(textPart!.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(textPart!.headers.get('content-transfer-encoding'), '7bit');
  for (const expected of [/Virus:\s+A\.One, B\.Two/, /From:\s+Mallory <mallory@sender\.test>/, /Envelope sender:\s+<bounce@sender\.test>/, /Subject:\s+Invoice 4711/, /Date:\s+Sun, 06 Dec 2026 10:00:00 \+0000/, /Queue ID:\s+ABC123/, /Message-ID:\s+<orig\.42@sender\.test>/, /original-message\.eml/]) {
    assert.match(textPart!.body, expected);
  }
});

test('the original is attached byte for byte as an opaque, non-rendered attachment (not message/rfc822)', () => {
  const notice = parseEntity(buildNotice(input()));
  assert.match(notice.headers.get('content-type')!, /^multipart\/mixed; boundary="=_postern-clamav-[0-9a-f]{24}"$/);
  const parts = mimeParts(notice);
  assert.equal(parts.length, 2);
  const attachment = parts[1]!;
  assert.equal(attachment.headers.get('content-type'), `application/octet-stream; name="${ORIGINAL_FILENAME}"`);
  assert.equal(attachment.headers.get('content-disposition'), `attachment; filename="${ORIGINAL_FILENAME}"`);
  assert.equal(attachment.headers.get('content-transfer-encoding'), 'base64');
  assert.ok(attachment.body.split('\r\n').every((l) => l.length <= 76));
  assert.ok(Buffer.from(attachment.body, 'base64').equals(ORIGINAL));
  assert.equal(ORIGINAL_FILENAME, 'original-message.eml');
  assert.doesNotMatch(notice.body, /message\/rfc822/i);
  assert.doesNotMatch(notice.body, /payload/, 'the original is not readable in the notice');
});

test('no To (Bcc only), no Subject, no Message-ID, null sender: still a well-formed notice', () => {
  const notice = buildNotice(input({ original: crlf('From: x@sender.test\n\nbody\n'), mailFrom: '' }));
  const entity = parseEntity(notice);
  assert.equal(entity.headers.get('to'), 'undisclosed-recipients:;');
  assert.equal(entity.headers.get('cc'), undefined);
  assert.equal(entity.headers.get('subject'), '[virus removed]');
  assert.equal(entity.headers.get('references'), undefined);
  assert.match(mimeParts(entity)[0]!.body, /Envelope sender:\s+<> \(null sender\)/);
  assert.match(mimeParts(entity)[0]!.body, /Subject:\s+\(none\)/);
});

test('8-bit header bytes survive in the copied headers; a non-ASCII text part is base64', () => {
  const original = Buffer.concat([crlf('To: '), Buffer.from('Zoë <zoe@example.test>', 'utf8'), crlf('\nSubject: '), Buffer.from('Grüße', 'utf8'), crlf('\n\nbody\n')]);
  const notice = buildNotice(input({ original }));
  assert.ok(notice.includes(Buffer.concat([Buffer.from('To: '), Buffer.from('Zoë <zoe@example.test>', 'utf8'), Buffer.from('\r\n')])));
  assert.ok(notice.includes(Buffer.concat([Buffer.from('Subject: [virus removed] '), Buffer.from('Grüße', 'utf8'), Buffer.from('\r\n')])));
  const textPart = mimeParts(parseEntity(notice))[0]!;
  assert.equal(textPart.headers.get('content-transfer-encoding'), 'base64');
  assert.match(Buffer.from(textPart.body, 'base64').toString('utf8'), /Subject:\s+Grüße/);
});

test('a signature name with spaces or control characters is cleaned in the header', () => {
  const { headers } = parseEntity(buildNotice(input({ viruses: ['Bad Name\r\nX-Evil: 1'] })));
  assert.equal(headers.get('x-virus-found'), 'Bad_Name_X-Evil:_1');
  assert.equal(headers.get('x-evil'), undefined);
});
