import type { PluginDns } from '@postern/sdk';
import { dnsError, withTimeout } from '@postern/sdk/net';
import type { ReturnCodes } from './return-codes.js';

/** One zone's answer for one client. `ttl`: the lowest TTL (seconds) of the A answers. */
export type ZoneLookup =
  | { status: 'listed'; answers: string[]; reason?: string; ttl: number }
  /** A answers, none of them counted by returnCodes. */
  | { status: 'clear'; ttl: number }
  /** NXDOMAIN or NODATA: not listed (kept for the negative TTL). */
  | { status: 'absent' }
  /** Timeout, SERVFAIL, refused...: treated as not listed, and not cached. */
  | { status: 'error'; error: string };

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
 * Ask `name` (the reversed client IP under the zone) for A records with their TTLs (a DNSBL
 * answers A for IPv6 clients too, RFC 5782 section 2.4), keep those `codes` counts, and on a hit
 * fetch the TXT record of the same name for the reason. Each query has its own `timeoutMs`; a
 * TXT failure only loses the reason.
 */
export async function lookupZone(dns: PluginDns, name: string, codes: ReturnCodes, timeoutMs: number): Promise<ZoneLookup> {
  let all: Array<{ address: string; ttl: number }>;
  try {
    all = await withTimeout(dns.resolve4(name, { ttl: true }), timeoutMs, () => dnsError('ETIMEOUT', name, 'A'));
  } catch (err) {
    return isNotListed(err) ? { status: 'absent' } : { status: 'error', error: describe(err) };
  }
  const ttl = all.length === 0 ? 0 : Math.min(...all.map((a) => (Number.isFinite(a.ttl) && a.ttl > 0 ? a.ttl : 0)));
  const answers = all.map((a) => a.address).filter((a) => codes.matches(a));
  if (answers.length === 0) return all.length === 0 ? { status: 'absent' } : { status: 'clear', ttl };
  const reason = await withTimeout(dns.resolveTxt(name), timeoutMs, () => dnsError('ETIMEOUT', name, 'TXT')).then(cleanReason, () => undefined);
  return reason === undefined ? { status: 'listed', answers, ttl } : { status: 'listed', answers, reason, ttl };
}

/**
 * How long (ms) to keep `result`: A answers for their TTL within [minSeconds, maxSeconds];
 * NXDOMAIN/NODATA for `negativeSeconds` (at most `maxSeconds`); errors not at all.
 */
export function lifetimeMs(result: ZoneLookup, cache: { minSeconds: number; maxSeconds: number; negativeSeconds: number }): number {
  if (result.status === 'error') return 0;
  if (result.status === 'absent') return Math.min(cache.negativeSeconds, cache.maxSeconds) * 1000;
  return Math.min(Math.max(result.ttl, cache.minSeconds), cache.maxSeconds) * 1000;
}
