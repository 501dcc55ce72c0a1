/**
 * The header block of a message or MIME part, read straight from the bytes: where it ends, its
 * fields (name and value offsets, folded lines joined), and unfolded values. CRLF and bare LF
 * line ends are both accepted.
 *
 * Speed matters here (FETCH ENVELOPE and SEARCH SUBJECT over a whole mailbox read nothing
 * else), so the block is turned into one Latin-1 string (one byte, one character) and walked
 * with string indexOf/charCodeAt, which V8 runs without crossing into native code per line.
 */
import { isUtf8 } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const EIGHT_BIT = /[\x80-\xff]/;
const LINE_BREAKS = /[\r\n]/g;

/** One header field; offsets are into the message buffer. */
export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Start of the field's first line. */
  start: number;
  /** First byte of the value (after the colon and the blanks that follow it). */
  valueStart: number;
  /** End of the field's last line, before its CRLF/LF. */
  end: number;
  /** After the field's final line break (the next field's start). */
  next: number;
  /** The header block as Latin-1 text, and the buffer offset of its first character. */
  text: string;
  base: number;
}

/** Where a header block starting at `start` ends. */
export interface HeaderBounds {
  /** End of the last header line, its line break included; the blank line is not. */
  headerEnd: number;
  /** After the blank line (== headerEnd == end when there is none). */
  bodyStart: number;
}

/** Where the header in `text` (Latin-1 text from the header's start) ends, or null if not in `text`. */
function blankLine(text: string): HeaderBounds | null {
  // line by line: a one-character indexOf is much faster in V8 than a search for "\n\r\n"
  for (let pos = 0; ; ) {
    const c = text.charCodeAt(pos);
    if (c === LF) return { headerEnd: pos, bodyStart: pos + 1 };
    if (c === CR && text.charCodeAt(pos + 1) === LF) return { headerEnd: pos, bodyStart: pos + 2 };
    const nl = text.indexOf('\n', pos);
    if (nl < 0) return null;
    pos = nl + 1;
  }
}

/**
 * The header block at `start` as Latin-1 text, and where it ends (at the first empty line, CRLF
 * or LF, or at `end`). Converts a first 2 KB (most headers fit) and more only when needed.
 */
export function headerText(buf: Buffer, start = 0, end = buf.length): HeaderBounds & { text: string } {
  for (let chunk = 2048; ; chunk *= 4) {
    const stop = Math.min(end, start + chunk);
    const text = buf.toString('latin1', start, stop);
    const bounds = blankLine(text);
    if (bounds) return { text: text.slice(0, bounds.headerEnd), headerEnd: start + bounds.headerEnd, bodyStart: start + bounds.bodyStart };
    if (stop === end) return { text, headerEnd: end, bodyStart: end };
    // not in this chunk (a "\n\r" at its very end may be cut from its "\n"): convert more
  }
}

/** The header block at `start`: it ends at the first empty line (CRLF or LF) or at `end`. */
export function headerBounds(buf: Buffer, start = 0, end = buf.length): HeaderBounds {
  const { headerEnd, bodyStart } = headerText(buf, start, end);
  return { headerEnd, bodyStart };
}

/** Lengths of the names in `names`, to skip other fields without making their name strings. */
const lengthsCache = new WeakMap<object, Set<number>>();
function nameLengths(names: ReadonlySet<string> | ReadonlyMap<string, unknown>): Set<number> {
  let lengths = lengthsCache.get(names);
  if (!lengths) lengthsCache.set(names, (lengths = new Set([...names.keys()].map((n) => n.length))));
  return lengths;
}

/**
 * Calls `visit` for each field of the header block buf[start, end) (it also stops at an empty
 * line, so `end` may be the end of the message), or only for the fields named in `only`
 * (lower-case names; cheaper). Lines without a colon and stray continuation lines before the
 * first field are skipped (RFC 5322 allows neither; mbox "From " lines are the usual case).
 * `visit` returning false stops the walk.
 */
export function forEachField(buf: Buffer, start: number, end: number, visit: (field: HeaderField) => boolean | void, only?: ReadonlySet<string>): void {
  forEachFieldOfText(headerText(buf, start, end).text, start, visit, only);
}

