/**
 * The MIME structure of a raw message as byte offsets: what BODYSTRUCTURE, BODY[section] and
 * SEARCH need. Our own small parser, because no library gives the exact byte offsets of each
 * part's header and body from which IMAP's sizes and line counts are computed (mailparser and
 * friends decode and re-assemble). Pure: no I/O, never throws.
 *
 * How the bytes are split (RFC 2046 5.1.1, and where RFC 2046 leaves room, as Dovecot does so
 * that our answers match a Dovecot server's):
 * - A header ends at the first empty line; the body starts after it. No empty line: the body is
 *   empty. Inside a multipart, a delimiter line also ends a header (the part then has no body,
 *   and the header's last line break goes to the delimiter).
 * - A delimiter line is "--" + boundary at the start of a line; the boundary only has to be a
 *   prefix of the rest of the line, and of several open boundaries the longest match wins. The
 *   line break before a delimiter belongs to the delimiter, not to the part before it (unless it
 *   ends a closing delimiter line: "--inner--CRLF--outer" leaves the CRLF in the inner multipart).
 * - A part's body ends at the next delimiter of the innermost or any enclosing multipart, so a
 *   missing closing delimiter ends the part at its parent's next delimiter or at the end.
 * - A multipart whose boundary parameter is missing or never appears has no children (its body
 *   is all preamble); BODYSTRUCTURE then shows one empty text/plain child, as Dovecot does.
 * - message/rfc822 bodies are parsed as messages (whatever their transfer encoding claims);
 *   children of multipart/digest default to message/rfc822.
 * - Content-* fields: the first of each counts; at a message's top (or an embedded message's)
 *   they count only with a MIME-Version or a Content-Type field there.
 * - Nesting deeper than 100 levels is not followed (the part is a leaf).
 */
import { parseContentType, parseDisposition, parseEncoding, parseLanguage, type ParamList } from './content-type.js';
import { forEachField, headerBounds, unfoldedValue } from './header.js';

export interface MimePart {
  /** Byte offsets in the raw message: header block (without the blank line) and body. */
  headerStart: number;
  headerEnd: number;
  bodyStart: number;
  bodyEnd: number;
  /** Lower-case type/subtype, RFC 2231 params decoded (lower-case names). */
  contentType: { type: string; subtype: string; params: Record<string, string> };
  /** multipart children; message/rfc822 has `message` (the embedded message's root part). */
  children: MimePart[];
  message?: MimePart;
  /** The part's MIME fields as written, for BODYSTRUCTURE. */
  fields: MimeFields;
}

