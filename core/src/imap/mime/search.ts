/**
 * SEARCH criteria (RFC 3501 6.4.4) evaluated against one message. The IMAP command handler
 * parses the command into a SearchKey (charset decoding, "*" and $ resolved) and calls
 * `matches` per message.
 *
 * Strings match as case-insensitive substrings of decoded text:
 * - header keys (FROM, TO, CC, BCC, SUBJECT are header keys too): every field of that name in
 *   the message's header, unfolded, RFC 2047 encoded-words decoded (any charset TextDecoder
 *   knows); address fields match on that decoded field text. An empty string: the field exists.
 * - BODY: the text parts (text/*) decoded from quoted-printable/base64 and their charset, and the
 *   headers of embedded messages; attachments of other types are not searched.
 * - TEXT: the message's header (decoded as above) and its BODY text.
 * Dates compare calendar days: the internal date in the server's time zone, the Date field as
 * written (its own zone ignored); a message without a readable Date field matches no SENT* key.
 *
 * Only what a key needs is read: flags, sizes and numbers need no content; header keys and
 * SENT* read the header block only (no MIME parse), so `needsBody(key)` false lets the caller
 * hand `raw()` just the header; BODY/TEXT parse the MIME tree (or use `parsed`).
 */
import { decodeCharset, decodeEncodedWords, decodeTransferEncoding, headerBytesToString } from './charset.js';
import { forEachFieldOfText, headerText, unfoldedValue } from './header.js';
import { parseMime, type MimePart } from './mime-tree.js';

export type SearchKey =
  | { op: 'all' }
  | { op: 'and'; keys: SearchKey[] }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'not'; key: SearchKey }
  | { op: 'flag'; flag: string; set: boolean } // \Seen etc. or a keyword; set=false for UNSEEN/UNKEYWORD...
  | { op: 'recent'; set: boolean }
  | { op: 'new' }
  | { op: 'seq'; ranges: Array<[number, number]> } // inclusive, already resolved ("*" → max)
  | { op: 'uid'; ranges: Array<[number, number]> }
  | { op: 'header'; field: string; value: string } // FROM TO CC BCC SUBJECT are header keys too; value "" = header present
  | { op: 'body'; value: string }
  | { op: 'text'; value: string }
  | { op: 'date'; which: 'internal' | 'sent'; cmp: 'before' | 'on' | 'since'; date: string } // date "YYYY-MM-DD"
  | { op: 'size'; cmp: 'larger' | 'smaller'; n: number }
  | { op: 'modseq'; min: number };

export interface SearchSubject {
  seq: number;
  uid: number;
  flags: readonly string[];
  recent: boolean;
  /** INTERNALDATE, ms since the epoch. */
  internalDate: number;
  /** RFC822.SIZE. */
  size: number;
  modseq: number;
  /** The message bytes (only the header block is enough when needsBody(key) is false). */
  raw(): Promise<Buffer>;
}

/** True when the key reads the message (header, body, text, sent date): `raw()` will be called. */
export function needsContent(key: SearchKey): boolean {
  switch (key.op) {
    case 'and':
      return key.keys.some(needsContent);
    case 'or':
      return needsContent(key.a) || needsContent(key.b);
    case 'not':
      return needsContent(key.key);
    case 'header':
    case 'body':
    case 'text':
      return true;
    case 'date':
      return key.which === 'sent';
    default:
      return false;
  }
}

/** True when the key reads beyond the header block (BODY, TEXT). */
export function needsBody(key: SearchKey): boolean {
  switch (key.op) {
    case 'and':
      return key.keys.some(needsBody);
    case 'or':
      return needsBody(key.a) || needsBody(key.b);
    case 'not':
      return needsBody(key.key);
    case 'body':
    case 'text':
      return true;
    default:
      return false;
  }
}

const nameSets = new Map<string, ReadonlySet<string>>();
/** A one-name set for forEachField's `only` (cached: forEachField caches per set). */
function nameSet(name: string): ReadonlySet<string> {
  let set = nameSets.get(name);
  if (!set) {
    set = new Set([name]);
    if (nameSets.size < 1000) nameSets.set(name, set);
  }
  return set;
}

