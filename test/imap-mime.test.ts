/**
 * core/src/imap/mime: ENVELOPE, BODYSTRUCTURE, BODY[section] and SEARCH matching, checked
 * against a real Dovecot (2.3, test/support/dovecot.ts) answering for the same messages
 * (test/fixtures/mime/*.eml).
 *
 * Normalisations in the Dovecot comparison (each one a difference RFC 3501 allows or one we chose):
 * 1. Strings are compared as values, not as wire forms: a quoted string and a literal with the
 *    same content are equal (RFC 3501 4.3). Dovecot makes a literal of a name whose blanks it
 *    collapsed; we quote whatever is safely quotable.
 * 2. Dovecot sends 8-bit header bytes as they are; we return UTF-8 text, so raw bytes that are not
 *    UTF-8 (fixture 02's Latin-1 From name) reach the client as the UTF-8 of their Latin-1
 *    reading. Dovecot's bytes are therefore read as UTF-8 when valid, else as Latin-1, and so
 *    are ours (always valid UTF-8).
 * Nothing else is normalised: atoms, numbers, NIL, list structure, case, and BODY[...] bytes
 * must be identical.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  bodySection,
  imapBodyStructure,
  imapEnvelope,
  imapEnvelopeFromHeader,
  matches,
  needsBody,
  needsContent,
  parseMime,
  partial,
  type MimePart,
  type SearchKey,
  type SearchSubject,
  type SectionSpec,
} from '../core/src/imap/mime/index.js';
import { cleanupList, startDovecot } from './support/index.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/mime/', import.meta.url));
const files = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.eml'))
  .sort();
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

// ---------------------------------------------------------------- an IMAP response reader

type Value = null | number | string | Value[];
/** A string on the wire, before it is decoded for comparison. */
class Str {
  constructor(readonly bytes: Buffer) {}
}
type RawValue = null | number | Str | RawValue[] | { atom: string };

/** Reads IMAP response syntax (atoms, numbers, NIL, quoted, literals, lists) from bytes. */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  skipSpaces(): void {
    while (this.buf[this.pos] === 0x20) this.pos++;
  }

  value(): RawValue {
    this.skipSpaces();
    const c = this.buf[this.pos];
    if (c === 0x28) {
      this.pos++;
      const list: RawValue[] = [];
      for (;;) {
        this.skipSpaces();
        if (this.buf[this.pos] === 0x29) {
          this.pos++;
          return list;
        }
        list.push(this.value());
      }
    }
    if (c === 0x22) {
      const bytes: number[] = [];
      this.pos++;
      while (this.buf[this.pos] !== 0x22) {
        if (this.buf[this.pos] === 0x5c) this.pos++;
        bytes.push(this.buf[this.pos++]!);
      }
      this.pos++;
      return new Str(Buffer.from(bytes));
    }
    if (c === 0x7b) {
      const close = this.buf.indexOf('}', this.pos);
      const n = Number(this.buf.toString('latin1', this.pos + 1, close));
      const start = close + 3; // "}\r\n"
      this.pos = start + n;
      return new Str(this.buf.subarray(start, start + n));
    }
    // an atom; "[...]" inside it (BODY[HEADER.FIELDS (A B)]) and "<n>" after it belong to it
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.buf.length) {
      const d = this.buf[this.pos]!;
      if (d === 0x5b) depth++;
      else if (d === 0x5d) depth--;
      else if (depth === 0 && (d === 0x20 || d === 0x29 || d === 0x28 || d === 0x0d)) break;
      this.pos++;
    }
    const atom = this.buf.toString('latin1', start, this.pos);
    if (atom === 'NIL') return null;
    if (/^\d+$/.test(atom)) return Number(atom);
    return { atom };
  }
}

/** Strings as text (normalisation 2), atoms as { atom }. */
function decode(v: RawValue): Value | { atom: string } {
  if (v instanceof Str) return isUtf8(v.bytes) ? v.bytes.toString('utf8') : v.bytes.toString('latin1');
  if (Array.isArray(v)) return v.map(decode) as Value[];
  return v as Value;
}

