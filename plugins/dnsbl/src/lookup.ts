import type { PluginDns } from '@postern/sdk';
import type { ReturnCodes } from './return-codes.js';

/** One zone's answer for one client. */
export type ZoneLookup =
  | { status: 'listed'; answers: string[]; reason?: string }
  | { status: 'clear' }
  /** Timeout, SERVFAIL, refused...: treated as not listed, and not cached. */
  | { status: 'error'; error: string };

class LookupTimeout extends Error {
  readonly code = 'ETIMEOUT';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LookupTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** NXDOMAIN and NODATA are the list saying "not listed"; every other error is the lookup failing. */
function isNotListed(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === 'string' ? e.code : String(e?.message ?? err);
}

/**
 * A TXT reason fit for an SMTP reply: the strings of each record joined, records joined with
 * "; ", control characters dropped, at most 200 characters (it comes from a third party).
 */
export function cleanReason(records: string[][]): string | undefined {
  const text = records
    .map((strings) => strings.join(''))
    .join('; ')
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .trim();
  if (text === '') return undefined;
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/**
 * Ask `name` (the reversed client IP under the zone) for A records, keep those `codes` counts,
 * and on a hit fetch the TXT record of the same name for the reason. Each query has its own
 * `timeoutMs`; a TXT failure only loses the reason.
 */
export async function lookupZone(dns: PluginDns, name: string, codes: ReturnCodes, timeoutMs: number): Promise<ZoneLookup> {
  let all: string[];
  try {
    all = await withTimeout(dns.resolve4(name), timeoutMs);
  } catch (err) {
    return isNotListed(err) ? { status: 'clear' } : { status: 'error', error: describe(err) };
  }
  const answers = all.filter((a) => codes.matches(a));
  if (answers.length === 0) return { status: 'clear' };
  const reason = await withTimeout(dns.resolveTxt(name), timeoutMs).then(cleanReason, () => undefined);
  return reason === undefined ? { status: 'listed', answers } : { status: 'listed', answers, reason };
}