/** Content-* fields as BODYSTRUCTURE shows them: as written (case kept), folds removed. */
export interface MimeFields {
  /** Type and subtype as written ("text"/"plain" by default, "message"/"rfc822" in a digest). */
  type: string;
  subtype: string;
  /** Content-Type parameters in BODYSTRUCTURE form (content-type.ts). */
  params: ParamList;
  /** Content-Transfer-Encoding token, or null (BODYSTRUCTURE then says "7bit"). */
  encoding: string | null;
  id: string | null;
  description: string | null;
  md5: string | null;
  /** Content-Disposition: value and parameters as written, and `decoded` (like contentType.params). */
  disposition: { value: string; params: ParamList; decoded: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
}

/** Whether a part is a multipart (children, possibly none) or a message/rfc822 (`message`). */
export function isMultipart(part: MimePart): boolean {
  return part.contentType.type === 'multipart';
}

export function isMessageRfc822(part: MimePart): boolean {
  return part.message !== undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASHES = Buffer.from('\n--', 'latin1');
const MAX_DEPTH = 100;

interface Delimiter {
  /** Start of the delimiter line ("--boundary..."). */
  at: number;
  /** After the line (its line break included). */
  next: number;
  /** Index of the matching boundary in the open-boundary stack. */
  index: number;
  closing: boolean;
}

interface Ctx {
  raw: Buffer;
  len: number;
  /** Boundaries of the open multiparts, outermost first, as "boundary" bytes. */
  open: Buffer[];
}

/** The open boundary (longest match wins, then innermost) that a line starting at `pos` delimits, or -1. */
function delimiterAt(ctx: Ctx, pos: number): number {
  const { raw, open } = ctx;
  if (raw[pos] !== DASH || raw[pos + 1] !== DASH) return -1;
  let best = -1;
  for (let i = open.length - 1; i >= 0; i--) {
    const b = open[i]!;
    if (best >= 0 && b.length <= open[best]!.length) continue;
    const from = pos + 2;
    if (from + b.length <= ctx.len && raw.compare(b, 0, b.length, from, from + b.length) === 0) best = i;
  }
  return best;
}

function delimiter(ctx: Ctx, at: number, index: number): Delimiter {
  const { raw } = ctx;
  const after = at + 2 + ctx.open[index]!.length;
  const nl = raw.indexOf(LF, at);
  return { at, next: nl < 0 ? ctx.len : nl + 1, index, closing: raw[after] === DASH && raw[after + 1] === DASH };
}

/** The first delimiter line of any open multipart at or after the line start `pos`, or null. */
function findDelimiter(ctx: Ctx, pos: number): Delimiter | null {
  if (ctx.open.length === 0 || pos >= ctx.len) return null;
  let index = delimiterAt(ctx, pos);
  if (index >= 0) return delimiter(ctx, pos, index);
  let from = pos;
  for (;;) {
    const hit = ctx.raw.indexOf(NL_DASHES, from);
    if (hit < 0) return null;
    index = delimiterAt(ctx, hit + 1);
    if (index >= 0) return delimiter(ctx, hit + 1, index);
    from = hit + 1;
  }
}

/**
 * Where text that starts at `from` ends when a delimiter line starts at `at`: before the line
 * break that precedes the delimiter, unless that line break is not in the text (it ended the
 * previous delimiter line: an empty epilogue, an empty body).
 */
function endBefore(raw: Buffer, at: number, from: number): number {
  let end = at;
  if (end > from && raw[end - 1] === LF) {
    end--;
    if (end > from && raw[end - 1] === CR) end--;
  }
  return end;
}

/** The header block at `start`: up to an empty line, a delimiter line or the end. */
function scanHeader(ctx: Ctx, start: number): { headerEnd: number; bodyStart: number; stop: Delimiter | null } {
  const { raw, len } = ctx;
  let pos = start;
  while (pos < len) {
    const c = raw[pos];
    if (c === LF) return { headerEnd: pos, bodyStart: pos + 1, stop: null };
    if (c === CR && raw[pos + 1] === LF) return { headerEnd: pos, bodyStart: pos + 2, stop: null };
    if (c === DASH && ctx.open.length > 0) {
      const index = delimiterAt(ctx, pos);
      if (index >= 0) {
        // no body: the header's last line break belongs to the delimiter, as any part's does
        const end = endBefore(raw, pos, start);
        return { headerEnd: end, bodyStart: end, stop: delimiter(ctx, pos, index) };
      }
    }
    const nl = raw.indexOf(LF, pos);
    if (nl < 0) break;
    pos = nl + 1;
  }
  return { headerEnd: len, bodyStart: len, stop: null };
}

function defaultFields(digest: boolean): MimeFields {
  return {
    type: digest ? 'message' : 'text',
    subtype: digest ? 'rfc822' : 'plain',
    params: [],
    encoding: null,
    id: null,
    description: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
  };
}

const MIME_FIELDS: ReadonlySet<string> = new Set([
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'content-md5',
  'content-disposition',
  'content-language',
  'content-location',
]);

/** The Content-* fields of a header block. */
function readFields(raw: Buffer, start: number, end: number, messageRoot: boolean, digest: boolean): { fields: MimeFields; params: Record<string, string> } {
  const fields = defaultFields(digest);
  let params: Record<string, string> = {};
  let mime = !messageRoot;
  let hasType = false;
  const seen = new Set<string>();
  forEachField(raw, start, end, (field) => {
    const name = field.name;
    if (name === 'mime-version') {
      mime = true;
      return;
    }
    if (seen.has(name)) return;
    seen.add(name); // the first of each field counts
    const value = unfoldedValue(raw, field);
    switch (name) {
      case 'content-type': {
        const ct = parseContentType(value);
        if (!ct.type) return; // empty or unreadable: as if absent
        hasType = true;
        fields.type = ct.type;
        fields.subtype = ct.subtype;
        fields.params = ct.raw;
        params = ct.decoded;
        return;
      }
      case 'content-transfer-encoding':
        fields.encoding = parseEncoding(value) || null;
        return;
      case 'content-id':
        fields.id = value;
        return;
      case 'content-description':
        fields.description = value;
        return;
      case 'content-md5':
        fields.md5 = value;
        return;
      case 'content-disposition': {
        const d = parseDisposition(value);
        if (d.value) fields.disposition = { value: d.value, params: d.raw, decoded: d.decoded };
        return;
      }
      case 'content-language': {
        const tags = parseLanguage(value);
        if (tags.length > 0) fields.language = tags;
        return;
      }
      case 'content-location':
        fields.location = value;
        return;
    }
  }, MIME_FIELDS);
  if (!mime && !hasType) return { fields: defaultFields(digest), params: {} }; // not MIME: Content-* mean nothing
  return { fields, params };
}

/**
 * The part at `start` and the delimiter that ended it (null: the end of the message). `bare`:
 * its header was ended by a delimiter, so it has no body.
 */
function parseEntity(ctx: Ctx, start: number, messageRoot: boolean, digest: boolean, depth: number): { part: MimePart; stop: Delimiter | null; bare: boolean } {
  const { raw } = ctx;
  const header = scanHeader(ctx, start);
  const { fields, params } = readFields(raw, start, header.headerEnd, messageRoot, digest);
  const type = fields.type.toLowerCase();
  const subtype = fields.subtype.toLowerCase();
  const part: MimePart = {
    headerStart: start,
    headerEnd: header.headerEnd,
    bodyStart: header.bodyStart,
    bodyEnd: header.bodyStart,
    contentType: { type, subtype, params },
    children: [],
    fields,
  };
  if (header.stop) {
    if (type === 'message' && subtype === 'rfc822') part.message = emptyMessage(part.bodyStart);
    return { part, stop: header.stop, bare: true };
  }

  let stop: Delimiter | null;
  let from = part.bodyStart; // where the text that `stop` ends began
  const boundary = params.boundary;
  if (type === 'multipart' && boundary && depth < MAX_DEPTH) {
    ctx.open.push(Buffer.from(boundary, 'utf8'));
    const mine = ctx.open.length - 1;
    stop = findDelimiter(ctx, part.bodyStart); // the preamble runs to the first delimiter
    while (stop && stop.index === mine && !stop.closing) {
      const child = parseEntity(ctx, stop.next, false, subtype === 'digest', depth + 1);
      part.children.push(child.part);
      stop = child.stop;
    }
    ctx.open.pop();
    if (stop && stop.index === mine) {
      // the epilogue runs to the parent's next delimiter
      from = stop.next;
      stop = findDelimiter(ctx, from);
    }
  } else if (type === 'message' && subtype === 'rfc822' && depth < MAX_DEPTH) {
    const embedded = parseEntity(ctx, part.bodyStart, true, false, depth + 1);
    part.message = embedded.part;
    // An embedded message that is all header, cut by a delimiter: Dovecot counts the line break
    // its header lost to the delimiter in this part's body (a quirk, kept so sizes agree).
    part.bodyEnd = embedded.bare && embedded.stop ? embedded.stop.at : embedded.part.bodyEnd;
    return { part, stop: embedded.stop, bare: false };
  } else {
    stop = findDelimiter(ctx, part.bodyStart);
  }
  part.bodyEnd = stop ? endBefore(raw, stop.at, from) : ctx.len;
  return { part, stop, bare: false };
}

/** A message/rfc822 part with no body still has a (empty) message. */
function emptyMessage(at: number): MimePart {
  return {
    headerStart: at,
    headerEnd: at,
    bodyStart: at,
    bodyEnd: at,
    contentType: { type: 'text', subtype: 'plain', params: {} },
    children: [],
    fields: defaultFields(false),
  };
}

/**
 * The MIME tree of a raw message (see the file comment for how it is split). Never throws:
 * malformed input degrades to what can be read, at worst one text/plain part.
 *
 * @example
 *   const root = parseMime(raw);
 *   root.children[1]?.contentType.params.name; // "quarterly-invoice.pdf" (name*0, name*1 joined)
 *   root.children[1]?.fields.disposition?.decoded.filename; // "€ rates.pdf" (filename*=utf-8''%E2%82%AC%20rates.pdf)
 */
export function parseMime(raw: Buffer): MimePart {
  try {
    return parseEntity({ raw, len: raw.length, open: [] }, 0, true, false, 0).part;
  } catch {
    // not expected; a broken message must still be servable, as one text/plain part
    const { headerEnd, bodyStart } = headerBounds(raw);
    return { ...emptyMessage(0), headerEnd, bodyStart, bodyEnd: raw.length };
  }
}