/** Our string answer, read back the same way (normalisation 1). */
function parseOurs(text: string): unknown {
  const reader = new Reader(Buffer.from(text, 'utf8'));
  const value = decode(reader.value());
  assert.equal(reader.pos, reader.buf.length, `trailing data after the value in ${JSON.stringify(text)}`);
  return value;
}

/** `* N FETCH (...)` responses: item name → raw value, per message number. */
function parseFetches(buf: Buffer): Map<number, Map<string, RawValue>> {
  const out = new Map<number, Map<string, RawValue>>();
  const reader = new Reader(buf);
  while (reader.pos < buf.length) {
    const lineStart = reader.pos;
    const m = /^\* (\d+) FETCH \(/.exec(buf.toString('latin1', lineStart, Math.min(buf.length, lineStart + 40)));
    if (!m) {
      const nl = buf.indexOf('\n', reader.pos);
      reader.pos = nl < 0 ? buf.length : nl + 1;
      continue;
    }
    reader.pos = lineStart + m[0].length - 1;
    const list = reader.value() as RawValue[];
    const items = new Map<string, RawValue>();
    for (let i = 0; i < list.length; i += 2) items.set((list[i] as { atom: string }).atom, list[i + 1]!);
    out.set(Number(m[1]), items);
    const nl = buf.indexOf('\n', reader.pos);
    reader.pos = nl < 0 ? buf.length : nl + 1;
  }
  return out;
}

/** Log in, select INBOX, run one command, return everything the server sent (bytes). */
function imapExchange(port: number, user: string, password: string, command: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`IMAP timeout; got:\n${Buffer.concat(chunks).toString('latin1')}`));
    }, 10_000);
    socket.on('data', (d) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      if (/\r\nZ OK [^\r\n]*\r\n$/.test(all.toString('latin1', Math.max(0, all.length - 200)))) {
        clearTimeout(timer);
        socket.end();
        resolve(all);
      }
    });
    socket.on('error', reject);
    socket.write(`A LOGIN ${user} ${password}\r\nB SELECT INBOX\r\nC ${command}\r\nZ LOGOUT\r\n`);
  });
}

/** "2.1.MIME" / "HEADER.FIELDS (SUBJECT FROM)" / "" → SectionSpec. */
function sectionSpec(section: string): SectionSpec {
  const m = /^((?:\d+\.)*\d+)?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \((.*)\))?$/.exec(section);
  assert.ok(m, section);
  const spec: SectionSpec = { part: m[1] ? m[1].split('.').map(Number) : [] };
  if (m[2]) spec.kind = m[2] as SectionSpec['kind'];
  if (m[3]) spec.fields = m[3].split(' ');
  return spec;
}

// Sections fetched from Dovecot for every fixture and compared byte for byte.
const SECTIONS = [
  '',
  'HEADER',
  'TEXT',
  '1',
  '2',
  '3',
  '1.1',
  '1.2',
  '2.1',
  '2.2',
  '2.1.1',
  '1.MIME',
  '2.MIME',
  '2.1.MIME',
  '1.HEADER',
  '1.TEXT',
  '2.HEADER',
  '2.TEXT',
  'HEADER.FIELDS (SUBJECT)',
  'HEADER.FIELDS (FROM MESSAGE-ID TO)',
  'HEADER.FIELDS.NOT (SUBJECT RECEIVED)',
  '2.HEADER.FIELDS (SUBJECT)',
];
const PARTIALS: Array<[string, number, number]> = [
  ['', 0, 100],
  ['1', 10, 25],
  ['TEXT', 5000, 10],
];