/** The message's content, decoded lazily and once per `matches` call, from `raw` once it is set. */
class Content {
  raw: Buffer | undefined;
  #header: { text: string; headerEnd: number } | undefined;
  #fields = new Map<string, string[]>();
  #decodedHeader: string | undefined;
  #bodyText: string | undefined;

  constructor(private parsed: MimePart | undefined) {}

  /** The message's header block as Latin-1 text (header.ts), read once. */
  #headerBlock(raw: Buffer): { text: string; headerEnd: number } {
    this.#header ??= headerText(raw, 0, this.parsed ? this.parsed.headerEnd : raw.length);
    return this.#header;
  }

  /**
   * A cheap first look for a header search: false only when `needle` (lower-case) cannot be in
   * any decoded field: it is plain ASCII without spaces (so folding and case mapping cannot hide
   * it), the raw header block does not contain it, and there are no encoded words to decode.
   * Most messages of a search miss, and this spares them the field-by-field decoding.
   */
  mayContain(raw: Buffer, needle: string): boolean {
    if (!/^[\x21-\x7e]+$/.test(needle)) return true;
    const text = this.#headerBlock(raw).text;
    return text.includes('=?') || caseless(needle).test(text);
  }

  /** Decoded, lower-cased values of every field named `name` (lower-case). */
  field(raw: Buffer, name: string): string[] {
    let values = this.#fields.get(name);
    if (!values) {
      const found: string[] = [];
      forEachFieldOfText(this.#headerBlock(raw).text, 0, (field) => {
        found.push(decodeEncodedWords(unfoldedValue(raw, field)).toLowerCase());
      }, nameSet(name));
      this.#fields.set(name, (values = found));
    }
    return values;
  }

  /** The whole header, unfolded and decoded, lower-cased. */
  headerText(raw: Buffer): string {
    this.#decodedHeader ??= decodedHeader(raw, 0, this.#headerBlock(raw).headerEnd);
    return this.#decodedHeader;
  }

  /** The decoded text of the body's text parts, lower-cased. */
  bodyText(raw: Buffer): string {
    if (this.#bodyText === undefined) {
      this.parsed ??= parseMime(raw);
      const chunks: string[] = [];
      collectText(raw, this.parsed, chunks, false);
      this.#bodyText = chunks.join('\n').toLowerCase();
    }
    return this.#bodyText;
  }
}

