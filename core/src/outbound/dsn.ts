/**
 * Delivery status notifications: the bounce or delay warning Postern sends back to a message's
 * envelope sender (RFC 3464 report in an RFC 6522 multipart/report, RFC 3463 status codes), and
 * the rule for when not to send one. Pure: no I/O; the caller spools the result with the null
 * envelope sender so that a DSN about a DSN can never start a loop.
 *
 * The message has three parts:
 *   1. text/plain; charset=utf-8, quoted-printable: what happened, in words, per recipient
 *   2. message/delivery-status: the same, as fields for software (see dsn-report.ts)
 *   3. text/rfc822-headers: the original header block byte for byte, or message/rfc822 with the
 *      whole original when 'full' was asked for and it is small and clean enough to carry
 */
import { randomBytes } from 'node:crypto';
import { rfc5322Date } from '../smtp/received-header.js';
import { has8bit, headerBlock, headerValues, isValid8bit, parseMediaType, quotedPrintable, stripComments } from './dsn-mime.js';
import { cleanAddress, cleanAscii, cleanText, deliveryStatus, replyLine } from './dsn-report.js';

export interface DsnRecipient {
  /** Final recipient (after alias expansion), e.g. "bob@remote.test". */
  address: string;
  /** The envelope recipient as originally accepted, if different. */
  original?: string;
  /** 'failed' for a bounce, 'delayed' for a delay warning. */
  action: 'failed' | 'delayed';
  /** The remote's reply or our own, e.g. code 550, enhanced "5.1.1", text "User unknown". */
  code?: number;
  enhanced?: string;
  message?: string;
  /** The remote host that answered ("mx1.remote.test [127.0.0.1]"), when there was one. */
  remoteMta?: string;
  /** Unix ms. */
  lastAttemptAt?: number;
  /** For 'delayed': until when we keep trying (unix ms). */
  willRetryUntil?: number;
}

export interface DsnInput {
  kind: 'failure' | 'delay';
  /** Our hostname (Reporting-MTA: dns; <hostname>, From: MAILER-DAEMON@<hostname>). */
  reportingMta: string;
  /** The original message's queue id, reported as X-Postern-Queue-ID. */
  queueId: string;
  /** ENVID, if the sender gave one: reported as Original-Envelope-Id (and only then, RFC 3461 §6.3). */
  envelopeId?: string;
  /** The original envelope sender: the DSN goes To: this address. */
  sender: string;
  /** Unix ms: Arrival-Date. */
  receivedAt: number;
  recipients: DsnRecipient[];
  /** The original message (header + body). */
  original: Buffer;
  /** 'headers' (default) attaches text/rfc822-headers; 'full' attaches message/rfc822 (capped by maxFullBytes, then falls back to headers). */
  returnContent?: 'headers' | 'full';
  /** The largest original returned whole with returnContent 'full'; default DEFAULT_MAX_FULL_BYTES. */
  maxFullBytes?: number;
  /** Unix ms for the Date header; default now. */
  now?: number;
  /** Else generated `<${queueId}.dsn.${random}@${reportingMta}>`. */
  messageId?: string;
}

/** 1 MiB: a sender rarely needs a large message back, and the DSN travels the same roads it failed on. */
export const DEFAULT_MAX_FULL_BYTES = 1024 * 1024;

/** Subject lines by DSN kind. */
export const DSN_SUBJECT = Object.freeze({
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delivery Status Notification (Delay)',
});

/** Why mayBounce said no: stable strings, for logs and tests. */
export const BounceSuppressed = Object.freeze({
  /** The envelope sender is "" (the message is itself a bounce or other notification). */
  NULL_SENDER: 'null sender',
  /** The envelope sender is MAILER-DAEMON or a spelling of it: some MTA's bounce address. */
  MAILER_DAEMON: 'sender is a mailer daemon',
  /** The envelope sender is postmaster: a role address that broken MTAs send notifications from. */
  POSTMASTER: 'sender is postmaster',
  /** Content-Type multipart/report; report-type=delivery-status (or RFC 6533 global-delivery-status). */
  IS_DSN: 'message is a delivery status notification',
  /** Auto-Submitted is present and not "no" (RFC 3834 §5). */
  AUTO_SUBMITTED: 'message is auto-submitted',
});

/**
 * Local parts that mark an automated sender. Bouncing to one of them risks a loop with another
 * MTA's notification machinery, so the bounce is dropped (and logged by the caller) instead.
 */