describe('imap mime vs a real Dovecot', () => {
  let answers: Map<number, Map<string, RawValue>>;

  // the suite's own cleanup (a `before` hook's context has no `after`)
  const cleanup = cleanupList();
  after(async () => {
    await cleanup.run();
  });

  before(async () => {
    const dovecot = await startDovecot(cleanup, { users: [{ name: 'alice', password: 'alicepw' }] });
    for (const file of files) await dovecot.save('alice', fixture(file));
    const sections = [...SECTIONS.map((s) => `BODY.PEEK[${s}]`), ...PARTIALS.map(([s, a, n]) => `BODY.PEEK[${s}]<${a}.${n}>`)];
    const response = await imapExchange(dovecot.imapPort, 'alice', 'alicepw', `FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY ${sections.join(' ')})`);
    answers = parseFetches(response);
    assert.equal(answers.size, files.length, `Dovecot answered for every message:\n${response.toString('latin1')}`);
  });

  files.forEach((file, i) => {
    test(`${file}: ENVELOPE, BODYSTRUCTURE, BODY and sections as Dovecot`, () => {
      const raw = fixture(file);
      const root = parseMime(raw);
      const theirs = answers.get(i + 1)!;
      assert.deepEqual(parseOurs(imapEnvelope(raw, root)), decode(theirs.get('ENVELOPE')!), 'ENVELOPE');
      assert.equal(imapEnvelopeFromHeader(raw), imapEnvelope(raw, root), 'ENVELOPE from the header alone');
      assert.deepEqual(parseOurs(imapBodyStructure(raw, root, true)), decode(theirs.get('BODYSTRUCTURE')!), 'BODYSTRUCTURE');
      assert.deepEqual(parseOurs(imapBodyStructure(raw, root, false)), decode(theirs.get('BODY')!), 'BODY');
      for (const section of SECTIONS) {
        const expected = theirs.get(`BODY[${section}]`);
        assert.ok(expected instanceof Str, `Dovecot sent BODY[${section}]`);
        assert.equal(bodySection(raw, root, sectionSpec(section)).toString('latin1'), expected.bytes.toString('latin1'), `BODY[${section}]`);
      }
      for (const [section, start, length] of PARTIALS) {
        const expected = theirs.get(`BODY[${section}]<${start}>`);
        assert.ok(expected instanceof Str, `Dovecot sent BODY[${section}]<${start}>`);
        assert.equal(partial(bodySection(raw, root, sectionSpec(section)), start, length).toString('latin1'), expected.bytes.toString('latin1'), `BODY[${section}]<${start}.${length}>`);
      }
    });
  });
});

// ---------------------------------------------------------------- the MIME tree

