import type { ArgReader } from './arg-reader.js';
import { bad } from './protocol-error.js';

/** FETCH data items (RFC 3501 6.4.5, RFC 7162 for MODSEQ and CHANGEDSINCE). */

export type SectionKind = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

export interface SectionItem {
  type: 'SECTION';
  /** BODY.PEEK, RFC822.HEADER: \Seen is not set. */
  peek: boolean;
  /** Part numbers ([] = the whole message). */
  part: number[];
  kind?: SectionKind;
  /** HEADER.FIELDS (.NOT) names, upper-cased. */
  fields?: string[];
  partial?: { start: number; length: number };
  /** The item's name in the response: `BODY[1.HEADER.FIELDS (FROM)]<0>`, `RFC822.TEXT`... */
  label: string;
}

export type SimpleItem = 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY' | 'UID' | 'MODSEQ';

export type FetchItem = { type: SimpleItem } | SectionItem;

export interface FetchRequest {
  items: FetchItem[];
  /** CHANGEDSINCE modifier: only messages with a higher mod-sequence. */
  changedSince?: number;
}

const SIMPLE = new Set<string>(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODYSTRUCTURE', 'UID', 'MODSEQ']);
const MACROS: Record<string, SimpleItem[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** The item names: letters, digits, ".". */
function itemName(args: ArgReader): string {
  const start = args.pos;
  for (;;) {
    const c = args.peek();
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e) args.pos++;
    else break;
  }
  const name = args.data.toString('latin1', start, args.pos).toUpperCase();
  if (!name) throw bad('Expected a FETCH item');
  return name;
}

/** `att` / `(att *(SP att))` / a macro, then optional modifiers `(CHANGEDSINCE n)`. */
export function parseFetchRequest(args: ArgReader): FetchRequest {
  let items: FetchItem[];
  if (args.peek() === 0x28) {
    items = args.list(() => fetchItem(args), false);
  } else {
    const start = args.pos;
    const name = itemName(args);
    const macro = MACROS[name];
    if (macro && args.peek() !== 0x5b) items = macro.map((type) => ({ type }));
    else {
      args.pos = start;
      items = [fetchItem(args)];
    }
  }
  const request: FetchRequest = { items };
  if (args.more()) {
    args.list(() => {
      if (!args.acceptWord('CHANGEDSINCE')) throw bad('Unknown FETCH modifier');
      args.sp();
      request.changedSince = args.modseq();
    }, false);
  }
  return request;
}

function fetchItem(args: ArgReader): FetchItem {
  const name = itemName(args);
  if (SIMPLE.has(name)) return { type: name as SimpleItem };
  switch (name) {
    case 'RFC822':
      return { type: 'SECTION', peek: false, part: [], label: 'RFC822' };
    case 'RFC822.HEADER':
      return { type: 'SECTION', peek: true, part: [], kind: 'HEADER', label: 'RFC822.HEADER' };
    case 'RFC822.TEXT':
      return { type: 'SECTION', peek: false, part: [], kind: 'TEXT', label: 'RFC822.TEXT' };
    case 'BODY':
      if (args.peek() !== 0x5b) return { type: 'BODY' };
      return section(args, false);
    case 'BODY.PEEK':
      if (args.peek() !== 0x5b) throw bad('BODY.PEEK needs a section');
      return section(args, true);
    default:
      throw bad(`Unknown FETCH item ${name.slice(0, 40)}`);
  }
}

/** `[section]` and an optional `<start.length>`. */
function section(args: ArgReader, peek: boolean): SectionItem {
  args.expect(0x5b, '"["');
  const part: number[] = [];
  let kind: SectionKind | undefined;
  let fields: string[] | undefined;
  if (args.peek() !== 0x5d) {
    for (;;) {
      const c = args.peek();
      if (c >= 0x31 && c <= 0x39) {
        part.push(args.nzNumber('a part number'));
        if (!args.accept(0x2e)) break;
        continue;
      }
      const word = itemName(args);
      if (word === 'HEADER' || word === 'TEXT') kind = word;
      else if (word === 'MIME' && part.length > 0) kind = 'MIME';
      else if (word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT') {
        kind = word;
        args.sp();
        fields = args.list(() => args.astring('a header field name').toString('latin1').toUpperCase(), false);
        for (const f of fields) if (!/^[\x21-\x39\x3b-\x7e]+$/.test(f)) throw bad('Bad header field name');
      } else throw bad('Bad section');
      break;
    }
  }
  args.expect(0x5d, '"]"');
  let partial: { start: number; length: number } | undefined;
  if (args.accept(0x3c)) {
    const start = args.number('a partial start');
    args.expect(0x2e, '"."');
    const length = args.nzNumber('a partial length');
    args.expect(0x3e, '">"');
    partial = { start, length };
  }
  const text = [part.join('.'), kind === 'HEADER.FIELDS' || kind === 'HEADER.FIELDS.NOT' ? `${kind} (${fields!.join(' ')})` : kind]
    .filter((s) => s)
    .join('.');
  const label = `BODY[${text}]${partial ? `<${partial.start}>` : ''}`;
  return { type: 'SECTION', peek, part, ...(kind ? { kind } : {}), ...(fields ? { fields } : {}), ...(partial ? { partial } : {}), label };
}