const LOOP_LOCAL_PARTS: ReadonlyMap<string, string> = new Map([
  ['mailer-daemon', BounceSuppressed.MAILER_DAEMON],
  ['mailer_daemon', BounceSuppressed.MAILER_DAEMON],
  ['mailerdaemon', BounceSuppressed.MAILER_DAEMON],
  ['postmaster', BounceSuppressed.POSTMASTER],
]);

/**
 * Whether a DSN may be sent for a message from `sender` whose bytes (or header block) are
 * `original`. No to the null sender and to MAILER-DAEMON/postmaster senders, no for a message
 * that is itself a DSN, no for one marked Auto-Submitted other than "no".
 * @example mayBounce('', msg) // { send: false, reason: 'null sender' }
 */
export function mayBounce(sender: string, original: Buffer): { send: true } | { send: false; reason: string } {
  const address = sender.trim().replace(/^<(.*)>$/s, '$1').trim();
  if (address === '') return { send: false, reason: BounceSuppressed.NULL_SENDER };
  const at = address.lastIndexOf('@');
  const local = (at === -1 ? address : address.slice(0, at)).replace(/^"(.*)"$/s, '$1').toLowerCase();
  const loop = LOOP_LOCAL_PARTS.get(local);
  if (loop !== undefined) return { send: false, reason: loop };

  const block = headerBlock(original);
  for (const value of headerValues(block, 'content-type')) {
    const media = parseMediaType(value);
    const reportType = media.params.get('report-type')?.toLowerCase();
    if (media.type === 'multipart/report' && (reportType === 'delivery-status' || reportType === 'global-delivery-status')) {
      return { send: false, reason: BounceSuppressed.IS_DSN };
    }
  }
  for (const value of headerValues(block, 'auto-submitted')) {
    const keyword = (stripComments(value).split(';')[0] ?? '').trim().toLowerCase();
    if (keyword !== 'no') return { send: false, reason: BounceSuppressed.AUTO_SUBMITTED };
  }
  return { send: true };
}

/** One body part: its MIME header lines (CRLF-terminated) and its body bytes. */
interface Part {
  headers: string;
  body: Buffer;
}

/**
 * The complete DSN message, CRLF line endings, ready to spool with envelope sender "" (null).
 * Recipients may mix 'failed' and 'delayed'; `kind` picks the subject.
 * @example
 * buildDsn({ kind: 'failure', reportingMta: 'mx.example.test', queueId, sender: 'alice@example.test',
 *   receivedAt, original, recipients: [{ address: 'bob@remote.test', action: 'failed', code: 550, enhanced: '5.1.1', message: 'User unknown' }] })
 */
export function buildDsn(input: DsnInput): Buffer {
  if (input.recipients.length === 0) throw new TypeError('buildDsn: a DSN reports on at least one recipient');
  const host = cleanAscii(input.reportingMta).replace(/ /g, '');
  const returned = returnedPart(input);
  const parts: Part[] = [
    {
      headers: 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Description: Notification\r\n',
      body: Buffer.from(quotedPrintable(explanation(input, host, returned.note)), 'latin1'),
    },
    {
      headers: 'Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n',
      body: Buffer.from(deliveryStatus(input), 'latin1'),
    },
    returned.part,
  ];
  const boundary = pickBoundary(parts);
  const eightBit = parts.some((part) => has8bit(part.body));

  const messageId = input.messageId === undefined ? `<${cleanAscii(input.queueId)}.dsn.${randomBytes(6).toString('hex')}@${host}>` : cleanAscii(input.messageId);
  const head =
    `From: "Mail Delivery System" <MAILER-DAEMON@${host}>\r\n` +
    `To: <${cleanAddress(input.sender)}>\r\n` +
    `Subject: ${DSN_SUBJECT[input.kind]}\r\n` +
    `Date: ${rfc5322Date(new Date(input.now ?? Date.now()))}\r\n` +
    `Message-ID: ${messageId.startsWith('<') ? messageId : `<${messageId}>`}\r\n` +
    'MIME-Version: 1.0\r\n' +
    'Auto-Submitted: auto-replied\r\n' +
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"\r\n` +
    // A multipart's encoding must be as wide as its widest part (RFC 2045 §6.4): it tells the
    // outbound side that this DSN needs 8BITMIME.
    (eightBit ? 'Content-Transfer-Encoding: 8bit\r\n' : '') +
    '\r\n' +
    'This is a delivery status notification in MIME format (RFC 3464).\r\n';

  const chunks: Buffer[] = [Buffer.from(head, 'utf8')];
  for (const part of parts) {
    chunks.push(Buffer.from(`\r\n--${boundary}\r\n${part.headers}\r\n`, 'latin1'), part.body);
  }
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(chunks);
}

