/**
 * Delivery status notifications, checked with a real MIME parser: every DSN built here is parsed
 * by python3's `email` package, and the assertions are on what it parsed (structure, each
 * delivery-status field, the returned headers byte for byte), plus when mayBounce says no.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { BounceSuppressed, buildDsn, mayBounce, type DsnInput } from '../core/src/outbound/dsn.js';
import { rfc5322Date } from '../core/src/smtp/received-header.js';

/** Prints JSON of what Python's parser saw; folded values are unfolded, payloads are base64. */
const PARSE = String.raw`
import sys, json, re, base64, email
raw = sys.stdin.buffer.read()
m = email.message_from_bytes(raw)
def unfold(v):
    return re.sub(r'\r?\n(?=[ \t])', '', str(v))
def fields(msg):
    return [[k, unfold(v)] for k, v in msg.items()]
out = {'headers': fields(m), 'type': m.get_content_type(), 'params': dict(m.get_params() or []),
       'boundary': m.get_boundary(), 'defects': [type(d).__name__ for d in m.defects], 'parts': []}
for p in m.get_payload():
    d = {'type': p.get_content_type(), 'headers': fields(p), 'charset': p.get_content_charset(),
         'defects': [type(x).__name__ for x in p.defects]}
    if d['type'] == 'message/delivery-status':
        d['blocks'] = [fields(b) for b in p.get_payload()]
    elif d['type'] == 'message/rfc822':
        inner = p.get_payload(0)
        body = b'' if inner.is_multipart() else inner.get_payload(decode=True)
        d['inner'] = {'headers': fields(inner), 'body': base64.b64encode(body).decode()}
    else:
        d['payload'] = base64.b64encode(p.get_payload(decode=True)).decode()
    out['parts'].append(d)
print(json.dumps(out))
`;

type Fields = Array<[string, string]>;
interface Parsed {
  headers: Fields;
  type: string;
  params: Record<string, string>;
  boundary: string;
  defects: string[];
  parts: Array<{
    type: string;
    headers: Fields;
    charset: string | null;
    defects: string[];
    blocks?: Fields[];
    inner?: { headers: Fields; body: string };
    payload?: string;
  }>;
}

function parse(dsn: Buffer): Parsed {
  return JSON.parse(execFileSync('python3', ['-c', PARSE], { input: dsn }).toString('utf8')) as Parsed;
}

/** The one value of `name` in `fields` (case-insensitive); fails if it is there more than once. */
function one(fields: Fields, name: string): string | undefined {
  const found = fields.filter(([k]) => k.toLowerCase() === name.toLowerCase());
  assert.ok(found.length <= 1, `${name} appears ${found.length} times`);
  return found[0]?.[1];
}

const names = (fields: Fields) => fields.map(([k]) => k);
const text = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

/** Every line of the raw DSN ends in CRLF and is at most 998 octets. */
function assertWellFormedLines(dsn: Buffer) {
  assert.equal(dsn.subarray(-2).toString(), '\r\n');
  let start = 0;
  for (let i = 0; i < dsn.length; i++) {
    if (dsn[i] === 0x0a) {
      assert.equal(dsn[i - 1], 0x0d, `bare LF at ${i}`);
      assert.ok(i - 1 - start <= 998, `line at ${start} is ${i - 1 - start} octets`);
      start = i + 1;
    } else if (dsn[i] === 0x0d) {
      assert.equal(dsn[i + 1], 0x0a, `bare CR at ${i}`);
    }
  }
}

const T0 = Date.UTC(2026, 10, 29, 14, 3, 7);
// 8-bit header bytes on purpose: raw UTF-8 in Subject and a lone latin1 é in a folded field.
const ORIGINAL_HEADERS = Buffer.concat([
  Buffer.from('Received: from client.test ([192.0.2.7])\r\n\tby mx.example.test (Postern) with ESMTP id Q1;\r\n\tSun, 29 Nov 2026 14:03:07 +0000\r\n'),
  Buffer.from('From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject: Grüße\r\n'),
  Buffer.from([0x58, 0x2d, 0x4c, 0x61, 0x74, 0x69, 0x6e, 0x31, 0x3a, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0d, 0x0a]), // "X-Latin1: caf\xe9\r\n"
  Buffer.from('Message-ID: <m1@example.test>\r\n'),
]);
const ORIGINAL = Buffer.concat([ORIGINAL_HEADERS, Buffer.from('\r\nHello Bob,\r\n--\r\nAlice\r\n')]);

