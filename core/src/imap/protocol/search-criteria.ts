import type { SearchKey } from '../mime/search.js';
import type { ArgReader } from './arg-reader.js';
import { parseSearchDate } from './date-time.js';
import { bad } from './protocol-error.js';
import { normalizeRanges, parseSequenceSet } from './sequence-set.js';

/**
 * SEARCH criteria (RFC 3501 6.4.4, MODSEQ from RFC 7162 3.1.5) → a SearchKey for mime/search.ts.
 * Sequence sets are resolved here ("*" is the last message / the highest UID of the view).
 */

export interface ParsedSearch {
  /** The CHARSET argument, upper-cased (undefined: none given). */
  charset: string | undefined;
  key: SearchKey;
  /** The criteria use MODSEQ: the response carries the highest mod-sequence found. */
  usesModseq: boolean;
}

/** Nesting deeper than this (NOT NOT NOT ..., parentheses) is refused before it costs stack. */
const MAX_DEPTH = 64;

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};

const HEADER_KEYS: Record<string, string> = { BCC: 'Bcc', CC: 'Cc', FROM: 'From', SUBJECT: 'Subject', TO: 'To' };

const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
};

export function parseSearch(args: ArgReader, view: { exists: number; maxUid: number }): ParsedSearch {
  let charset: string | undefined;
  if (args.acceptWord('CHARSET')) {
    args.sp();
    charset = args.astring('a charset').toString('latin1').toUpperCase();
    args.sp();
  }
  const state = { usesModseq: false };
  const keys: SearchKey[] = [];
  do keys.push(searchKey(args, view, state, 0));
  while (args.more());
  return { charset, key: keys.length === 1 ? keys[0]! : { op: 'and', keys }, usesModseq: state.usesModseq };
}

function searchKey(args: ArgReader, view: { exists: number; maxUid: number }, state: { usesModseq: boolean }, depth: number): SearchKey {
  if (depth > MAX_DEPTH) throw bad('Search criteria nested too deeply');
  if (args.peek() === 0x28) {
    const keys = args.list(() => searchKey(args, view, state, depth + 1), false);
    return keys.length === 1 ? keys[0]! : { op: 'and', keys };
  }
  if (args.atSequenceSet()) {
    return { op: 'seq', ranges: normalizeRanges(parseSequenceSet(args.sequenceSetText()), view.exists) };
  }
  const name = args.atom('a search key').toUpperCase();
  const flag = FLAG_KEYS[name];
  if (flag) return { op: 'flag', flag: flag[0], set: flag[1] };
  const header = HEADER_KEYS[name];
  if (header) {
    args.sp();
    return { op: 'header', field: header, value: text(args) };
  }
  const date = DATE_KEYS[name];
  if (date) {
    args.sp();
    return { op: 'date', which: date[0], cmp: date[1], date: parseSearchDate(args.astring('a date').toString('latin1')) };
  }
  switch (name) {
    case 'ALL':
      return { op: 'all' };
    case 'NEW':
      return { op: 'new' };
    case 'OLD':
      return { op: 'recent', set: false };
    case 'RECENT':
      return { op: 'recent', set: true };
    case 'KEYWORD':
    case 'UNKEYWORD':
      args.sp();
      return { op: 'flag', flag: args.atom('a keyword'), set: name === 'KEYWORD' };
    case 'BODY':
      args.sp();
      return { op: 'body', value: text(args) };
    case 'TEXT':
      args.sp();
      return { op: 'text', value: text(args) };
    case 'HEADER': {
      args.sp();
      const field = args.astring('a header field name').toString('latin1');
      args.sp();
      return { op: 'header', field, value: text(args) };
    }
    case 'LARGER':
    case 'SMALLER':
      args.sp();
      return { op: 'size', cmp: name === 'LARGER' ? 'larger' : 'smaller', n: args.number('a size') };
    case 'NOT':
      args.sp();
      return { op: 'not', key: searchKey(args, view, state, depth + 1) };
    case 'OR': {
      args.sp();
      const a = searchKey(args, view, state, depth + 1);
      args.sp();
      const b = searchKey(args, view, state, depth + 1);
      return { op: 'or', a, b };
    }
    case 'UID':
      args.sp();
      return { op: 'uid', ranges: normalizeRanges(parseSequenceSet(args.sequenceSetText()), view.maxUid) };
    case 'MODSEQ': {
      args.sp();
      if (args.peek() === 0x22) {
        // entry-name SP entry-type-req: per-flag mod-sequences, which Postern does not keep apart.
        args.string('an entry name');
        args.sp();
        const type = args.atom('an entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw bad('Bad entry type');
        args.sp();
      }
      state.usesModseq = true;
      return { op: 'modseq', min: args.modseq() };
    }
    default:
      throw bad(`Unknown search key ${name.slice(0, 40)}`);
  }
}

/** A search string (astring), as text. */
function text(args: ArgReader): string {
  return args.astring('a search string').toString('utf8');
}
