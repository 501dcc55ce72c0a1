/**
 * Bytes to text: header bytes (UTF-8 when they are, else Latin-1), charsets through Node's
 * TextDecoder (full ICU: iso-8859-*, windows-*, koi8-*, Shift_JIS, GB18030, Big5, EUC-KR...),
 * RFC 2047 encoded-words, quoted-printable and base64 bodies. Pure functions, no I/O.
 */
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

const decoders = new Map<string, TextDecoder | null>();

/** A TextDecoder for `charset`, or null when Node does not know it (then callers fall back; cached either way). */
function decoderFor(charset: string): TextDecoder | null {
  const label = charset.trim().toLowerCase();
  let decoder = decoders.get(label);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(label); // WHATWG labels: us-ascii and iso-8859-1 decode as windows-1252
    } catch {
      decoder = null;
    }
    if (decoders.size < 256) decoders.set(label, decoder);
  }
  return decoder;
}

/** True when any byte of buf[start, end) has the high bit set. */
export function hasEightBit(buf: Uint8Array, start = 0, end = buf.length): boolean {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return true;
  return false;
}

/**
 * Raw header bytes as a string: ASCII and valid UTF-8 as they are (RFC 6532), anything else as
 * Latin-1, so every byte survives as one character and the result is always valid Unicode.
 */
export function headerBytesToString(buf: Buffer, start = 0, end = buf.length): string {
  if (!hasEightBit(buf, start, end)) return buf.toString('latin1', start, end);
  const slice = buf.subarray(start, end);
  return isUtf8(slice) ? slice.toString('utf8') : slice.toString('latin1');
}

/** Bytes in `charset` to a string; an unknown charset falls back to UTF-8 if valid, else Latin-1. */
export function decodeCharset(bytes: Uint8Array, charset: string | undefined): string {
  const decoder = charset ? decoderFor(charset) : null;
  if (decoder) return decoder.decode(bytes);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buf) ? buf.toString('utf8') : buf.toString('latin1');
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Quoted-printable to bytes (RFC 2045 6.7): "=XX" escapes, "=" before a line break is a soft
 * break, trailing whitespace on a line is dropped. A malformed "=" is kept as it is.
 */
export function decodeQuotedPrintable(input: Uint8Array, underscoreIsSpace = false): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  let lineStart = 0; // in `out`: where trailing whitespace trimming may stop
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c === 0x3d) {
      // "=" soft line break: "=" [whitespace] CRLF / LF
      let j = i + 1;
      while (j < input.length && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j < input.length && (input[j] === 0x0a || (input[j] === 0x0d && input[j + 1] === 0x0a))) {
        i = input[j] === 0x0d ? j + 1 : j;
        continue;
      }
      if (j >= input.length) break; // "=" at the very end: a soft break without a newline
      const hi = hexValue(input[i + 1] ?? 0);
      const lo = hexValue(input[i + 2] ?? 0);
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        i += 2;
        lineStart = o;
        continue;
      }
      out[o++] = c;
      lineStart = o;
      continue;
    }
    if (c === 0x0a || (c === 0x0d && input[i + 1] === 0x0a)) {
      while (o > lineStart && (out[o - 1] === 0x20 || out[o - 1] === 0x09)) o--; // transport padding
      if (c === 0x0d) {
        out[o++] = 0x0d;
        i++;
      }
      out[o++] = 0x0a;
      lineStart = o;
      continue;
    }
    out[o++] = underscoreIsSpace && c === 0x5f ? 0x20 : c;
  }
  return out.subarray(0, o);
}

/** Base64 to bytes, ignoring whitespace and garbage (Node's decoder is lenient already). */
export function decodeBase64(input: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1'), 'base64');
}

/** A body's bytes decoded from its Content-Transfer-Encoding (7bit/8bit/binary/unknown: as is). */
export function decodeTransferEncoding(body: Uint8Array, encoding: string | undefined): Uint8Array {
  switch (encoding?.toLowerCase()) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * RFC 2047 encoded-words in an (unfolded) header value decoded: any charset TextDecoder knows,
 * an RFC 2231 language suffix ("utf-8*en") ignored, whitespace between two adjacent
 * encoded-words dropped. Malformed words are left as they are.
 */
export function decodeEncodedWords(value: string): string {
  if (!value.includes('=?')) return value;
  let out = '';
  let last = 0;
  let lastWasWord = false;
  for (const match of value.matchAll(ENCODED_WORD)) {
    const index = match.index!;
    const between = value.slice(last, index);
    if (!(lastWasWord && /^[ \t\r\n]*$/.test(between))) out += between;
    const charset = match[1]!.split('*')[0]!;
    const text = match[3]!;
    const bytes = match[2]!.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQuotedPrintable(Buffer.from(text, 'latin1'), true);
    out += decodeCharset(bytes, charset);
    last = index + match[0].length;
    lastWasWord = true;
  }
  return out + value.slice(last);
}
