/**
 * The machine-readable part of a DSN: the message/delivery-status body (RFC 3464 §2), plus the
 * value cleaning that both parts share. Everything that reaches a field here came from outside
 * (a remote server's reply, an envelope address), so it is cleaned before it is written: a CR or
 * LF in a reply must not be able to end a field, start a new recipient block, or end the part.
 */
import { rfc5322Date } from '../smtp/received-header.js';
import type { DsnInput, DsnRecipient } from './dsn.js';

/** C0/C1 controls, line and paragraph separators, and bidi overrides: never shown as they are. */
const UNSAFE = /[\p{Cc}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]+/gu;

/** Longest reply text we carry; an SMTP reply line is at most 512 octets, a multiline one more. */
const MAX_TEXT = 1000;

/**
 * Text for the human-readable part: UTF-8 is kept, each run of control characters (CR, LF, NUL,
 * ESC...) becomes one space, and the result is one trimmed line of at most 1000 characters.
 */
export function cleanText(value: string): string {
  const text = value.replace(UNSAFE, ' ').replace(/ {2,}/g, ' ').trim();
  // Cut by code point, so a surrogate pair is never split.
  return text.length > MAX_TEXT ? `${Array.from(text).slice(0, MAX_TEXT).join('')}...` : text;
}

/** Text for a delivery-status field: cleanText, then anything outside printable ASCII is "?". */
export function cleanAscii(value: string): string {
  return cleanText(value).replace(/[^\x20-\x7e]/g, '?');
}

/** An envelope address fit for a header or a line of text: controls removed, UTF-8 kept. */
export function cleanAddress(address: string): string {
  return address.replace(UNSAFE, '').trim();
}

/** An RFC 3463 enhanced status code: class 2, 4 or 5, subject and detail of up to three digits. */
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;

/**
 * The Status field for a recipient: its enhanced code when it has a well-formed one; otherwise
 * the class alone from the basic reply code (550 -> 5.0.0, 451 -> 4.0.0); otherwise, with no
 * reply at all, from the action (failed -> 5.0.0, delayed -> 4.0.0).
 */
export function recipientStatus(r: DsnRecipient): string {
  const enhanced = r.enhanced?.trim();
  if (enhanced && ENHANCED.test(enhanced)) return enhanced;
  const klass = r.code === undefined ? 0 : Math.floor(r.code / 100);
  if (klass === 2 || klass === 4 || klass === 5) return `${klass}.0.0`;
  return r.action === 'failed' ? '5.0.0' : '4.0.0';
}

/**
 * The remote's reply as one line, "550 5.1.1 User unknown", for both parts; empty when the
 * recipient has neither a code nor a message. The enhanced code is shown only if well-formed.
 */
export function replyLine(r: DsnRecipient, clean: (value: string) => string): string {
  const enhanced = r.enhanced?.trim();
  return [r.code === undefined ? '' : String(r.code), enhanced && ENHANCED.test(enhanced) ? enhanced : '', clean(r.message ?? '')]
    .filter((piece) => piece !== '')
    .join(' ');
}

/**
 * An address with its type (RFC 3464 §2.1.2). ASCII addresses are "rfc822;addr"; an address with
 * UTF-8 in it (SMTPUTF8) is "utf-8;" with each non-ASCII character, "+", "=" and "\" written as
 * \x{HEX} (RFC 6533 §3, utf-8-addr-xtext), because message/delivery-status is 7-bit.
 */
export function typedAddress(address: string): string {
  const clean = cleanAddress(address);
  if (/^[\x20-\x7e]*$/.test(clean)) return `rfc822;${clean}`;
  let encoded = '';
  for (const ch of clean) {
    const cp = ch.codePointAt(0)!;
    encoded += cp > 0x7e || cp < 0x21 || ch === '+' || ch === '=' || ch === '\\' ? `\\x{${cp.toString(16).toUpperCase()}}` : ch;
  }
  return `utf-8;${encoded}`;
}

/**
 * The host name from a remote MTA label such as "mx1.remote.test [127.0.0.1]": Remote-MTA of type
 * dns names a host (RFC 3464 §2.3.5). A label that is only an address literal is kept as it is.
 */
export function remoteHostName(remoteMta: string): string {
  const label = cleanAscii(remoteMta);
  const name = label.replace(/\s*\[[^\]]*\]\s*$/, '').trim();
  return name === '' ? label : name;
}

/** Fields are folded at spaces to keep lines near 78 octets; a line never passes 998. */
const FOLD_AT = 78;
const HARD_LIMIT = 998;

/** One "Name: value" field with CRLF, folded at spaces; an unbreakable run is cut at 998 octets. */
export function field(name: string, value: string): string {
  const words = value.split(' ');
  const lines: string[] = [];
  let current = `${name}:`;
  for (const word of words) {
    if (current.length + 1 + word.length > FOLD_AT && current.trim() !== `${name}:` && current.trim() !== '') {
      lines.push(current);
      current = '';
    }
    current += ` ${word}`;
  }
  lines.push(current);
  return lines.map((line) => line.slice(0, HARD_LIMIT)).join('\r\n') + '\r\n';
}

/** The Diagnostic-Code value: "smtp; <reply>" for an SMTP reply, "X-Postern; <text>" for our own text. */
function diagnostic(r: DsnRecipient): string | undefined {
  if (r.code !== undefined) return `smtp; ${replyLine(r, cleanAscii)}`;
  const text = cleanAscii(r.message ?? '');
  return text === '' ? undefined : `X-Postern; ${text}`;
}

/**
 * The body of the message/delivery-status part: the per-message block, then one block per
 * recipient, blocks separated by a blank line, every line CRLF-terminated, all 7-bit ASCII.
 * Original-Envelope-Id appears only when the sender gave an ENVID (RFC 3461 §6.3 forbids it
 * otherwise); our queue id goes in the X-Postern-Queue-ID extension field instead.
 */
export function deliveryStatus(input: DsnInput): string {
  const blocks: string[] = [];
  let perMessage = field('Reporting-MTA', `dns; ${cleanAscii(input.reportingMta)}`);
  if (input.envelopeId !== undefined && cleanAscii(input.envelopeId) !== '') {
    perMessage += field('Original-Envelope-Id', cleanAscii(input.envelopeId));
  }
  perMessage += field('X-Postern-Queue-ID', cleanAscii(input.queueId));
  perMessage += field('Arrival-Date', rfc5322Date(new Date(input.receivedAt)));
  blocks.push(perMessage);

  for (const r of input.recipients) {
    let block = '';
    if (r.original !== undefined && r.original !== '') block += field('Original-Recipient', typedAddress(r.original));
    block += field('Final-Recipient', typedAddress(r.address));
    block += field('Action', r.action);
    block += field('Status', recipientStatus(r));
    if (r.remoteMta !== undefined && r.remoteMta.trim() !== '') block += field('Remote-MTA', `dns; ${remoteHostName(r.remoteMta)}`);
    const code = diagnostic(r);
    if (code !== undefined) block += field('Diagnostic-Code', code);
    if (r.lastAttemptAt !== undefined) block += field('Last-Attempt-Date', rfc5322Date(new Date(r.lastAttemptAt)));
    if (r.action === 'delayed' && r.willRetryUntil !== undefined) {
      block += field('Will-Retry-Until', rfc5322Date(new Date(r.willRetryUntil)));
    }
    blocks.push(block);
  }
  return blocks.join('\r\n');
}
