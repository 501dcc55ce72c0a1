import { bad } from './protocol-error.js';

/**
 * Sequence sets (RFC 3501 9: `1:3,5,7:*`). Parsing keeps "*" symbolic; resolving needs the
 * mailbox: for message sequence numbers "*" is the number of messages, for UIDs the highest UID.
 */

/** One range; `null` stands for "*". Not necessarily low-to-high ("5:1" is valid). */
export type SequenceRange = [number | null, number | null];

export function parseSequenceSet(text: string): SequenceRange[] {
  const ranges: SequenceRange[] = [];
  for (const item of text.split(',')) {
    const parts = item.split(':');
    if (parts.length > 2) throw bad('Bad sequence set');
    const a = parseNumber(parts[0]!);
    const b = parts.length === 2 ? parseNumber(parts[1]!) : a;
    ranges.push([a, b]);
  }
  return ranges;
}

function parseNumber(text: string): number | null {
  if (text === '*') return null;
  if (!/^[1-9]\d{0,9}$/.test(text)) throw bad('Bad sequence set');
  const value = Number(text);
  if (value > 0xffffffff) throw bad('Bad sequence set');
  return value;
}

/** Whether the set uses "*" (for SEARCH, which must resolve it against the current mailbox). */
export function usesStar(ranges: SequenceRange[]): boolean {
  return ranges.some(([a, b]) => a === null || b === null);
}

/** Low-to-high inclusive ranges with "*" replaced by `star`. */
export function normalizeRanges(ranges: SequenceRange[], star: number): Array<[number, number]> {
  return ranges.map(([a, b]) => {
    const x = a ?? star;
    const y = b ?? star;
    return x <= y ? [x, y] : [y, x];
  });
}

/**
 * Message sequence numbers (1-based, ascending, unique) of a set in a mailbox of `exists`
 * messages. A number beyond `exists` is BAD (RFC 3501 9: seq-number), except in a range to "*"
 * (`5:*` in a mailbox of 3 is `3:5`, that is 3; in an empty mailbox, nothing).
 */
export function resolveSequenceNumbers(ranges: SequenceRange[], exists: number): number[] {
  for (const [a, b] of ranges) {
    if (a !== null && b !== null && Math.max(a, b) > exists) throw bad('Invalid message sequence number');
  }
  if (exists === 0) return [];
  const marks = new Uint8Array(exists + 1);
  for (const [x, y] of normalizeRanges(ranges, exists)) marks.fill(1, Math.min(x, exists), Math.min(y, exists) + 1);
  const out: number[] = [];
  for (let i = 1; i <= exists; i++) if (marks[i]) out.push(i);
  return out;
}

/**
 * Indexes (0-based) into `uids` (ascending) of the UIDs a UID set names. "*" is the highest UID
 * in the mailbox, so `n:*` always names at least the last message when there is one.
 */
export function resolveUidIndexes(ranges: SequenceRange[], uids: readonly number[]): number[] {
  if (uids.length === 0) return [];
  const star = uids[uids.length - 1]!;
  const spans = normalizeRanges(ranges, star).sort((p, q) => p[0] - q[0]);
  const out: number[] = [];
  let last = -1;
  for (const [x, y] of spans) {
    let i = Math.max(lowerBound(uids, x), last + 1);
    for (; i < uids.length && uids[i]! <= y; i++) out.push(i);
    last = Math.max(last, i - 1);
  }
  return out;
}

/** First index whose value is >= `value` (ascending array). */
export function lowerBound(values: readonly number[], value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A compact set (`1:3,5`) of numbers, ranges made of runs of consecutive values in the given order. */
export function formatSequenceSet(values: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < values.length) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    out.push(j === i ? String(values[i]) : `${values[i]}:${values[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