function failure(overrides: Partial<DsnInput> = {}): DsnInput {
  return {
    kind: 'failure',
    reportingMta: 'mx.example.test',
    queueId: '0MIK3Q5Z1A00F3B9C2E17',
    sender: 'alice@example.test',
    receivedAt: T0,
    now: T0 + 3_600_000,
    original: ORIGINAL,
    recipients: [
      {
        address: 'bob@remote.test',
        action: 'failed',
        code: 550,
        enhanced: '5.1.1',
        message: 'User unknown',
        remoteMta: 'mx1.remote.test [127.0.0.1]',
        lastAttemptAt: T0 + 60_000,
      },
    ],
    ...overrides,
  };
}

test('a failure DSN parses as multipart/report with the three parts, in order', () => {
  const dsn = buildDsn(failure());
  const m = parse(dsn);
  assertWellFormedLines(dsn);
  assert.deepEqual(m.defects, []);
  assert.equal(m.type, 'multipart/report');
  assert.equal(m.params['report-type'], 'delivery-status');
  assert.deepEqual(
    m.parts.map((p) => p.type),
    ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
  );
  for (const part of m.parts) assert.deepEqual(part.defects, [], part.type);
  assert.equal(m.parts[0]!.charset, 'utf-8');
  // 8-bit original headers make the whole report 8bit.
  assert.equal(one(m.headers, 'Content-Transfer-Encoding'), '8bit');
  assert.equal(dsn.includes(`--${m.boundary}--\r\n`), true);
});

test('the top-level headers: From, To, Subject, Date, Message-ID, MIME-Version, Auto-Submitted', () => {
  const m = parse(buildDsn(failure()));
  assert.equal(one(m.headers, 'From'), '"Mail Delivery System" <MAILER-DAEMON@mx.example.test>');
  assert.equal(one(m.headers, 'To'), '<alice@example.test>');
  assert.equal(one(m.headers, 'Subject'), 'Undelivered Mail Returned to Sender');
  assert.equal(one(m.headers, 'Date'), rfc5322Date(new Date(T0 + 3_600_000)));
  assert.match(one(m.headers, 'Message-ID') ?? '', /^<0MIK3Q5Z1A00F3B9C2E17\.dsn\.[0-9a-f]+@mx\.example\.test>$/);
  assert.equal(one(m.headers, 'MIME-Version'), '1.0');
  assert.equal(one(m.headers, 'Auto-Submitted'), 'auto-replied');
  assert.deepEqual(names(m.headers).slice(0, 8), ['From', 'To', 'Subject', 'Date', 'Message-ID', 'MIME-Version', 'Auto-Submitted', 'Content-Type']);

  const given = parse(buildDsn(failure({ messageId: '<given@mx.example.test>' })));
  assert.equal(one(given.headers, 'Message-ID'), '<given@mx.example.test>');
  const other = parse(buildDsn(failure()));
  assert.notEqual(one(other.headers, 'Message-ID'), one(m.headers, 'Message-ID'));
});

test('delivery-status: the per-message and per-recipient fields', () => {
  const m = parse(buildDsn(failure()));
  const blocks = m.parts[1]!.blocks!;
  assert.equal(blocks.length, 2);
  const [perMessage, bob] = blocks as [Fields, Fields];
  assert.deepEqual(perMessage, [
    ['Reporting-MTA', 'dns; mx.example.test'],
    ['X-Postern-Queue-ID', '0MIK3Q5Z1A00F3B9C2E17'],
    ['Arrival-Date', rfc5322Date(new Date(T0))],
  ]);
  assert.deepEqual(bob, [
    ['Final-Recipient', 'rfc822;bob@remote.test'],
    ['Action', 'failed'],
    ['Status', '5.1.1'],
    ['Remote-MTA', 'dns; mx1.remote.test'],
    ['Diagnostic-Code', 'smtp; 550 5.1.1 User unknown'],
    ['Last-Attempt-Date', rfc5322Date(new Date(T0 + 60_000))],
  ]);
});