describe('parseMime', () => {
  test('offsets: header without its empty line, body after it', () => {
    const raw = fixture('01-plain.eml');
    const root = parseMime(raw);
    const text = raw.toString('latin1');
    assert.equal(root.headerStart, 0);
    assert.equal(root.headerEnd, text.indexOf('\r\n\r\n') + 2);
    assert.equal(root.bodyStart, text.indexOf('\r\n\r\n') + 4);
    assert.equal(root.bodyEnd, raw.length);
    assert.deepEqual(root.contentType, { type: 'text', subtype: 'plain', params: { charset: 'utf-8' } });
    assert.deepEqual(root.children, []);
  });

  test('multipart/mixed: RFC 2231 continuations and filename* decoded, the CRLF before a boundary excluded', () => {
    const raw = fixture('05-mixed-attachment.eml');
    const root = parseMime(raw);
    assert.deepEqual(root.contentType, { type: 'multipart', subtype: 'mixed', params: { boundary: '----=_Part_0_1234' } });
    const [text, pdf] = root.children as [MimePart, MimePart];
    assert.equal(raw.toString('latin1', text.bodyStart, text.bodyEnd), 'Please find the invoice attached.\r\n');
    assert.deepEqual(pdf.contentType, { type: 'application', subtype: 'pdf', params: { name: 'quarterly-invoice.pdf' } });
    assert.deepEqual(pdf.fields.disposition?.decoded, { size: '213', filename: '€ rates.pdf' });
    assert.ok(raw.toString('latin1', pdf.bodyStart, pdf.bodyEnd).endsWith('CiUlRU9GCg==\r\n')); // the empty line's CRLF is the boundary's
    assert.deepEqual(pdf.fields.language, null);
    assert.deepEqual(text.fields.language, ['en', 'de']);
  });

  test('RFC 2231: charset and language, mixed encoded and plain sections', () => {
    const root = parseMime(fixture('16-rfc2231-continuations.eml'));
    const part = root.children[1]!;
    assert.deepEqual(part.contentType.params, { name: 'AB', title: 'This is even more' });
    assert.deepEqual(part.fields.disposition?.decoded, { filename: 'longname.bin' }); // the RFC 2231 form wins
  });

  test('message/rfc822 inside multipart: the embedded message is `message`', () => {
    const raw = fixture('06-nested-rfc822.eml');
    const root = parseMime(raw);
    const forwarded = root.children[1]!;
    assert.equal(forwarded.contentType.type, 'message');
    assert.ok(forwarded.message);
    assert.equal(forwarded.message.headerStart, forwarded.bodyStart);
    assert.equal(forwarded.message.bodyEnd, forwarded.bodyEnd);
    assert.deepEqual(
      forwarded.message.children.map((c) => `${c.contentType.type}/${c.contentType.subtype}`),
      ['text/plain', 'text/html'],
    );
  });

  test('multipart/digest parts default to message/rfc822; no Content-Type defaults to text/plain', () => {
    const root = parseMime(fixture('12-utf8-header-digest.eml'));
    assert.deepEqual(root.children.map((c) => [c.contentType.type, c.contentType.subtype, c.message !== undefined]), [
      ['message', 'rfc822', true],
      ['message', 'rfc822', true],
    ]);
    assert.deepEqual(parseMime(fixture('09-no-content-type.eml')).contentType, { type: 'text', subtype: 'plain', params: {} });
  });

  test('malformed input never throws and degrades', () => {
    const broken = parseMime(fixture('08-malformed-no-end.eml'));
    assert.equal(broken.children.length, 2);
    assert.equal(broken.children[1]!.bodyEnd, fixture('08-malformed-no-end.eml').length);
    assert.deepEqual(parseMime(fixture('13-multipart-no-boundary.eml')).children, []);
    assert.deepEqual(parseMime(Buffer.alloc(0)).contentType.type, 'text');
    // every truncation of every fixture, and random bytes
    for (const file of files) {
      const raw = fixture(file);
      for (let n = 0; n <= raw.length; n += 7) {
        const part = parseMime(raw.subarray(0, n));
        imapBodyStructure(raw.subarray(0, n), part, true);
        imapEnvelope(raw.subarray(0, n), part);
      }
    }
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pieces = ['--b\r\n', '--b--\r\n', 'Content-Type: multipart/mixed; boundary=b\r\n', 'Content-Type: message/rfc822\r\n', '\r\n', 'x: y\r\n', '\n', '=?utf-8?b?', '"', '(', '<'];
    for (let i = 0; i < 300; i++) {
      let text = '';
      while (random() < 0.95) text += pieces[Math.floor(random() * pieces.length)];
      const raw = Buffer.from(text, 'latin1');
      const part = parseMime(raw);
      parseOurs(imapBodyStructure(raw, part, true)); // well-formed
      parseOurs(imapEnvelope(raw, part));
    }
  });

  test('deep nesting stops at 100 levels without blowing the stack', () => {
    let text = '';
    for (let i = 0; i < 5000; i++) text += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
    const raw = Buffer.from(text);
    let depth = 0;
    for (let part: MimePart | undefined = parseMime(raw); part; part = part.children[0]) depth++;
    assert.equal(depth, 101);
    parseOurs(imapBodyStructure(raw, parseMime(raw), true));
  });
});

// ---------------------------------------------------------------- BODY[section]

