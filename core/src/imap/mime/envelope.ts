/**
 * ENVELOPE (RFC 3501 7.4.2): (date subject from sender reply-to to cc bcc in-reply-to message-id)
 * from a header block alone — no MIME parse, so FETCH ENVELOPE over a whole mailbox only reads
 * headers. As Dovecot answers it:
 * - the last of each field counts; an absent field is NIL; Sender and Reply-To default to From;
 * - date, in-reply-to, message-id: the raw value, folds removed (leading blanks dropped);
 * - subject and display names: raw (RFC 2047 encoded-words are the client's to decode), folds
 *   removed and blanks collapsed (forHumans);
 * - addresses: address.ts, groups as (NIL NIL "name" NIL) ... (NIL NIL NIL NIL);
 * - strings quoted, or a literal when they hold `"`, `\`, or 8-bit text (imap-string.ts).
 */
import { parseAddressList, type EnvelopeAddress } from './address.js';
import { lastFieldRanges, unfoldRange } from './header.js';
import { forHumans, imapNString, imapString } from './imap-string.js';
import type { MimePart } from './mime-tree.js';

const DATE = 0;
const SUBJECT = 1;
const FROM = 2;
const SENDER = 3;
const REPLY_TO = 4;
const TO = 5;
const CC = 6;
const BCC = 7;
const IN_REPLY_TO = 8;
const MESSAGE_ID = 9;

const FIELDS = new Map<string, number>([
  ['date', DATE],
  ['subject', SUBJECT],
  ['from', FROM],
  ['sender', SENDER],
  ['reply-to', REPLY_TO],
  ['to', TO],
  ['cc', CC],
  ['bcc', BCC],
  ['in-reply-to', IN_REPLY_TO],
  ['message-id', MESSAGE_ID],
]);

/** Value ranges of the fields, reused by every call (the functions here are synchronous). */
const ranges = new Int32Array(2 * FIELDS.size);

/** An address list, or null when it holds no address (then Sender/Reply-To fall back to From). */
function addressList(addresses: EnvelopeAddress[]): string | null {
  if (addresses.length === 0) return null;
  let out = '(';
  for (const a of addresses) {
    out += `(${a.name === null ? 'NIL' : imapString(forHumans(a.name))} ${imapNString(a.adl)} ${imapNString(a.mailbox)} ${imapNString(a.host)})`;
  }
  return `${out})`;
}

/**
 * The ENVELOPE of the header block at the start of `header` (it may hold the whole message:
 * reading stops at the first empty line, or at `end`).
 *
 * @example
 *   imapEnvelopeFromHeader(Buffer.from('Subject: hi\r\nFrom: a@b.test\r\n\r\nbody'));
 *   // '(NIL "hi" ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) ((NIL NIL "a" "b.test")) NIL NIL NIL NIL NIL)'
 */
export function imapEnvelopeFromHeader(header: Buffer, start = 0, end = header.length): string {
  // Latin-1 text of a first 2 KB (most headers fit), more when the header goes on
  let text = '';
  for (let chunk = 2048; ; chunk *= 4) {
    const stop = Math.min(end, start + chunk);
    text = header.toString('latin1', start, stop);
    if (lastFieldRanges(text, FIELDS, ranges) || stop === end) break;
  }
  const value = (slot: number): string | null => (ranges[2 * slot]! < 0 ? null : unfoldRange(text, ranges[2 * slot]!, ranges[2 * slot + 1]!, header, start));
  const addresses = (slot: number): string | null => {
    const v = value(slot);
    return v === null ? null : addressList(parseAddressList(v));
  };
  const subject = value(SUBJECT);
  const from = addresses(FROM) ?? 'NIL';
  return (
    `(${imapNString(value(DATE))} ${subject === null ? 'NIL' : imapString(forHumans(subject))} ${from} ` +
    `${addresses(SENDER) ?? from} ${addresses(REPLY_TO) ?? from} ${addresses(TO) ?? 'NIL'} ${addresses(CC) ?? 'NIL'} ` +
    `${addresses(BCC) ?? 'NIL'} ${imapNString(value(IN_REPLY_TO))} ${imapNString(value(MESSAGE_ID))})`
  );
}

/** The ENVELOPE of a message (`part` the root from parseMime) or of an embedded message's root. */
export function imapEnvelope(raw: Buffer, part: MimePart): string {
  return imapEnvelopeFromHeader(raw, part.headerStart, part.headerEnd);
}
