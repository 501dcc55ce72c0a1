import { isIP } from 'node:net';

/** A compiled `returnCodes` list: `matches(answer)` says whether an A answer counts as listed. */
export interface ReturnCodes {
  matches(answer: string): boolean;
}

function toNumber(ip: string): number | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** "127.0.0.2" or "127.0.0.4-127.0.0.11" as an inclusive [low, high]; undefined if invalid. */
export function parseReturnCode(entry: string): [number, number] | undefined {
  const [first = '', last, extra] = entry.trim().split('-');
  if (extra !== undefined) return undefined;
  const low = toNumber(first.trim());
  const high = last === undefined ? low : toNumber(last.trim());
  if (low === undefined || high === undefined || high < low) return undefined;
  return [low, high];
}

const LOOPBACK_NET: [number, number] = [0x7f000000, 0x7fffffff];

/**
 * Without `returnCodes`, any answer in 127.0.0.0/8 counts (RFC 5782 section 2.1); answers outside it
 * (a zone that was taken over, or that answers everything with a wildcard) never count.
 */
export function compileReturnCodes(entries: readonly string[] | undefined): ReturnCodes {
  const ranges = entries === undefined ? [LOOPBACK_NET] : entries.map(parseReturnCode).filter((r) => r !== undefined);
  return {
    matches(answer: string): boolean {
      const n = toNumber(answer);
      return n !== undefined && ranges.some(([low, high]) => n >= low && n <= high);
    },
  };
}
