/**
 * MIME structured fields: Content-Type, Content-Disposition (a value and ";"-separated
 * parameters, RFC 2045 5.1, RFC 2183) and Content-Language. Parameters come out in two forms:
 *
 * - `raw`: what BODYSTRUCTURE shows, the way Dovecot shows it — plain parameters first in their
 *   order, then the RFC 2231 ones with their continuations (name*0, name*1...) joined, still
 *   encoded and named "name*" when any piece was (charset'lang'%XX), else "name". Names keep
 *   their case. This keeps BODYSTRUCTURE 7-bit and the same as a Dovecot server's.
 * - `decoded`: lower-case names, RFC 2231 values decoded to text (their charset through
 *   TextDecoder) and preferred over a plain parameter of the same name, and RFC 2047
 *   encoded-words in quoted values decoded (not standard, but what mailers send for file names).
 *
 * An unquoted value runs to the next ";" or blank, "=" included: `boundary=----=_Part_1` is
 * "----=_Part_1" here (Dovecot stops at the "=" and then misreads the closing delimiter).
 */
import { decodeCharset, decodeEncodedWords } from './charset.js';

export type ParamList = Array<[name: string, value: string]>;

export interface StructuredValue {
  /** The value before the parameters ("text/plain", "attachment"), as written; '' if none. */
  value: string;
  raw: ParamList;
  decoded: Record<string, string>;
}

/** MIME token characters: anything printable but SPACE and tspecials ()<>@,;:\"/[]?= */
function isTokenChar(c: number): boolean {
  if (c <= 0x20 || c === 0x7f) return false;
  switch (c) {
    case 0x28: case 0x29: case 0x3c: case 0x3e: case 0x40: case 0x2c: case 0x3b: case 0x3a:
    case 0x5c: case 0x22: case 0x2f: case 0x5b: case 0x5d: case 0x3f: case 0x3d:
      return false;
    default:
      return true;
  }
}

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}

  /** Skip blanks and (nested) comments. */
  skipCfws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.pos++;
      else if (c === '(') {
        let depth = 0;
        while (this.pos < s.length) {
          const d = s[this.pos++];
          if (d === '\\') this.pos++;
          else if (d === '(') depth++;
          else if (d === ')' && --depth === 0) break;
        }
      } else break;
    }
  }

  token(extra = ''): string {
    const start = this.pos;
    while (this.pos < this.s.length && (isTokenChar(this.s.charCodeAt(this.pos)) || extra.includes(this.s[this.pos]!))) this.pos++;
    return this.s.slice(start, this.pos);
  }

  quoted(): string {
    let out = '';
    this.pos++; // opening quote
    while (this.pos < this.s.length && this.s[this.pos] !== '"') {
      if (this.s[this.pos] === '\\' && this.pos + 1 < this.s.length) this.pos++;
      out += this.s[this.pos++];
    }
    this.pos++;
    return out;
  }

  peek(): string | undefined {
    return this.s[this.pos];
  }
}

/** Parameters after the value: `; name=value` (token or quoted-string), tolerant of junk. */
function parseParams(cur: Cursor): Array<{ name: string; value: string; quoted: boolean }> {
  const params: Array<{ name: string; value: string; quoted: boolean }> = [];
  for (;;) {
    cur.skipCfws();
    if (cur.pos >= cur.s.length) break;
    if (cur.peek() !== ';') {
      // junk between parameters: skip to the next ";"
      const next = cur.s.indexOf(';', cur.pos);
      if (next < 0) break;
      cur.pos = next;
    }
    cur.pos++; // ";"
    cur.skipCfws();
    const name = cur.token('*');
    if (!name) continue;
    cur.skipCfws();
    if (cur.peek() !== '=') continue;
    cur.pos++;
    cur.skipCfws();
    if (cur.peek() === '"') params.push({ name, value: cur.quoted(), quoted: true });
    else {
      // an unquoted value: a token, but be lenient about 8-bit and stray specials up to ";"
      const start = cur.pos;
      while (cur.pos < cur.s.length && cur.s[cur.pos] !== ';' && cur.s[cur.pos] !== ' ' && cur.s[cur.pos] !== '\t' && cur.s[cur.pos] !== '(') cur.pos++;
      params.push({ name, value: cur.s.slice(start, cur.pos), quoted: false });
    }
  }
  return params;
}