/**
 * The third part, and a sentence for the first part saying what it holds. 'full' returns the
 * original as message/rfc822 only when it fits maxFullBytes and is valid 8bit MIME (CRLF lines of
 * at most 998 octets, no NUL): anything else would need BINARYMIME, so the headers go instead.
 */
function returnedPart(input: DsnInput): { part: Part; note: string } {
  const original = input.original;
  const encoding = (data: Buffer) => (has8bit(data) ? '8bit' : '7bit');
  let note = 'The headers of your message are attached.';
  if (input.returnContent === 'full') {
    const max = input.maxFullBytes ?? DEFAULT_MAX_FULL_BYTES;
    if (original.length <= max && isValid8bit(original)) {
      return {
        part: {
          headers: `Content-Type: message/rfc822\r\nContent-Transfer-Encoding: ${encoding(original)}\r\nContent-Description: Undelivered message\r\n`,
          body: original,
        },
        note: 'Your message is attached.',
      };
    }
    note =
      original.length > max
        ? `Your message (${original.length} bytes) is too large to return in full, so only its headers are attached.`
        : 'Your message cannot be returned in full as it was received, so only its headers are attached.';
  }
  const headers = headerBlock(original);
  return {
    part: {
      headers: `Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: ${encoding(headers)}\r\nContent-Description: Undelivered message headers\r\n`,
      body: headers,
    },
    note,
  };
}

/** The human-readable explanation, lines separated by "\n" (quotedPrintable makes them CRLF). */
function explanation(input: DsnInput, host: string, note: string): string {
  const lines = [`This is the mail system at ${host}.`, ''];
  const failed = input.recipients.filter((r) => r.action === 'failed');
  const delayed = input.recipients.filter((r) => r.action === 'delayed');
  if (failed.length > 0) {
    lines.push('Your message could not be delivered to the recipients below, and the mail', 'system has stopped trying.', '');
    for (const r of failed) lines.push(...recipientLines(r), '');
  }
  if (delayed.length > 0) {
    lines.push(
      'Your message has not yet been delivered to the recipients below. The mail',
      'system is still trying, so there is no need to send it again; you will be',
      'told if it finally fails.',
      '',
    );
    for (const r of delayed) lines.push(...recipientLines(r), '');
  }
  lines.push(
    `Your message arrived on ${rfc5322Date(new Date(input.receivedAt))}.`,
    `If you contact the postmaster about it, quote queue ID ${cleanText(input.queueId)}.`,
    '',
    note,
  );
  return lines.join('\n');
}

function recipientLines(r: DsnRecipient): string[] {
  const lines = [`  <${cleanAddress(r.address)}>`];
  if (r.original !== undefined && r.original !== '' && r.original !== r.address) {
    lines.push(`    (originally addressed to <${cleanAddress(r.original)}>)`);
  }
  const remote = r.remoteMta === undefined ? '' : cleanText(r.remoteMta);
  const reply = replyLine(r, cleanText);
  if (remote !== '' && reply !== '') lines.push(`    ${remote} said: ${reply}`);
  else if (remote !== '') lines.push(`    Remote server: ${remote}`);
  else if (reply !== '') lines.push(`    Reason: ${reply}`);
  if (r.lastAttemptAt !== undefined) lines.push(`    Last attempt: ${rfc5322Date(new Date(r.lastAttemptAt))}`);
  if (r.action === 'delayed' && r.willRetryUntil !== undefined) {
    lines.push(`    Will keep trying until: ${rfc5322Date(new Date(r.willRetryUntil))}`);
  }
  return lines;
}

/**
 * A boundary that occurs in no part (RFC 2046 §5.1.1). "=_" can never appear in quoted-printable
 * text, and the random tail makes a clash elsewhere unlikely; the check makes it impossible.
 */
function pickBoundary(parts: readonly Part[]): string {
  for (;;) {
    const boundary = `=_postern-dsn-${randomBytes(12).toString('hex')}`;
    if (!parts.some((part) => part.body.includes(boundary) || part.headers.includes(boundary))) return boundary;
  }
}
