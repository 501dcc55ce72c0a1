import { randomBytes } from 'node:crypto';

/**
 * The notice that `action: notice` delivers instead of an infected message: a new MIME message
 * with a text/plain part saying what was found and the original attached, unrendered.
 *
 * The attachment is `application/octet-stream` with `Content-Disposition: attachment` and the
 * filename `original-message.eml`, base64-encoded. Not `message/rfc822`: mail clients (and IMAP's
 * BODYSTRUCTURE) parse a message/rfc822 part and show its body and attachments inline, one click
 * from the infected part; an opaque octet-stream is only ever saved or opened on purpose. The
 * `.eml` name lets the recipient (or an admin) open it deliberately as a message.
 */

/** The attachment's file name. */
export const ORIGINAL_FILENAME = 'original-message.eml';
/** Put in front of the original subject. */
export const SUBJECT_PREFIX = '[virus removed]';

export interface NoticeInput {
  /** The original message as received (headers and body, CRLF). */
  original: Buffer;
  /** Signature names clamd reported. */
  viruses: readonly string[];
  /** The queue id of the transaction. */
  queueId: string;
  /** The envelope sender (MAIL FROM); '' for the null sender. */
  mailFrom: string;
  /** The server's host name (`api.hostname`): the notice's From and Message-ID domain. */
  hostname: string;
  /** Defaults to now. */
  date?: Date;
}

/** One header field of the original: its name and its raw value (folding kept), as latin1 text (bytes preserved). */
interface Field {
  name: string;
  raw: string;
}

/** The header fields of `message` (latin1, so every byte survives a round trip). */
function headerFields(message: Buffer): Field[] {
  const text = message.toString('latin1');
  const end = text.startsWith('\r\n') ? 0 : text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const fields: Field[] = [];
  for (const line of head.split('\r\n')) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      fields[fields.length - 1]!.raw += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), raw: line.slice(colon + 1).replace(/^[ \t]+/, '') });
  }
  return fields;
}

/** The first field called `name`, raw (folding kept), or undefined. */
const rawField = (fields: Field[], name: string): string | undefined => fields.find((f) => f.name === name)?.raw;

/** A raw value unfolded and trimmed, decoded as UTF-8 for the text part. */
function readable(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const value = Buffer.from(raw.replace(/\r\n(?=[ \t])/g, ''), 'latin1').toString('utf8').replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return value === '' ? undefined : value;
}

/** RFC 5322 date-time in UTC. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Base64 in lines of 76 characters, CRLF after each. */
function base64Lines(data: Buffer): string {
  const b64 = data.toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 76) out += `${b64.slice(i, i + 76)}\r\n`;
  return out;
}

/** The explanation for the recipient. */
function explanation(input: NoticeInput, fields: Field[]): string {
  const rows: Array<[string, string | undefined]> = [
    ['Virus', input.viruses.join(', ')],
    ['From', readable(rawField(fields, 'from'))],
    ['Envelope sender', input.mailFrom === '' ? '<> (null sender)' : `<${input.mailFrom}>`],
    ['Subject', readable(rawField(fields, 'subject')) ?? '(none)'],
    ['Date', readable(rawField(fields, 'date'))],
    ['Message-ID', readable(rawField(fields, 'message-id'))],
    ['Queue ID', input.queueId],
  ];
  return [
    'The virus scanner found a virus in a message addressed to you, so the message',
    'was not delivered as it was sent. It is attached to this notice as',
    `"${ORIGINAL_FILENAME}", unopened.`,
    '',
    ...rows.filter((r): r is [string, string] => r[1] !== undefined).map(([k, v]) => `  ${`${k}:`.padEnd(17)}${v}`),
    '',
    'Do not open the attachment unless you are sure what it is: it contains the virus.',
    'If you expected this message, ask the sender to send it again without the',
    'infected file, or ask your postmaster for help (quote the queue ID).',
    '',
    `-- ClamAV virus scanner at ${input.hostname}`,
    '',
  ].join('\r\n');
}