const RFC2231 = /^(.+?)\*(?:(\d+)(\*)?|)$/;

interface Section {
  index: number;
  encoded: boolean;
  value: string;
}

/** Percent-decoding of an RFC 2231 extended value; bytes that are not %XX stay as they are. */
function percentBytes(value: string): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else for (const b of Buffer.from(value[i]!, 'utf8')) bytes.push(b);
  }
  return bytes;
}

/** RFC 2231 sections of one parameter, decoded to text. */
function decode2231(sections: Section[]): string {
  let charset: string | undefined;
  const bytes: number[] = [];
  sections.forEach((section, i) => {
    let value = section.value;
    if (section.encoded && i === 0) {
      const m = /^([^']*)'[^']*'(.*)$/s.exec(value);
      if (m) {
        charset = m[1] || undefined;
        value = m[2]!;
      }
    }
    if (section.encoded) bytes.push(...percentBytes(value));
    else for (const b of Buffer.from(value, 'utf8')) bytes.push(b);
  });
  return decodeCharset(Uint8Array.from(bytes), charset ?? 'utf-8');
}

/** Parameters in both forms (see the file comment). */
function buildParams(params: Array<{ name: string; value: string; quoted: boolean }>): { raw: ParamList; decoded: Record<string, string> } {
  const raw: ParamList = [];
  const decoded: Record<string, string> = {};
  const extended = new Map<string, { name: string; sections: Section[] }>();
  for (const p of params) {
    if (p.name.toLowerCase().startsWith('__proto__')) continue; // not a key for a plain object
    const m = RFC2231.exec(p.name);
    if (!m) {
      raw.push([p.name, p.value]);
      const key = p.name.toLowerCase();
      if (!(key in decoded)) decoded[key] = p.quoted || p.value.includes('=?') ? decodeEncodedWords(p.value) : p.value;
      continue;
    }
    const key = m[1]!.toLowerCase();
    let entry = extended.get(key);
    if (!entry) extended.set(key, (entry = { name: m[1]!, sections: [] }));
    // "name*" alone is one encoded section; "name*N" plain, "name*N*" encoded
    const index = m[2] === undefined ? 0 : Number(m[2]);
    entry.sections.push({ index, encoded: m[2] === undefined || m[3] === '*', value: p.value });
  }
  for (const [key, { name, sections }] of extended) {
    sections.sort((a, b) => a.index - b.index);
    const anyEncoded = sections.some((s) => s.encoded);
    raw.push([anyEncoded ? `${name}*` : name, sections.map((s) => s.value).join('')]);
    decoded[key] = decode2231(sections); // RFC 2231 wins over a plain parameter of the same name
  }
  return { raw, decoded };
}

/**
 * A Content-Type value: `type/subtype` (as written; subtype '' when the slash is missing) and
 * its parameters. An empty or unreadable value gives type ''.
 */
export function parseContentType(value: string): StructuredValue & { type: string; subtype: string } {
  const cur = new Cursor(value);
  cur.skipCfws();
  const type = cur.token();
  cur.skipCfws();
  let subtype = '';
  if (cur.peek() === '/') {
    cur.pos++;
    cur.skipCfws();
    subtype = cur.token();
  }
  const params = type ? buildParams(parseParams(cur)) : { raw: [], decoded: {} };
  return { value: subtype ? `${type}/${subtype}` : type, type, subtype, ...params };
}

/** A Content-Disposition value: the disposition token and its parameters; value '' if none. */
export function parseDisposition(value: string): StructuredValue {
  const cur = new Cursor(value);
  cur.skipCfws();
  const disposition = cur.token();
  const params = disposition ? buildParams(parseParams(cur)) : { raw: [], decoded: {} };
  return { value: disposition, ...params };
}

/** Content-Language: a comma-separated list of language tags. */
export function parseLanguage(value: string): string[] {
  const tags: string[] = [];
  const cur = new Cursor(value);
  for (;;) {
    cur.skipCfws();
    const tag = cur.token();
    if (!tag) break;
    tags.push(tag);
    cur.skipCfws();
    if (cur.peek() !== ',') break;
    cur.pos++;
  }
  return tags;
}

/** Content-Transfer-Encoding: its token as written ('' when there is none). */
export function parseEncoding(value: string): string {
  const cur = new Cursor(value);
  cur.skipCfws();
  return cur.token();
}