describe('bodySection', () => {
  const raw = fixture('06-nested-rfc822.eml');
  const root = parseMime(raw);
  const text = raw.toString('latin1');
  const section = (spec: SectionSpec) => bodySection(raw, root, spec).toString('latin1');

  test('[] is the whole message, [HEADER] keeps its empty line, [TEXT] is the body', () => {
    assert.equal(section({ part: [] }), text);
    assert.equal(section({ part: [], kind: 'HEADER' }), text.slice(0, text.indexOf('\r\n\r\n') + 4));
    assert.equal(section({ part: [], kind: 'TEXT' }), text.slice(text.indexOf('\r\n\r\n') + 4));
  });

  test('[1], [1.MIME], [2.1] and [2.HEADER] of a forwarded message', () => {
    assert.equal(section({ part: [1] }), 'See the forwarded message below.\r\n');
    assert.equal(section({ part: [1], kind: 'MIME' }), 'Content-Type: text/plain; charset=us-ascii\r\n\r\n');
    assert.equal(section({ part: [2, 1] }), 'Lunch at noon? The pelican place.\r\n');
    assert.equal(section({ part: [2, 2], kind: 'MIME' }), 'Content-Type: text/html; charset=utf-8\r\n\r\n');
    assert.ok(section({ part: [2], kind: 'HEADER' }).startsWith('Date: Sat, 8 Mar 2025 11:00:00 +0000\r\n'));
    assert.ok(section({ part: [2], kind: 'HEADER' }).endsWith('boundary=inner\r\n\r\n'));
    assert.equal(section({ part: [2], kind: 'HEADER.FIELDS', fields: ['subject', 'FROM'] }), 'From: Carol <carol@example.test>\r\nSubject: Lunch?\r\n\r\n');
  });

  test('nonexistent parts are empty; [1] of a one-part message is its body', () => {
    assert.equal(section({ part: [3] }), '');
    assert.equal(section({ part: [1, 1] }), 'See the forwarded message below.\r\n'); // Dovecot: N.1 of a leaf is the leaf
    assert.equal(section({ part: [1], kind: 'HEADER' }), ''); // not a message/rfc822 part
    assert.equal(section({ part: [], kind: 'MIME' }), '');
    const plain = fixture('01-plain.eml');
    const plainRoot = parseMime(plain);
    assert.equal(bodySection(plain, plainRoot, { part: [1] }).toString(), plain.toString().slice(plain.indexOf('\r\n\r\n') + 4));
    assert.equal(bodySection(plain, plainRoot, { part: [1, 1] }).length, 0);
    assert.equal(bodySection(plain, plainRoot, { part: [2] }).length, 0);
  });

  test('partial <0.100> and past the end', () => {
    const whole = bodySection(raw, root, { part: [] });
    assert.equal(partial(whole, 0, 100).toString('latin1'), text.slice(0, 100));
    assert.equal(partial(whole, 100).toString('latin1'), text.slice(100));
    assert.equal(partial(whole, whole.length + 5, 10).length, 0);
    assert.equal(partial(whole, whole.length - 3, 100).length, 3);
  });
});

// ---------------------------------------------------------------- ENVELOPE details

