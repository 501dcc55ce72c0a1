/**
 * BODYSTRUCTURE and BODY (RFC 3501 7.4.2) from a parsed MIME tree. Matches Dovecot's answer:
 * - type, subtype, parameter names and values as written (case kept); a text part without a
 *   charset parameter gets ("charset" "us-ascii") added, as RFC 2045 defaults it;
 * - RFC 2231 parameters joined but left encoded (content-type.ts), so the answer stays 7-bit;
 * - size: octets of the encoded body; lines (text/* and message/rfc822): its LF count — the
 *   line break before a boundary belongs to the boundary, so "text\r\n--b" is 0 lines;
 * - extension data (BODYSTRUCTURE only): body MD5 (the Content-MD5 field, else NIL),
 *   disposition, language, location; for a multipart: parameters, disposition, language, location;
 * - a multipart without children (no boundary, or it never appears) shows one empty text/plain
 *   part, since the grammar needs at least one.
 */
import type { ParamList } from './content-type.js';
import { imapEnvelope } from './envelope.js';
import { imapList, imapNString, imapString } from './imap-string.js';
import type { MimeFields, MimePart } from './mime-tree.js';

const LF = 0x0a;

/** LF count of raw[start, end): the "lines" of BODYSTRUCTURE. */
export function countLines(raw: Buffer, start: number, end: number): number {
  let lines = 0;
  for (let i = raw.indexOf(LF, start); i >= 0 && i < end; i = raw.indexOf(LF, i + 1)) lines++;
  return lines;
}

function paramList(params: ParamList, addCharset: boolean): string {
  const items: string[] = [];
  let charset = false;
  for (const [name, value] of params) {
    items.push(imapString(name), imapString(value));
    if (name.toLowerCase() === 'charset') charset = true;
  }
  if (addCharset && !charset) items.push('"charset"', '"us-ascii"');
  return imapList(items);
}

function extension(fields: MimeFields): string {
  const d = fields.disposition;
  const disposition = d ? `(${imapString(d.value)} ${paramList(d.params, false)})` : 'NIL';
  return `${disposition} ${imapList((fields.language ?? []).map(imapString))} ${imapNString(fields.location)}`;
}

function emptyPart(extended: boolean): string {
  return `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0${extended ? ' NIL NIL NIL NIL' : ''})`;
}

function write(raw: Buffer, part: MimePart, extended: boolean): string {
  const f = part.fields;
  if (part.contentType.type === 'multipart') {
    let out = '(';
    if (part.children.length === 0) out += emptyPart(extended);
    for (const child of part.children) out += write(raw, child, extended);
    out += ` ${imapString(f.subtype)}`;
    if (extended) out += ` ${paramList(f.params, false)} ${extension(f)}`;
    return `${out})`;
  }
  const message = part.message;
  const text = part.contentType.type === 'text';
  let out = message ? '("message" "rfc822"' : `(${imapString(f.type)} ${imapString(f.subtype)}`;
  out += ` ${paramList(f.params, text)} ${imapNString(f.id)} ${imapNString(f.description)} ${f.encoding === null ? '"7bit"' : imapString(f.encoding)} ${part.bodyEnd - part.bodyStart}`;
  if (message) {
    out += ` ${imapEnvelope(raw, message)} ${write(raw, message, extended)} ${countLines(raw, part.bodyStart, part.bodyEnd)}`;
  } else if (text) {
    out += ` ${countLines(raw, part.bodyStart, part.bodyEnd)}`;
  }
  if (extended) out += ` ${imapNString(f.md5)} ${extension(f)}`;
  return `${out})`;
}

/**
 * BODYSTRUCTURE (`extended` true) or BODY (false) of `part` — usually the root from parseMime —
 * of the message `raw`. A UTF-8 string (see imap-string.ts for literals).
 *
 * @example
 *   imapBodyStructure(raw, parseMime(raw), true);
 *   // '("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 109 7 NIL NIL NIL NIL)'
 */
export function imapBodyStructure(raw: Buffer, part: MimePart, extended: boolean): string {
  return write(raw, part, extended);
}