test('the human-readable part names each recipient with the remote and its reply', () => {
  const m = parse(buildDsn(failure()));
  const body = text(m.parts[0]!.payload);
  assert.match(body, /This is the mail system at mx\.example\.test\./);
  assert.match(body, /could not be delivered/);
  assert.match(body, /<bob@remote\.test>\r\n {4}mx1\.remote\.test \[127\.0\.0\.1\] said: 550 5\.1\.1 User unknown\r\n/);
  assert.match(body, /queue ID 0MIK3Q5Z1A00F3B9C2E17/);
  assert.match(body, /headers of your message are attached/);
});

test('text/rfc822-headers is the original header block, byte for byte (8-bit bytes too)', () => {
  const m = parse(buildDsn(failure()));
  const returned = Buffer.from(m.parts[2]!.payload!, 'base64');
  assert.equal(returned.compare(ORIGINAL_HEADERS), 0, `got ${JSON.stringify(returned.toString('latin1'))}`);
  assert.equal(one(m.parts[2]!.headers, 'Content-Transfer-Encoding'), '8bit');

  // A 7-bit original with no body at all: the whole message is header, and the report stays 7bit.
  const plain = Buffer.from('From: a@example.test\r\nSubject: hi\r\n');
  const p = parse(buildDsn(failure({ original: plain })));
  assert.equal(Buffer.from(p.parts[2]!.payload!, 'base64').compare(plain), 0);
  assert.equal(one(p.parts[2]!.headers, 'Content-Transfer-Encoding'), '7bit');
  assert.equal(one(p.headers, 'Content-Transfer-Encoding'), undefined);
});

test('a multi-recipient DSN: Original-Recipient, Original-Envelope-Id, and Status derived from the code class', () => {
  const input = failure({
    envelopeId: 'QQ314159',
    recipients: [
      {
        address: 'bob@remote.test',
        original: 'bobby@example.test',
        action: 'failed',
        code: 550,
        enhanced: '5.1.1',
        message: 'User unknown',
        remoteMta: 'mx1.remote.test [127.0.0.1]',
      },
      { address: 'carol@other.test', action: 'failed', code: 554, message: 'Transaction failed' },
      { address: 'dave@other.test', action: 'failed', message: 'Too many hops' },
      { address: 'erin@other.test', action: 'failed', code: 552, enhanced: 'bogus', message: 'Mailbox full' },
    ],
  });
  const m = parse(buildDsn(input));
  const [perMessage, bob, carol, dave, erin] = m.parts[1]!.blocks! as [Fields, Fields, Fields, Fields, Fields];
  assert.equal(m.parts[1]!.blocks!.length, 5);
  assert.equal(one(perMessage, 'Original-Envelope-Id'), 'QQ314159');
  assert.equal(one(perMessage, 'X-Postern-Queue-ID'), '0MIK3Q5Z1A00F3B9C2E17');

  assert.deepEqual(names(bob), ['Original-Recipient', 'Final-Recipient', 'Action', 'Status', 'Remote-MTA', 'Diagnostic-Code']);
  assert.equal(one(bob, 'Original-Recipient'), 'rfc822;bobby@example.test');
  assert.equal(one(bob, 'Final-Recipient'), 'rfc822;bob@remote.test');

  assert.deepEqual(carol, [
    ['Final-Recipient', 'rfc822;carol@other.test'],
    ['Action', 'failed'],
    ['Status', '5.0.0'],
    ['Diagnostic-Code', 'smtp; 554 Transaction failed'],
  ]);
  // Our own reason, no SMTP reply: status from the action, diagnostic not typed "smtp".
  assert.equal(one(dave, 'Status'), '5.0.0');
  assert.equal(one(dave, 'Diagnostic-Code'), 'X-Postern; Too many hops');
  assert.equal(one(dave, 'Remote-MTA'), undefined);
  // A malformed enhanced code is not repeated; the class comes from 552.
  assert.equal(one(erin, 'Status'), '5.0.0');
  assert.equal(one(erin, 'Diagnostic-Code'), 'smtp; 552 Mailbox full');

  const body = text(m.parts[0]!.payload);
  assert.match(body, /<bob@remote\.test>\r\n {4}\(originally addressed to <bobby@example\.test>\)/);
  assert.match(body, /<carol@other\.test>\r\n {4}Reason: 554 Transaction failed/);
  assert.match(body, /<dave@other\.test>\r\n {4}Reason: Too many hops/);
});

