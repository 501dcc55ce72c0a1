import { isIP } from 'node:net';
import type { PluginDns } from '@postern/sdk';
import { clientIp, dnsError, ipv6Hextets, reverseDnsName, withTimeout } from '@postern/sdk/net';

/** What the plugin records under `tx.results.get('ptr')`. */
export interface PtrResult {
  /** The forward-confirmed PTR name, else the first PTR name, else null. */
  ptr: string | null;
  /** The name's A records contain the client IP. */
  confirmed: boolean;
  /** Confirmed, and the name is the sender's domain or under it. */
  matches: boolean;
  /** Set when a lookup failed for another reason than NXDOMAIN/NODATA (timeout, SERVFAIL). */
  error?: string;
}

/** One spelling per address: IPv6 as 8 four-digit hextets ("2001:0db8:0000:...:0001"), IPv4 as is. */
export function canonicalIp(ip: string): string {
  return ipv6Hextets(ip)?.join(':') ?? ip;
}

/** The PTR name is the sender's domain or a name under it. */
export function nameMatches(name: string, domain: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const d = domain.toLowerCase().replace(/\.$/, '');
  return d !== '' && (n === d || n.endsWith(`.${d}`));
}

function isNoData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  return typeof e?.code === 'string' ? e.code : String(e?.message ?? err);
}

/**
 * Forward-confirmed reverse DNS: resolvePtr of the arpa name (never dns.reverse, which reads
 * /etc/hosts), then the A (IPv4 client) or AAAA (IPv6 client) records of each name (at most 10)
 * must contain the IP. An IPv4-mapped IPv6 `ip` is checked as the IPv4 address.
 */
export async function checkPtr(dns: PluginDns, rawIp: string, domain: string, timeoutMs: number): Promise<PtrResult> {
  const ip = clientIp(rawIp);
  const arpa = reverseDnsName(ip);
  if (arpa === undefined) return { ptr: null, confirmed: false, matches: false };
  const ask = <T>(query: Promise<T>, name: string, rrtype: string) => withTimeout(query, timeoutMs, () => dnsError('ETIMEOUT', name, rrtype));
  let names: string[];
  try {
    names = await ask(dns.resolvePtr(arpa), arpa, 'PTR');
  } catch (err) {
    return isNoData(err) ? { ptr: null, confirmed: false, matches: false } : { ptr: null, confirmed: false, matches: false, error: describe(err) };
  }
  names = names.map((n) => n.toLowerCase().replace(/\.$/, '')).slice(0, 10);
  if (names.length === 0) return { ptr: null, confirmed: false, matches: false };
  let error: string | undefined;
  const confirmed: string[] = [];
  const v6 = isIP(ip) === 6;
  const want = canonicalIp(ip);
  await Promise.all(
    names.map(async (name) => {
      try {
        const addresses = v6 ? await ask(dns.resolve6(name), name, 'AAAA') : await ask(dns.resolve4(name), name, 'A');
        if (addresses.some((a) => canonicalIp(a) === want)) confirmed.push(name);
      } catch (err) {
        if (!isNoData(err)) error ??= describe(err);
      }
    }),
  );
  const ordered = names.filter((n) => confirmed.includes(n));
  const best = ordered.find((n) => nameMatches(n, domain)) ?? ordered[0];
  if (best !== undefined) return { ptr: best, confirmed: true, matches: nameMatches(best, domain) };
  const result: PtrResult = { ptr: names[0] ?? null, confirmed: false, matches: false };
  if (error !== undefined) result.error = error;
  return result;
}

/** RFC 8601 section 3 "iprev" result of a PTR check. */
export type IprevResult = 'pass' | 'fail' | 'temperror' | 'permerror';

/**
 * pass: forward-confirmed; temperror: a lookup failed (timeout, SERVFAIL) before a confirmation;
 * permerror: no PTR record is published for the address; fail: PTR names, none confirmed.
 */
export function iprevResult(result: PtrResult): IprevResult {
  if (result.confirmed) return 'pass';
  if (result.error !== undefined) return 'temperror';
  return result.ptr === null ? 'permerror' : 'fail';
}
