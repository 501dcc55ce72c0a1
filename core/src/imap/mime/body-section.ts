/**
 * BODY[section]<partial> contents (RFC 3501 6.4.5), as raw bytes of the message.
 *
 * Part numbers, as Dovecot resolves them: in a multipart, N is its Nth child; a message/rfc822
 * part followed by more numbers is entered (its embedded message is numbered like a message);
 * any other part answers only to 1, and only as the last number ([2.1] of a leaf part 2 is part 2;
 * [1.1] of a one-part message does not exist). A section that does not exist is empty.
 *
 * - []                 the whole message
 * - [HEADER], [TEXT]   the message's header (with its empty line) / body
 * - [1.2]              that part's body (of a message/rfc822 part: the whole embedded message)
 * - [1.2.MIME]         that part's MIME header, with its empty line
 * - [1.2.HEADER] etc.  the embedded message of a message/rfc822 part 1.2 (other parts: empty)
 * - HEADER.FIELDS (A B) / HEADER.FIELDS.NOT (A B): those fields (not those fields), as written,
 *   in their order, then an empty line (see headerFieldsSection for the one exception).
 */
import { forEachField } from './header.js';
import type { MimePart } from './mime-tree.js';

export interface SectionSpec {
  part: number[];
  kind?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  /** Field names of HEADER.FIELDS / HEADER.FIELDS.NOT (any case). */
  fields?: string[];
}

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n', 'latin1');

/** The part that a section's part numbers name, or null when there is none. */
export function findPart(root: MimePart, path: readonly number[]): MimePart | null {
  let part: MimePart | null = root;
  for (let i = 0; i < path.length && part; i++) {
    const num = path[i]!;
    const last = i === path.length - 1;
    if (part.contentType.type === 'multipart') part = part.children[num - 1] ?? null;
    else if (num !== 1 || (!last && !part.message)) part = null;
    if (part?.message && !last) part = part.message;
  }
  return part;
}

/**
 * Fields of the header block raw[start, end) whose names are (not, when `exclude`) in `names`,
 * then an empty line — except for HEADER.FIELDS.NOT of a header that has no empty line (a
 * message without a body), which Dovecot returns without one.
 */
export function headerFieldsSection(raw: Buffer, start: number, end: number, names: readonly string[], exclude: boolean, blankLine = true): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const chunks: Buffer[] = [];
  forEachField(
    raw,
    start,
    end,
    (field) => {
      if (wanted.has(field.name) === exclude) return;
      chunks.push(raw.subarray(field.start, field.next));
      if (field.next === field.end) chunks.push(CRLF); // the last line had no line break
    },
    exclude ? undefined : wanted,
  );
  if (blankLine || !exclude) chunks.push(CRLF);
  return Buffer.concat(chunks);
}

/**
 * The bytes of a BODY[section] (see the file comment); a view into `raw` where possible.
 *
 * @example
 *   bodySection(raw, root, { part: [] , kind: 'HEADER' });                              // header + empty line
 *   bodySection(raw, root, { part: [2, 1] });                                          // body of part 2.1
 *   bodySection(raw, root, { part: [], kind: 'HEADER.FIELDS', fields: ['Subject'] }); // "Subject: ...\r\n\r\n"
 */
export function bodySection(raw: Buffer, root: MimePart, spec: SectionSpec): Buffer {
  const part = findPart(root, spec.part);
  if (!part) return EMPTY;
  const kind = spec.kind;
  if (kind === undefined) return spec.part.length === 0 ? raw : raw.subarray(part.bodyStart, part.bodyEnd);
  if (kind === 'MIME') return spec.part.length === 0 ? EMPTY : raw.subarray(part.headerStart, part.bodyStart);
  // HEADER*, TEXT: of the message itself, or of the message embedded in a message/rfc822 part
  const message = spec.part.length === 0 ? part : part.message;
  if (!message) return EMPTY;
  switch (kind) {
    case 'HEADER':
      return raw.subarray(message.headerStart, message.bodyStart);
    case 'TEXT':
      return raw.subarray(message.bodyStart, message.bodyEnd);
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return headerFieldsSection(raw, message.headerStart, message.headerEnd, spec.fields ?? [], kind === 'HEADER.FIELDS.NOT', message.bodyStart > message.headerEnd);
  }
}

/** BODY[...]<start.length>: the octets from `start` (none past the end), at most `length` of them. */
export function partial(data: Buffer, start: number, length?: number): Buffer {
  if (start >= data.length) return EMPTY;
  return data.subarray(start, length === undefined ? data.length : Math.min(data.length, start + length));
}