const caselessCache = new Map<string, RegExp>();
/** A case-insensitive matcher of `needle` as plain text (kept for the next message of the same search). */
function caseless(needle: string): RegExp {
  let re = caselessCache.get(needle);
  if (!re) {
    re = new RegExp(needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    if (caselessCache.size > 100) caselessCache.clear();
    caselessCache.set(needle, re);
  }
  return re;
}

function decodedHeader(raw: Buffer, start: number, end: number): string {
  return decodeEncodedWords(headerBytesToString(raw, start, end).replace(/\r?\n(?=[ \t])/g, '')).toLowerCase();
}

/** Text of `part` for BODY/TEXT: decoded text leaves, and the headers of embedded messages. */
function collectText(raw: Buffer, part: MimePart, out: string[], withHeader: boolean): void {
  if (withHeader) out.push(decodedHeader(raw, part.headerStart, part.headerEnd));
  if (part.message) {
    collectText(raw, part.message, out, true);
    return;
  }
  const { type } = part.contentType;
  if (type === 'multipart' && part.children.length > 0) {
    for (const child of part.children) collectText(raw, child, out, false);
    return;
  }
  // text leaves, and a multipart whose parts could not be found (its body is all there is)
  if (type !== 'text' && type !== 'multipart') return;
  const bytes = decodeTransferEncoding(raw.subarray(part.bodyStart, part.bodyEnd), part.fields.encoding ?? undefined);
  out.push(decodeCharset(bytes, part.contentType.params.charset));
}

/** "YYYY-MM-DD" of a Date field as written (RFC 5322 3.3, obsolete forms too), or null. */
export function sentDay(value: string): string | null {
  const m = /(\d{1,2})\s*[-\s]\s*([A-Za-z]{3})[A-Za-z]*\.?\s*[-\s]\s*(\d{2,4})\b/.exec(value);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  if (month < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900; // RFC 5322 4.3
  else if (m[3]!.length === 3) year += 1900;
  const day = Number(m[1]);
  if (day < 1 || day > 31) return null;
  return `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** "YYYY-MM-DD" of `ms` in the server's time zone. */
function localDay(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getFullYear()).padStart(4, '0')}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function compareDay(day: string, cmp: 'before' | 'on' | 'since', date: string): boolean {
  switch (cmp) {
    case 'before':
      return day < date;
    case 'on':
      return day === date;
    case 'since':
      return day >= date;
  }
}

function inRanges(n: number, ranges: ReadonlyArray<[number, number]>): boolean {
  for (const [a, b] of ranges) if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  return false;
}

function hasFlag(flags: readonly string[], flag: string): boolean {
  const wanted = flag.toLowerCase();
  return flags.some((f) => f.toLowerCase() === wanted);
}

/**
 * The key's value for `msg`, or undefined when that needs the content and it is not loaded yet
 * (content.raw unset): then the caller loads it and asks again. So a message is read only when
 * the keys that need no content have not decided already, and evaluation stays synchronous.
 */
function evaluate(key: SearchKey, msg: SearchSubject, content: Content): boolean | undefined {
  switch (key.op) {
    case 'all':
      return true;
    case 'and': {
      let result: boolean | undefined = true;
      for (const k of key.keys) {
        const r = evaluate(k, msg, content);
        if (r === false) return false;
        if (r === undefined) result = undefined;
      }
      return result;
    }
    case 'or': {
      const a = evaluate(key.a, msg, content);
      if (a === true) return true;
      const b = evaluate(key.b, msg, content);
      if (b === true) return true;
      return a === false && b === false ? false : undefined;
    }
    case 'not': {
      const r = evaluate(key.key, msg, content);
      return r === undefined ? undefined : !r;
    }
    case 'flag':
      return hasFlag(msg.flags, key.flag) === key.set;
    case 'recent':
      return msg.recent === key.set;
    case 'new':
      return msg.recent && !hasFlag(msg.flags, '\\Seen');
    case 'seq':
      return inRanges(msg.seq, key.ranges);
    case 'uid':
      return inRanges(msg.uid, key.ranges);
    case 'size':
      return key.cmp === 'larger' ? msg.size > key.n : msg.size < key.n;
    case 'modseq':
      return msg.modseq >= key.min;
    case 'date': {
      if (key.which === 'internal') return compareDay(localDay(msg.internalDate), key.cmp, key.date);
      if (!content.raw) return undefined;
      const values = content.field(content.raw, 'date');
      const day = values.length > 0 ? sentDay(values[0]!) : null;
      return day !== null && compareDay(day, key.cmp, key.date);
    }
    case 'header': {
      if (!content.raw) return undefined;
      if (key.value === '') return content.field(content.raw, key.field.toLowerCase()).length > 0;
      const needle = key.value.toLowerCase();
      if (!content.mayContain(content.raw, needle)) return false;
      return content.field(content.raw, key.field.toLowerCase()).some((v) => v.includes(needle));
    }
    case 'body':
      if (!content.raw) return undefined;
      return content.bodyText(content.raw).includes(key.value.toLowerCase());
    case 'text': {
      if (!content.raw) return undefined;
      const needle = key.value.toLowerCase();
      return content.headerText(content.raw).includes(needle) || content.bodyText(content.raw).includes(needle);
    }
  }
}

/**
 * Whether `msg` matches `key`. `parsed` (parseMime of the same bytes) saves a parse when the
 * caller has one. Reads `msg.raw()` at most once, and only when a key needs the content.
 *
 * @example
 *   await matches({ op: 'and', keys: [{ op: 'flag', flag: '\\Seen', set: false }, { op: 'header', field: 'subject', value: 'invoice' }] }, msg);
 */
/** `matches` when the content is at hand already (a cached header block for a header-only key): no awaits. */
export function matchesContent(key: SearchKey, msg: SearchSubject, raw: Buffer): boolean {
  const content = new Content(undefined);
  content.raw = raw;
  return evaluate(key, msg, content) ?? false;
}

export async function matches(key: SearchKey, msg: SearchSubject, parsed?: MimePart): Promise<boolean> {
  const content = new Content(parsed);
  const first = evaluate(key, msg, content);
  if (first !== undefined) return first;
  content.raw = await msg.raw();
  return evaluate(key, msg, content) ?? false;
}