test('a delay DSN: subject, Action delayed, 4.x.x status and Will-Retry-Until', () => {
  const until = T0 + 5 * 86_400_000;
  const input = failure({
    kind: 'delay',
    recipients: [
      { address: 'bob@remote.test', action: 'delayed', code: 451, enhanced: '4.7.1', message: 'Greylisted, try later', remoteMta: 'mx1.remote.test [127.0.0.1]', lastAttemptAt: T0 + 60_000, willRetryUntil: until },
      { address: 'carol@other.test', action: 'delayed', code: 421, message: 'Too busy', willRetryUntil: until },
      { address: 'dave@other.test', action: 'delayed', willRetryUntil: until },
    ],
  });
  const m = parse(buildDsn(input));
  assert.equal(one(m.headers, 'Subject'), 'Delivery Status Notification (Delay)');
  const [, bob, carol, dave] = m.parts[1]!.blocks! as [Fields, Fields, Fields, Fields];
  assert.deepEqual(bob, [
    ['Final-Recipient', 'rfc822;bob@remote.test'],
    ['Action', 'delayed'],
    ['Status', '4.7.1'],
    ['Remote-MTA', 'dns; mx1.remote.test'],
    ['Diagnostic-Code', 'smtp; 451 4.7.1 Greylisted, try later'],
    ['Last-Attempt-Date', rfc5322Date(new Date(T0 + 60_000))],
    ['Will-Retry-Until', rfc5322Date(new Date(until))],
  ]);
  assert.equal(one(carol, 'Status'), '4.0.0');
  assert.equal(one(carol, 'Will-Retry-Until'), rfc5322Date(new Date(until)));
  assert.deepEqual(dave, [
    ['Final-Recipient', 'rfc822;dave@other.test'],
    ['Action', 'delayed'],
    ['Status', '4.0.0'],
    ['Will-Retry-Until', rfc5322Date(new Date(until))],
  ]);
  const body = text(m.parts[0]!.payload);
  assert.match(body, /not yet been delivered/);
  assert.doesNotMatch(body, /could not be delivered/);
  assert.ok(body.includes(`    Will keep trying until: ${rfc5322Date(new Date(until))}\r\n`));

  // Will-Retry-Until belongs to delays only.
  const f = parse(buildDsn(failure({ recipients: [{ address: 'x@remote.test', action: 'failed', code: 550, willRetryUntil: until }] })));
  assert.equal(one(f.parts[1]!.blocks![1]!, 'Will-Retry-Until'), undefined);
});

