/**
 * Byte-level MIME helpers for building and screening delivery status notifications: where a
 * message's header block ends, reading a header field out of it, and quoted-printable encoding.
 * The original message is bytes that may be 8-bit or malformed, so nothing here decodes it as
 * UTF-8: header values are read as latin1, which maps each byte to one char and loses nothing.
 */

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const LF_LF = Buffer.from('\n\n');

/**
 * The header block of `message`: every header line up to and including the line ending of the
 * last field, without the blank line that ends the block. A message with no blank line is all
 * header; one that starts with a blank line has an empty block. Bare-LF messages (a local
 * injector, not SMTP) are handled too, since a DSN must still quote whatever was queued.
 */
export function headerBlock(message: Buffer): Buffer {
  if (message[0] === 0x0a) return message.subarray(0, 0);
  if (message[0] === 0x0d && message[1] === 0x0a) return message.subarray(0, 0);
  const crlf = message.indexOf(CRLF_CRLF);
  const lf = message.indexOf(LF_LF);
  if (crlf === -1 && lf === -1) return message;
  // The earlier of the two ends the block; keep the line ending of the last field.
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return message.subarray(0, crlf + 2);
  return message.subarray(0, lf + 1);
}

/**
 * The values of every `name` field in a header block, unfolded, as latin1 strings (one char per
 * byte), in order. The name match is case-insensitive, as RFC 5322 requires.
 */
export function headerValues(block: Buffer, name: string): string[] {
  const wanted = name.toLowerCase();
  const unfolded = block.toString('latin1').replace(/\r?\n(?=[ \t])/g, '');
  const values: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (line.slice(0, colon).trimEnd().toLowerCase() === wanted) values.push(line.slice(colon + 1).trim());
  }
  return values;
}

/** A header value with its RFC 5322 comments ("(like this)", nested, with \-escapes) removed. */
export function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (depth === 0 && c === '"') {
      quoted = !quoted;
      out += c;
    } else if (!quoted && c === '(') {
      depth++;
    } else if (!quoted && depth > 0 && c === ')') {
      depth--;
      if (depth === 0) out += ' ';
    } else if (depth === 0) {
      out += c;
    }
  }
  return out;
}

/** A Content-Type value taken apart: lower-case "type/subtype" and lower-cased parameter names. */
export interface MediaType {
  type: string;
  params: Map<string, string>;
}

/**
 * Parse a Content-Type value (RFC 2045 §5.1), tolerating comments and quoted parameter values.
 * @example parseMediaType('multipart/report; report-type="delivery-status"').params.get('report-type') // "delivery-status"
 */
export function parseMediaType(value: string): MediaType {
  const pieces: string[] = [];
  let current = '';
  let quoted = false;
  const text = stripComments(value);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') {
      current += text[i + 1] ?? '';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (!quoted && c === ';') {
      pieces.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  pieces.push(current);
  const [first = '', ...rest] = pieces;
  const params = new Map<string, string>();
  for (const piece of rest) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    params.set(piece.slice(0, eq).trim().toLowerCase(), piece.slice(eq + 1).trim());
  }
  return { type: first.replace(/\s+/g, '').toLowerCase(), params };
}

/** The longest encoded line, not counting the CRLF (RFC 2045 §6.7 rule 5). */
const QP_LINE = 76;

/**
 * Quoted-printable (RFC 2045 §6.7) of UTF-8 text whose lines are separated by "\n"; the result
 * uses CRLF and has no line longer than 76 octets, whatever the input. Space and tab at the end
 * of a line are encoded so that transports that strip trailing whitespace cannot change them.
 */
export function quotedPrintable(text: string): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const bytes = Buffer.from(line, 'utf8');
    let current = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const last = i === bytes.length - 1;
      const literal = (b >= 0x21 && b <= 0x7e && b !== 0x3d) || ((b === 0x20 || b === 0x09) && !last);
      const piece = literal ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
      // Leave room for the "=" of a soft break, unless this piece ends the line.
      const limit = last ? QP_LINE : QP_LINE - 1;
      if (current.length + piece.length > limit) {
        out.push(`${current}=`);
        current = '';
      }
      current += piece;
    }
    out.push(current);
  }
  return out.join('\r\n');
}

/** Whether any byte is outside 7-bit ASCII, i.e. the part needs Content-Transfer-Encoding: 8bit. */
export function has8bit(data: Buffer): boolean {
  for (const b of data) if (b > 0x7f) return true;
  return false;
}

/**
 * Whether `data` can travel as a MIME 8bit body (RFC 2045 §2.8): CRLF line endings only, no NUL,
 * no line over 998 octets. A message that fails this cannot be returned whole without BINARYMIME.
 */
export function isValid8bit(data: Buffer): boolean {
  let lineLength = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === 0) return false;
    if (b === 0x0d) {
      if (data[i + 1] !== 0x0a) return false;
      continue;
    }
    if (b === 0x0a) {
      if (data[i - 1] !== 0x0d) return false;
      lineLength = 0;
      continue;
    }
    if (++lineLength > 998) return false;
  }
  return true;
}