/** forEachField over a header block already read by headerText (`base`: the buffer offset of text[0]). */
export function forEachFieldOfText(text: string, base: number, visit: (field: HeaderField) => boolean | void, only?: ReadonlySet<string>): void {
  const lengths = only ? nameLengths(only) : undefined;
  const n = text.length;
  let pos = 0;
  // the field being read: its name (null: none, or not wanted) and offsets in `text`
  let name: string | null = null;
  let fieldStart = 0;
  let valueStart = 0;
  let fieldEnd = 0;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    const next = nl < n ? nl + 1 : n;
    let lineEnd = nl;
    if (lineEnd > pos && nl < n && text.charCodeAt(lineEnd - 1) === CR) lineEnd--;
    const c = text.charCodeAt(pos);
    if (c === SP || c === TAB) {
      fieldEnd = lineEnd; // a folded continuation line
    } else {
      if (name !== null && visit({ name, start: base + fieldStart, valueStart: base + valueStart, end: base + fieldEnd, next: base + pos, text, base }) === false) return;
      name = null;
      const colon = text.indexOf(':', pos);
      if (colon > pos && colon < lineEnd) {
        let nameEnd = colon;
        while (nameEnd > pos && (text.charCodeAt(nameEnd - 1) === SP || text.charCodeAt(nameEnd - 1) === TAB)) nameEnd--; // "Subject : x"
        if (!lengths || lengths.has(nameEnd - pos)) {
          const candidate = text.slice(pos, nameEnd).toLowerCase();
          if (!only || only.has(candidate)) {
            name = candidate;
            fieldStart = pos;
            let v = colon + 1;
            while (v < lineEnd && (text.charCodeAt(v) === SP || text.charCodeAt(v) === TAB)) v++;
            valueStart = v;
            fieldEnd = lineEnd;
          }
        }
      }
    }
    pos = next;
  }
  if (name !== null) visit({ name, start: base + fieldStart, valueStart: base + valueStart, end: base + fieldEnd, next: base + n, text, base });
}

/**
 * For each field named in `names` (lower-case name → slot), the value range of its last
 * occurrence in `text` (Latin-1 text from the start of a header block; it may run past the
 * header): ranges[2 * slot] = value start, ranges[2 * slot + 1] = end of its last line (offsets
 * in `text`), -1 when absent. Returns true when it reached the empty line that ends the header
 * (false: `text` ends inside the header). The allocation-free walk FETCH ENVELOPE uses (the
 * same walk as forEachFieldOfText, without a callback and an object per field).
 */
export function lastFieldRanges(text: string, names: ReadonlyMap<string, number>, ranges: Int32Array): boolean {
  ranges.fill(-1);
  const lengths = nameLengths(names);
  const n = text.length;
  let slot = -1;
  let pos = 0;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    let lineEnd = nl;
    if (lineEnd > pos && nl < n && text.charCodeAt(lineEnd - 1) === CR) lineEnd--;
    if (lineEnd === pos && nl < n) return true; // the empty line
    const c = text.charCodeAt(pos);
    if (c === SP || c === TAB) {
      if (slot >= 0) ranges[2 * slot + 1] = lineEnd; // a folded continuation line
    } else {
      slot = -1;
      const colon = text.indexOf(':', pos);
      if (colon > pos && colon < lineEnd) {
        let nameEnd = colon;
        while (nameEnd > pos && (text.charCodeAt(nameEnd - 1) === SP || text.charCodeAt(nameEnd - 1) === TAB)) nameEnd--;
        if (lengths.has(nameEnd - pos)) {
          const found = names.get(text.slice(pos, nameEnd).toLowerCase());
          if (found !== undefined) {
            slot = found;
            let v = colon + 1;
            while (v < lineEnd && (text.charCodeAt(v) === SP || text.charCodeAt(v) === TAB)) v++;
            ranges[2 * slot] = v;
            ranges[2 * slot + 1] = lineEnd;
          }
        }
      }
    }
    pos = nl + 1;
  }
  return false;
}

/**
 * text[from, to) (a value range from lastFieldRanges) unfolded, as unfoldedValue does; `buf` and
 * `base` (the buffer offset of text[0]) re-read 8-bit bytes as UTF-8 when they are.
 */
export function unfoldRange(text: string, from: number, to: number, buf: Buffer, base: number): string {
  while (from < to) {
    const c = text.charCodeAt(from);
    if (c !== CR && c !== LF && c !== SP && c !== TAB) break;
    from++;
  }
  let value = text.slice(from, to);
  if (EIGHT_BIT.test(value)) {
    const bytes = buf.subarray(base + from, base + to);
    if (isUtf8(bytes)) value = bytes.toString('utf8');
  }
  return value.includes('\n') || value.includes('\r') ? value.replace(LINE_BREAKS, '') : value;
}

/**
 * A field value unfolded (RFC 5322 2.2.3: the CR and LF of each fold removed, the blank after
 * them kept) as a string: UTF-8 when its bytes are, else Latin-1. A value that starts on a
 * continuation line loses its leading blanks too.
 */
export function unfoldedValue(buf: Buffer, field: HeaderField): string {
  return unfoldRange(field.text, field.valueStart - field.base, field.end - field.base, buf, field.base);
}
