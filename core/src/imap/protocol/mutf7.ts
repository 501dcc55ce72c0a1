import { bad } from './protocol-error.js';

/**
 * Modified UTF-7 (RFC 3501 5.1.3), the encoding of mailbox names on the wire: printable US-ASCII
 * stands for itself ("&" is "&-"), anything else is "&" + base64 of UTF-16BE (with "," for "/",
 * no padding) + "-". Decoding is strict, because a name that decodes in several ways could reach
 * the store in a form its validation did not see: raw 8-bit bytes, control characters, a shift
 * that encodes printable ASCII, two shifts in a row, bad padding bits or lone surrogates are BAD.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

function isPrintable(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

/** A Unicode name (as the store holds it) in modified UTF-7. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const code = name.charCodeAt(i);
    if (code === 0x26) {
      out += '&-';
      i++;
    } else if (isPrintable(code)) {
      out += name[i];
      i++;
    } else {
      let j = i;
      while (j < name.length && !isPrintable(name.charCodeAt(j))) j++;
      const units = name.slice(i, j);
      const bytes = Buffer.alloc(units.length * 2);
      for (let k = 0; k < units.length; k++) bytes.writeUInt16BE(units.charCodeAt(k), k * 2);
      out += `&${bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
      i = j;
    }
  }
  return out;
}

/**
 * A name from the wire (bytes of an astring) in Unicode. Throws ImapError BAD on anything that is
 * not canonical modified UTF-7.
 */
export function decodeMailboxName(wire: Buffer | string): string {
  const text = typeof wire === 'string' ? wire : wire.toString('latin1');
  let out = '';
  let i = 0;
  let lastShiftEnd = -1;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (!isPrintable(code)) throw bad('Mailbox name is not valid modified UTF-7 (8-bit or control character)');
    if (code !== 0x26) {
      out += text[i];
      i++;
      continue;
    }
    const end = text.indexOf('-', i + 1);
    if (end < 0) throw bad('Mailbox name is not valid modified UTF-7 (unterminated "&")');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (lastShiftEnd === i) throw bad('Mailbox name is not valid modified UTF-7 (adjacent encoded runs)');
    out += decodeRun(text.slice(i + 1, end));
    i = end + 1;
    lastShiftEnd = i;
  }
  return out;
}

function decodeRun(run: string): string {
  let bits = 0;
  let buffer = 0;
  const bytes: number[] = [];
  for (let k = 0; k < run.length; k++) {
    const c = run.charCodeAt(k);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) throw bad('Mailbox name is not valid modified UTF-7 (bad base64)');
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
      buffer &= (1 << bits) - 1;
    }
  }
  // Leftover bits must be fewer than a byte's worth... and zero.
  if (bits >= 6 || buffer !== 0) throw bad('Mailbox name is not valid modified UTF-7 (bad padding)');
  if (bytes.length % 2 !== 0) throw bad('Mailbox name is not valid modified UTF-7 (odd UTF-16 length)');
  let out = '';
  for (let k = 0; k < bytes.length; k += 2) {
    const unit = (bytes[k]! << 8) | bytes[k + 1]!;
    if (isPrintable(unit)) throw bad('Mailbox name is not valid modified UTF-7 (encoded printable ASCII)');
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = k + 3 < bytes.length ? (bytes[k + 2]! << 8) | bytes[k + 3]! : -1;
      if (next < 0xdc00 || next > 0xdfff) throw bad('Mailbox name is not valid modified UTF-7 (lone surrogate)');
      out += String.fromCharCode(unit, next);
      k += 2;
      continue;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) throw bad('Mailbox name is not valid modified UTF-7 (lone surrogate)');
    out += String.fromCharCode(unit);
  }
  return out;
}