/** A header line with `value` (ASCII, no CR/LF) folded at spaces so no line passes 78 characters where possible. */
function fold(name: string, value: string): string {
  let line = `${name}: `;
  let out = '';
  for (const word of value.split(' ')) {
    if (line.length + word.length > 78 && line.trim().length > name.length + 1) {
      out += `${line.trimEnd()}\r\n`;
      line = ' ';
    }
    line += `${word} `;
  }
  return `${out}${line.trimEnd()}\r\n`;
}

/**
 * Build the notice (CRLF throughout). Its headers: From `Mail Delivery System
 * <MAILER-DAEMON@hostname>`; To and Cc copied from the original (not the envelope, so Bcc
 * recipients are not disclosed; `undisclosed-recipients:;` when it had no To); Subject
 * `[virus removed] <original subject>`; a new Message-ID; References with the original's
 * Message-ID; `Auto-Submitted: auto-generated` (RFC 3834: no auto-replies to it).
 */
export function buildNotice(input: NoticeInput): Buffer {
  const fields = headerFields(input.original);
  const hostname = input.hostname.replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
  const boundary = `=_postern-clamav-${randomBytes(12).toString('hex')}`;
  const messageId = `<clamav-notice.${input.queueId.replace(/[^A-Za-z0-9.-]/g, '')}.${randomBytes(6).toString('hex')}@${hostname}>`;
  const originalId = readable(rawField(fields, 'message-id'))?.match(/<[^<>\s]+@[^<>\s]+>/)?.[0];
  const to = rawField(fields, 'to');
  const cc = rawField(fields, 'cc');
  const subject = rawField(fields, 'subject');

  let head = '';
  head += `From: Mail Delivery System <MAILER-DAEMON@${hostname}>\r\n`;
  head += to !== undefined && to.trim() !== '' ? `To: ${to}\r\n` : 'To: undisclosed-recipients:;\r\n';
  if (cc !== undefined && cc.trim() !== '') head += `Cc: ${cc}\r\n`;
  head += subject !== undefined && subject.trim() !== '' ? `Subject: ${SUBJECT_PREFIX} ${subject}\r\n` : `Subject: ${SUBJECT_PREFIX}\r\n`;
  head += `Date: ${rfc5322Date(input.date ?? new Date())}\r\n`;
  head += `Message-ID: ${messageId}\r\n`;
  if (originalId !== undefined && Buffer.byteLength(originalId) < 900) head += `References: ${originalId}\r\n`;
  head += 'Auto-Submitted: auto-generated\r\n';
  head += fold('X-Virus-Found', input.viruses.map((v) => v.replace(/[^\x21-\x7e]+/g, '_')).join(', '));
  head += 'MIME-Version: 1.0\r\n';
  head += `Content-Type: multipart/mixed; boundary="${boundary}"\r\n`;

  const text = explanation(input, fields);
  const plain = /^[\x00-\x7f]*$/.test(text) && text.split('\r\n').every((l) => l.length <= 998);
  const textPart =
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Transfer-Encoding: ${plain ? '7bit' : 'base64'}\r\n` +
    '\r\n' +
    (plain ? text : base64Lines(Buffer.from(text, 'utf8')));

  const attachmentHead =
    `Content-Type: application/octet-stream; name="${ORIGINAL_FILENAME}"\r\n` +
    `Content-Disposition: attachment; filename="${ORIGINAL_FILENAME}"\r\n` +
    'Content-Transfer-Encoding: base64\r\n' +
    'Content-Description: The original message, which contains a virus\r\n' +
    '\r\n';

  const body =
    'This is a MIME message: a notice and the original message as an attachment.\r\n' +
    `\r\n--${boundary}\r\n` +
    textPart +
    `\r\n--${boundary}\r\n` +
    attachmentHead +
    base64Lines(input.original) +
    `--${boundary}--\r\n`;

  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from('\r\n' + body, 'utf8')]);
}
