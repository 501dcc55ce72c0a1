/**
 * The output side of multi-line responses (RFC 1939 §3): every line that starts with "." gets
 * another ".", the body ends with CRLF "." CRLF. Message bytes are sent as they are stored; this
 * only inserts the stuffing dots, as slices of the original buffer, so a message without lines
 * that start with a dot goes out without a copy.
 */

const DOT = Buffer.from('.');
const CRLF = Buffer.from('\r\n');
const TERMINATOR = Buffer.from('.\r\n');

/**
 * Dot-stuff `data` for a multi-line response and end it with the terminator. A line is anything
 * after a LF (also a bare one: a client that splits on LF must not see a lone "." before the end).
 * When `data` does not end with CRLF, one is added before the terminator.
 */
export function dotStuffed(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  if (data.length > 0 && data[0] === 0x2e) out.push(DOT);
  for (let lf = data.indexOf(0x0a); lf >= 0 && lf + 1 < data.length; lf = data.indexOf(0x0a, lf + 1)) {
    if (data[lf + 1] !== 0x2e) continue;
    out.push(data.subarray(from, lf + 1), DOT);
    from = lf + 1;
  }
  if (from < data.length) out.push(data.subarray(from));
  const endsWithCrlf = data.length >= 2 && data[data.length - 2] === 0x0d && data[data.length - 1] === 0x0a;
  if (data.length > 0 && !endsWithCrlf) out.push(CRLF);
  out.push(TERMINATOR);
  return out;
}

/** Text lines (no CR or LF inside) as a dot-stuffed multi-line body with its terminator. */
export function textBody(lines: readonly string[]): Buffer {
  const text = lines.map((line) => (line.startsWith('.') ? `.${line}` : line)).join('\r\n');
  return Buffer.from(lines.length > 0 ? `${text}\r\n.\r\n` : '.\r\n', 'utf8');
}

/**
 * TOP (RFC 1939 §7): the header, the blank line after it, and the first `lines` lines of the body.
 * A message without a blank line is all header. Lines end at LF.
 */
export function topOf(message: Buffer, lines: number): Buffer {
  const headerEnd = endOfHeader(message);
  if (headerEnd >= message.length) return message;
  let end = headerEnd;
  for (let n = 0; n < lines && end < message.length; n++) {
    const lf = message.indexOf(0x0a, end);
    end = lf < 0 ? message.length : lf + 1;
  }
  return message.subarray(0, end);
}

/** The offset just past the blank line that ends the header (the whole length when there is none). */
function endOfHeader(message: Buffer): number {
  let lineStart = 0;
  while (lineStart < message.length) {
    const lf = message.indexOf(0x0a, lineStart);
    if (lf < 0) return message.length;
    const lineLength = lf - lineStart;
    if (lineLength === 0 || (lineLength === 1 && message[lineStart] === 0x0d)) return lf + 1;
    lineStart = lf + 1;
  }
  return message.length;
}