test('a reply with CR, LF and control characters cannot add fields, blocks or lines', () => {
  const hostile = 'User unknown\r\n\r\nFinal-Recipient: rfc822;evil@attacker.test\r\nAction: delivered\x00\x1b[31m\x07 red\u2028\u202eend\x7f';
  const input = failure({
    recipients: [
      { address: 'bob@remote.test', action: 'failed', code: 550, enhanced: '5.1.1', message: hostile, remoteMta: 'mx1.remote.test\r\nX-Evil: 1 [127.0.0.1]' },
    ],
  });
  const dsn = buildDsn(input);
  assertWellFormedLines(dsn);
  const m = parse(dsn);
  assert.deepEqual(m.defects, []);
  const blocks = m.parts[1]!.blocks!;
  assert.equal(blocks.length, 2, 'no injected recipient block');
  const bob = blocks[1]!;
  assert.deepEqual(names(bob), ['Final-Recipient', 'Action', 'Status', 'Remote-MTA', 'Diagnostic-Code']);
  assert.equal(one(bob, 'Action'), 'failed');
  const diagnostic = one(bob, 'Diagnostic-Code') ?? '';
  assert.equal(diagnostic, 'smtp; 550 5.1.1 User unknown Final-Recipient: rfc822;evil@attacker.test Action: delivered [31m red end');
  assert.doesNotMatch(diagnostic, /[\x00-\x1f\x7f]/);
  assert.equal(one(bob, 'Remote-MTA'), 'dns; mx1.remote.test X-Evil: 1');

  const body = text(m.parts[0]!.payload);
  assert.doesNotMatch(body.replace(/\r\n/g, ''), /[\x00-\x08\x0a-\x1f\x7f\u2028\u202e]/);
  assert.match(body, /said: 550 5\.1\.1 User unknown Final-Recipient: rfc822;evil@attacker\.test Action: delivered \[31m red end\r\n/);
});

test('a very long reply is folded in delivery-status and wrapped in the text part, no line over 998', () => {
  const long = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ') + ' ' + 'x'.repeat(1500);
  const dsn = buildDsn(failure({ recipients: [{ address: 'bob@remote.test', action: 'failed', code: 550, message: long }] }));
  assertWellFormedLines(dsn);
  const m = parse(dsn);
  const diagnostic = one(m.parts[1]!.blocks![1]!, 'Diagnostic-Code') ?? '';
  assert.ok(diagnostic.startsWith('smtp; 550 word0 word1 word2'));
  assert.ok(diagnostic.length < 1100, `capped, got ${diagnostic.length}`);
  assert.match(text(m.parts[0]!.payload), /Reason: 550 word0 word1 word2/);
});

test('UTF-8 text survives quoted-printable, and a UTF-8 address is typed utf-8 in the report', () => {
  const m = parse(
    buildDsn(failure({ recipients: [{ address: 'jörg@bücher.test', action: 'failed', code: 550, message: 'Benutzer unbekannt: jörg' }] })),
  );
  assert.equal(one(m.parts[0]!.headers, 'Content-Transfer-Encoding'), 'quoted-printable');
  const body = text(m.parts[0]!.payload);
  assert.match(body, /<jörg@bücher\.test>\r\n {4}Reason: 550 Benutzer unbekannt: jörg/);
  const bob = m.parts[1]!.blocks![1]!;
  assert.equal(one(bob, 'Final-Recipient'), 'utf-8;j\\x{F6}rg@b\\x{FC}cher.test');
  assert.equal(one(bob, 'Diagnostic-Code'), 'smtp; 550 Benutzer unbekannt: j?rg');
});

test("returnContent 'full' attaches message/rfc822, and falls back to the headers past maxFullBytes", () => {
  const dsn = buildDsn(failure({ returnContent: 'full' }));
  const m = parse(dsn);
  assert.deepEqual(m.defects, []);
  assert.equal(m.parts[2]!.type, 'message/rfc822');
  assert.equal(one(m.parts[2]!.inner!.headers, 'Message-ID'), '<m1@example.test>');
  assert.equal(text(m.parts[2]!.inner!.body), 'Hello Bob,\r\n--\r\nAlice\r\n');
  assert.ok(dsn.includes(ORIGINAL), 'the original travels byte for byte');
  assert.match(text(m.parts[0]!.payload), /Your message is attached\./);

  const capped = parse(buildDsn(failure({ returnContent: 'full', maxFullBytes: 100 })));
  assert.equal(capped.parts[2]!.type, 'text/rfc822-headers');
  assert.equal(Buffer.from(capped.parts[2]!.payload!, 'base64').compare(ORIGINAL_HEADERS), 0);
  assert.match(text(capped.parts[0]!.payload), new RegExp(`Your message \\(${ORIGINAL.length} bytes\\) is too large`));

  // A body line over 998 octets cannot go as 8bit: headers only.
  const longLine = Buffer.concat([ORIGINAL_HEADERS, Buffer.from(`\r\n${'y'.repeat(2000)}\r\n`)]);
  const unsafe = parse(buildDsn(failure({ returnContent: 'full', original: longLine })));
  assert.equal(unsafe.parts[2]!.type, 'text/rfc822-headers');
});

test('the boundary occurs in no part, even when the original is full of boundary-like lines', () => {
  const original = Buffer.from(
    'From: a@example.test\r\nX-Trap: --=_postern-dsn-\r\nContent-Type: multipart/mixed; boundary="=_postern-dsn-"\r\n\r\n--=_postern-dsn-\r\n\r\nx\r\n--=_postern-dsn---\r\n',
  );
  for (const returnContent of ['headers', 'full'] as const) {
    const dsn = buildDsn(failure({ original, returnContent }));
    const m = parse(dsn);
    assert.deepEqual(m.defects, []);
    assert.equal(m.parts.length, 3);
    const boundary = Buffer.from(m.boundary);
    // Exactly the four delimiter lines (three parts and the close) mention it, plus the Content-Type header.
    let count = 0;
    for (let at = dsn.indexOf(boundary); at !== -1; at = dsn.indexOf(boundary, at + 1)) count++;
    assert.equal(count, 5);
  }
});

test('buildDsn refuses an empty recipient list', () => {
  assert.throws(() => buildDsn(failure({ recipients: [] })), TypeError);
});

test('mayBounce: no to the null sender and to MAILER-DAEMON / postmaster senders', () => {
  const msg = Buffer.from('From: x@example.test\r\nSubject: hi\r\n\r\nbody\r\n');
  assert.deepEqual(mayBounce('', msg), { send: false, reason: BounceSuppressed.NULL_SENDER });
  assert.deepEqual(mayBounce('<>', msg), { send: false, reason: BounceSuppressed.NULL_SENDER });
  assert.deepEqual(mayBounce('MAILER-DAEMON@remote.test', msg), { send: false, reason: BounceSuppressed.MAILER_DAEMON });
  assert.deepEqual(mayBounce('mailer-daemon@remote.test', msg), { send: false, reason: BounceSuppressed.MAILER_DAEMON });
  assert.deepEqual(mayBounce('MAILER-DAEMON', msg), { send: false, reason: BounceSuppressed.MAILER_DAEMON });
  assert.deepEqual(mayBounce('Postmaster@remote.test', msg), { send: false, reason: BounceSuppressed.POSTMASTER });
  assert.deepEqual(mayBounce('daemon-fan@remote.test', msg), { send: true });
});

test('mayBounce: no for a message that is itself a DSN (ours included)', () => {
  const ours = buildDsn(failure());
  assert.deepEqual(mayBounce('someone@example.test', ours), { send: false, reason: BounceSuppressed.IS_DSN });
  const folded = Buffer.from('Subject: x\r\nContent-Type: Multipart/Report (a report);\r\n\tReport-Type="Delivery-Status"; boundary=b\r\n\r\n--b--\r\n');
  assert.deepEqual(mayBounce('someone@example.test', folded), { send: false, reason: BounceSuppressed.IS_DSN });
  // An MDN is a report too, but not a DSN; a DSN quoted in a body does not count.
  const mdn = Buffer.from('Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n--b--\r\n');
  assert.deepEqual(mayBounce('someone@example.test', mdn), { send: true });
  const quoted = Buffer.from('Subject: fwd\r\n\r\nContent-Type: multipart/report; report-type=delivery-status\r\n');
  assert.deepEqual(mayBounce('someone@example.test', quoted), { send: true });
});

test('mayBounce: Auto-Submitted other than "no" suppresses; "no" and a normal message do not', () => {
  const withHeader = (value: string) => Buffer.from(`From: x@example.test\r\nAuto-Submitted: ${value}\r\n\r\nbody\r\n`);
  assert.deepEqual(mayBounce('x@example.test', withHeader('auto-generated')), { send: false, reason: BounceSuppressed.AUTO_SUBMITTED });
  assert.deepEqual(mayBounce('x@example.test', withHeader('Auto-Replied; owner-email="x@example.test"')), { send: false, reason: BounceSuppressed.AUTO_SUBMITTED });
  assert.deepEqual(mayBounce('x@example.test', withHeader('No (a person wrote this)')), { send: true });
  assert.deepEqual(mayBounce('x@example.test', withHeader('no')), { send: true });
  assert.deepEqual(mayBounce('alice@example.test', ORIGINAL), { send: true });
});
