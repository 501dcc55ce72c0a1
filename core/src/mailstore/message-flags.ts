import { MailStoreError } from './mail-store.js';

/**
 * Message flags three ways: as IMAP writes them (\Seen, $Forwarded), as bits in the index (the
 * five system flags), and as the letters of a Maildir file name's info (":2,FRS"). Keywords live
 * only in the index; the file name carries the system flags, so another Maildir reader sees them.
 */

export const SEEN = 1;
export const ANSWERED = 2;
export const FLAGGED = 4;
export const DELETED = 8;
export const DRAFT = 16;

/** System flag → bit, keyed by the lower-cased name (IMAP flags are case-insensitive). */
const SYSTEM: ReadonlyMap<string, { flag: string; bit: number }> = new Map(
  [
    ['\\Seen', SEEN],
    ['\\Answered', ANSWERED],
    ['\\Flagged', FLAGGED],
    ['\\Deleted', DELETED],
    ['\\Draft', DRAFT],
  ].map(([flag, bit]) => [String(flag).toLowerCase(), { flag: String(flag), bit: Number(bit) }]),
);

/** The flags in IMAP's usual order, for the lists handed out. */
const ORDER: ReadonlyArray<[number, string]> = [
  [SEEN, '\\Seen'],
  [ANSWERED, '\\Answered'],
  [FLAGGED, '\\Flagged'],
  [DELETED, '\\Deleted'],
  [DRAFT, '\\Draft'],
];

/** Maildir info letters (https://cr.yp.to/proto/maildir.html) of the system flags. */
const LETTERS: ReadonlyArray<[number, string]> = [
  [DRAFT, 'D'],
  [FLAGGED, 'F'],
  [ANSWERED, 'R'],
  [SEEN, 'S'],
  [DELETED, 'T'],
];

/** RFC 3501 atom-specials plus "]" (flag-keyword is an atom); CTL and SP are covered by the range. */
// eslint-disable-next-line no-control-regex
const NOT_KEYWORD = /[\x00-\x20\x7f-\uffff(){%*"\\\]]/;

export interface ParsedFlags {
  bits: number;
  /** Keywords without duplicates (compared case-insensitively, first spelling kept). */
  keywords: string[];
}

/**
 * Parse flags from IMAP. \Recent is dropped (it is the session's, never stored); another
 * backslash flag or a keyword that is not an atom is refused (CANNOT), since it could not be
 * written back in a FETCH response.
 */
export function parseFlags(flags: readonly string[]): ParsedFlags {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    const system = SYSTEM.get(lower);
    if (system) {
      bits |= system.bit;
    } else if (lower === '\\recent') {
      continue;
    } else if (flag === '' || flag.startsWith('\\') || NOT_KEYWORD.test(flag)) {
      throw new MailStoreError('CANNOT', `cannot store the flag ${JSON.stringify(flag)}`);
    } else if (!seen.has(lower)) {
      seen.add(lower);
      keywords.push(flag);
    }
  }
  return { bits, keywords };
}

/** The flags of a message as StoredMessage.flags lists them: system flags first, then keywords. */
export function flagList(bits: number, keywords: readonly string[]): string[] {
  const list: string[] = [];
  for (const [bit, flag] of ORDER) if (bits & bit) list.push(flag);
  return keywords.length === 0 ? list : list.concat(keywords);
}

/** Apply a STORE: replace, add or remove. */
export function changeFlags(current: ParsedFlags, mode: 'set' | 'add' | 'remove', change: ParsedFlags): ParsedFlags {
  if (mode === 'set') return { bits: change.bits, keywords: change.keywords };
  if (change.keywords.length === 0) return { bits: mode === 'add' ? current.bits | change.bits : current.bits & ~change.bits, keywords: current.keywords };
  if (mode === 'add') {
    const have = new Set(current.keywords.map((k) => k.toLowerCase()));
    const added = change.keywords.filter((k) => !have.has(k.toLowerCase()));
    return { bits: current.bits | change.bits, keywords: added.length === 0 ? current.keywords : current.keywords.concat(added) };
  }
  const drop = new Set(change.keywords.map((k) => k.toLowerCase()));
  return { bits: current.bits & ~change.bits, keywords: drop.size === 0 ? current.keywords : current.keywords.filter((k) => !drop.has(k.toLowerCase())) };
}

export function sameFlags(a: ParsedFlags, b: ParsedFlags): boolean {
  return a.bits === b.bits && a.keywords.length === b.keywords.length && a.keywords.every((k, i) => k === b.keywords[i]);
}

/** The system flags of a Maildir info (":2,FS" → FLAGGED|SEEN); experimental ":1," infos carry none. */
export function bitsFromInfo(info: string): number {
  if (!info.startsWith(':2,')) return 0;
  let bits = 0;
  for (const [bit, letter] of LETTERS) if (info.includes(letter, 3)) bits |= bit;
  return bits;
}

/** The info of each combination of system flags, letters in ASCII order ("D F R S T"). */
const INFOS = Array.from({ length: 32 }, (_, bits) => `:2,${LETTERS.filter(([bit]) => bits & bit).map(([, letter]) => letter).join('')}`);
const STANDARD_INFO = /^(?::2,[DFRST]*)?$/;

/**
 * The info for a file with these system flags: ":2," and the letters in ASCII order, as the
 * Maildir rules ask. Letters Postern does not interpret (P for passed, Dovecot's lower-case
 * keyword letters) are kept from the old info.
 */
export function infoForBits(bits: number, oldInfo = ''): string {
  if (STANDARD_INFO.test(oldInfo)) return INFOS[bits & 31]!;
  const letters = new Set<string>();
  if (oldInfo.startsWith(':2,')) for (const letter of oldInfo.slice(3)) letters.add(letter);
  for (const [bit, letter] of LETTERS) {
    if (bits & bit) letters.add(letter);
    else letters.delete(letter);
  }
  return `:2,${[...letters].sort().join('')}`;
}