describe('ENVELOPE', () => {
  test('fast address path agrees with the general parser', () => {
    const lists = [
      'Alice Example <alice@example.test>, bob@example.test',
      'Alice   Example\t<alice@example.test>',
      '"Sender Number 1" <sender1@example.test>',
      '"" <empty@x.test>',
      '<bare@x.test>, , a@b.test,',
      'a.b.c@d.e.f',
      'Müller <m@x.test>',
      '=?utf-8?q?Enc_Name?= <e@x.test>',
      'nodomain',
      'Bad <>',
      '@nolocal.test',
      'a@b@c',
      'Name <a@b> trailing',
      'J. Smith <j@x.test>',
    ];
    for (const list of lists) {
      const raw = Buffer.from(`To: ${list}\r\n\r\n`);
      const envelope = imapEnvelopeFromHeader(raw);
      // the same header with a comment forces the general parser; the comment is not a name here
      const general = imapEnvelopeFromHeader(Buffer.from(`To: (x) ${list}\r\n\r\n`));
      assert.equal(envelope, general, list);
    }
  });

  test('defaults and NIL: Sender and Reply-To fall back to From; an empty address field is NIL', () => {
    const raw = Buffer.from('From: a@b.test\r\nSender:\r\nTo: undisclosed-recipients:;\r\nSubject:\r\n\r\n');
    assert.equal(imapEnvelopeFromHeader(raw), '(NIL "" ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)');
    assert.equal(imapEnvelopeFromHeader(Buffer.from('\r\nFrom: a@b.test\r\n')), '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
  });

  test('literals count UTF-8 octets; quotes and backslashes go in a literal', () => {
    const raw = Buffer.from('Subject: Grüße "x" \\ y\r\n\r\n', 'utf8');
    const subject = 'Grüße "x" \\ y';
    assert.ok(imapEnvelopeFromHeader(raw).startsWith(`(NIL {${Buffer.byteLength(subject)}}\r\n${subject} NIL`));
  });

  test('a header longer than the first chunk read', () => {
    const filler = Array.from({ length: 200 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(60)}\r\n`).join('');
    const raw = Buffer.from(`${filler}Subject: late\r\nX: y\r\n\r\nSubject: body\r\n`);
    assert.match(imapEnvelopeFromHeader(raw), /^\(NIL "late" /);
    assert.match(imapEnvelopeFromHeader(raw.subarray(0, raw.indexOf('X: y'))), /^\(NIL "late" /);
  });

  test('speed: 10,000 headers of 5 KB messages', (t) => {
    const messages = Array.from({ length: 10_000 }, (_, i) => benchMessage(i));
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const before = process.cpuUsage();
      for (const m of messages) imapEnvelopeFromHeader(m);
      const used = process.cpuUsage(before);
      best = Math.min(best, (used.user + used.system) / 1000);
    }
    t.diagnostic(`imapEnvelopeFromHeader x 10,000 (5 KB messages): ${best.toFixed(1)} ms CPU (best of 3)`);
    assert.ok(best < 2000, `${best} ms`); // a loose bound for loaded CI machines; ~50-90 ms here
  });
});

/** A 5 KB message with a realistic header (Received, DKIM, folded lines, encoded words). */
function benchMessage(i: number): Buffer {
  const header = [
    `Return-Path: <sender${i}@example.test>`,
    `Received: from mx${i}.example.test (mx${i}.example.test [192.0.2.${i % 250}])\r\n\tby mail.example.test (Postern) with ESMTPS id ${i}ABC\r\n\tfor <alice@example.test>; Tue, 4 Mar 2025 10:15:00 +0100`,
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test; s=sel;\r\n\tt=1741079699; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\th=From:To:Subject:Date:Message-ID;\r\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaXMgbG9uZyBlbm91Z2ggdG8gbG9vayBsaWtl`,
    `Date: Tue, 4 Mar 2025 10:14:59 +0100`,
    `From: "Sender Number ${i}" <sender${i}@example.test>`,
    `To: Alice Example <alice@example.test>, bob@example.test`,
    `Cc: =?UTF-8?Q?Ren=C3=A9e?= <renee@example.test>`,
    `Subject: Quarterly report number ${i}`,
    `Message-ID: <msg${i}@example.test>`,
    `In-Reply-To: <prev${i}@example.test>`,
    `MIME-Version: 1.0`,
    `Content-Type: text/plain; charset=utf-8`,
  ].join('\r\n');
  let body = '';
  while (header.length + body.length < 5000) body += 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n';
  return Buffer.from(`${header}\r\n\r\n${body}`);
}

// ---------------------------------------------------------------- SEARCH

describe('matches', () => {
  const internalDate = new Date(2025, 2, 4, 12, 0, 0).getTime(); // 2025-03-04 noon, server time
  function subject(file: string, extra: Partial<SearchSubject> = {}): SearchSubject & { reads: number } {
    const raw = fixture(file);
    const subject = {
      seq: 3,
      uid: 42,
      flags: ['\\Seen', 'Work'],
      recent: false,
      internalDate,
      size: raw.length,
      modseq: 17,
      reads: 0,
      async raw() {
        subject.reads++;
        return raw;
      },
      ...extra,
    };
    return subject;
  }
  const is = async (key: SearchKey, file = '01-plain.eml', extra: Partial<SearchSubject> = {}) => matches(key, subject(file, extra));

  test('all, flags and keywords (any case), recent, new', async () => {
    assert.equal(await is({ op: 'all' }), true);
    assert.equal(await is({ op: 'flag', flag: '\\seen', set: true }), true);
    assert.equal(await is({ op: 'flag', flag: '\\Flagged', set: false }), true); // UNFLAGGED
    assert.equal(await is({ op: 'flag', flag: 'work', set: true }), true); // KEYWORD
    assert.equal(await is({ op: 'flag', flag: 'Work', set: false }), false); // UNKEYWORD
    assert.equal(await is({ op: 'recent', set: true }), false);
    assert.equal(await is({ op: 'recent', set: false }), true);
    assert.equal(await is({ op: 'new' }, '01-plain.eml', { recent: true, flags: [] }), true);
    assert.equal(await is({ op: 'new' }, '01-plain.eml', { recent: true }), false);
  });

  test('sequence numbers, UIDs, size, modseq', async () => {
    assert.equal(await is({ op: 'seq', ranges: [[1, 2], [3, 3]] }), true);
    assert.equal(await is({ op: 'seq', ranges: [[4, 9]] }), false);
    assert.equal(await is({ op: 'uid', ranges: [[50, 40]] }), true);
    const size = fixture('01-plain.eml').length;
    assert.equal(await is({ op: 'size', cmp: 'larger', n: size - 1 }), true);
    assert.equal(await is({ op: 'size', cmp: 'larger', n: size }), false);
    assert.equal(await is({ op: 'size', cmp: 'smaller', n: size + 1 }), true);
    assert.equal(await is({ op: 'modseq', min: 17 }), true);
    assert.equal(await is({ op: 'modseq', min: 18 }), false);
  });

  test('header keys: decoded RFC 2047 (any charset), case-insensitive, address fields as text, "" = present', async () => {
    assert.equal(await is({ op: 'header', field: 'subject', value: 'ÁKVORTER' }, '03-rfc2047.eml'), true);
    assert.equal(await is({ op: 'header', field: 'SUBJECT', value: 'grüße aus €-land' }, '03-rfc2047.eml'), true);
    assert.equal(await is({ op: 'header', field: 'from', value: 'renée dupont' }, '03-rfc2047.eml'), true);
    assert.equal(await is({ op: 'header', field: 'to', value: 'joël <joel@' }, '03-rfc2047.eml'), true); // ISO-8859-1 B-encoded
    assert.equal(await is({ op: 'header', field: 'from', value: 'renee@example.test' }, '03-rfc2047.eml'), true);
    assert.equal(await is({ op: 'header', field: 'cc', value: 'dev two' }, '10-groups.eml'), true);
    assert.equal(await is({ op: 'header', field: 'to', value: 'undisclosed' }, '10-groups.eml'), true);
    assert.equal(await is({ op: 'header', field: 'bcc', value: 'audit' }, '05-mixed-attachment.eml'), true);
    assert.equal(await is({ op: 'header', field: 'subject', value: 'wöchentliche' }, '12-utf8-header-digest.eml'), true); // raw UTF-8
    assert.equal(await is({ op: 'header', field: 'from', value: 'müller, jörg' }, '02-latin1-8bit.eml'), true); // raw Latin-1
    assert.equal(await is({ op: 'header', field: 'in-reply-to', value: '' }, '11-reply.eml'), true);
    assert.equal(await is({ op: 'header', field: 'in-reply-to', value: '' }, '01-plain.eml'), false);
    assert.equal(await is({ op: 'header', field: 'subject', value: 'zebrafish' }), false); // body only
  });

  test('body: decoded text parts (8-bit Latin-1, quoted-printable, base64 HTML, embedded messages), not attachments', async () => {
    assert.equal(await is({ op: 'body', value: 'ZEBRAFISH' }), true);
    assert.equal(await is({ op: 'body', value: 'quarterly "numbers"' }), false); // the subject is not body
    assert.equal(await is({ op: 'body', value: 'grüße aus köln' }, '02-latin1-8bit.eml'), true);
    assert.equal(await is({ op: 'body', value: 'café au lait' }, '03-rfc2047.eml'), true);
    assert.equal(await is({ op: 'body', value: 'soft broken in' }, '03-rfc2047.eml'), true); // across a soft line break
    assert.equal(await is({ op: 'body', value: 'lighthouse</b> keeper' }, '04-alternative.eml'), true); // base64 HTML
    assert.equal(await is({ op: 'body', value: 'pelican' }, '06-nested-rfc822.eml'), true);
    assert.equal(await is({ op: 'body', value: 'carol@example.test' }, '06-nested-rfc822.eml'), true); // embedded header
    assert.equal(await is({ op: 'body', value: '%PDF' }, '05-mixed-attachment.eml'), false);
    assert.equal(await is({ op: 'body', value: 'not really a multipart' }, '13-multipart-no-boundary.eml'), true);
  });

  test('text: header and body', async () => {
    assert.equal(await is({ op: 'text', value: 'quarterly "numbers"' }), true);
    assert.equal(await is({ op: 'text', value: 'zebrafish' }), true);
    assert.equal(await is({ op: 'text', value: 'ákvorter und grüße' }, '03-rfc2047.eml'), true);
    assert.equal(await is({ op: 'text', value: 'platypus' }), false);
  });

  test('dates: internal in server time, sent as written (its zone ignored)', async () => {
    const on = (which: 'internal' | 'sent', cmp: 'before' | 'on' | 'since', date: string, file = '02-latin1-8bit.eml') =>
      is({ op: 'date', which, cmp, date }, file);
    assert.equal(await on('internal', 'on', '2025-03-04'), true);
    assert.equal(await on('internal', 'before', '2025-03-04'), false);
    assert.equal(await on('internal', 'before', '2025-03-05'), true);
    assert.equal(await on('internal', 'since', '2025-03-04'), true);
    assert.equal(await on('internal', 'since', '2025-03-05'), false);
    // "Wed, 05 Mar 2025 23:30:00 -0800" is 2025-03-06 in UTC, but SENTON compares the written day
    assert.equal(await on('sent', 'on', '2025-03-05'), true);
    assert.equal(await on('sent', 'since', '2025-03-06'), false);
    assert.equal(await on('sent', 'before', '2025-03-06'), true);
    assert.equal(await on('sent', 'on', '2025-03-12', '09-no-content-type.eml'), true); // "12 Mar 2025 14:00 GMT"
    assert.equal(await on('sent', 'since', '2000-01-01', '14-header-only.eml'), false); // no Date field
  });

  test('and / or / not; the message is read only when a key needs it', async () => {
    const unseenSubject: SearchKey = { op: 'and', keys: [{ op: 'header', field: 'subject', value: 'quarterly' }, { op: 'flag', flag: '\\Seen', set: false }] };
    const msg = subject('01-plain.eml');
    assert.equal(await matches(unseenSubject, msg), false);
    assert.equal(msg.reads, 0); // \Seen is set: decided without reading
    const unread = subject('01-plain.eml', { flags: [] });
    assert.equal(await matches(unseenSubject, unread), true);
    assert.equal(unread.reads, 1);
    assert.equal(await is({ op: 'or', a: { op: 'body', value: 'platypus' }, b: { op: 'uid', ranges: [[42, 42]] } }), true);
    assert.equal(await is({ op: 'or', a: { op: 'body', value: 'platypus' }, b: { op: 'uid', ranges: [[1, 1]] } }), false);
    assert.equal(await is({ op: 'not', key: { op: 'body', value: 'platypus' } }), true);
    assert.equal(await is({ op: 'not', key: { op: 'date', which: 'sent', cmp: 'since', date: '2000-01-01' } }, '14-header-only.eml'), true);
    const twice = subject('01-plain.eml');
    assert.equal(await matches({ op: 'and', keys: [{ op: 'text', value: 'zebrafish' }, { op: 'header', field: 'from', value: 'alice' }] }, twice), true);
    assert.equal(twice.reads, 1);
    // `parsed` is used when given
    const raw = fixture('04-alternative.eml');
    assert.equal(await matches({ op: 'body', value: 'lighthouse' }, subject('04-alternative.eml'), parseMime(raw)), true);
  });

  test('needsContent / needsBody', () => {
    assert.equal(needsContent({ op: 'flag', flag: '\\Seen', set: true }), false);
    assert.equal(needsContent({ op: 'date', which: 'internal', cmp: 'on', date: '2025-01-01' }), false);
    assert.equal(needsContent({ op: 'date', which: 'sent', cmp: 'on', date: '2025-01-01' }), true);
    assert.equal(needsContent({ op: 'not', key: { op: 'header', field: 'subject', value: 'x' } }), true);
    assert.equal(needsBody({ op: 'header', field: 'subject', value: 'x' }), false);
    assert.equal(needsBody({ op: 'or', a: { op: 'all' }, b: { op: 'text', value: 'x' } }), true);
  });
});
