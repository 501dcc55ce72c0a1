import { isIP } from 'node:net';
import type { PluginDns } from '@postern/sdk';
import { withTimeout } from './resolver.js';

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

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The client as checked: IPv4-mapped IPv6 is IPv4; '' if not an IP. */
export function normaliseIp(ip: string): string {
  const plain = MAPPED_V4.exec(ip)?.[1] ?? ip;
  return isIP(plain) === 0 ? '' : plain.toLowerCase();
}

/** The 8 hextets of an IPv6 address, "::" expanded and an embedded IPv4 tail converted. */
function hextets(ip: string): string[] {
  let text = ip.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right];
}

/** One spelling per address: IPv6 as 8 four-digit hextets ("2001:0db8:0000:...:0001"), IPv4 as is. */
export function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? hextets(ip).map((h) => h.padStart(4, '0')).join(':') : ip;
}

/** The reverse DNS name: 1.2.3.4 -> 4.3.2.1.in-addr.arpa; IPv6 as 32 nibbles under ip6.arpa. */
export function reverseName(ip: string): string | undefined {
  if (isIP(ip) === 4) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (isIP(ip) !== 6) return undefined;
  const nibbles = hextets(ip)
    .map((h) => h.padStart(4, '0'))
    .join('')
    .split('');
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
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
 * must contain the IP.
 */
export async function checkPtr(dns: PluginDns, ip: string, domain: string, timeoutMs: number): Promise<PtrResult> {
  const arpa = reverseName(ip);
  if (arpa === undefined) return { ptr: null, confirmed: false, matches: false };
  let names: string[];
  try {
    names = await withTimeout(dns.resolvePtr(arpa), timeoutMs, arpa, 'PTR');
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
        const addresses = v6 ? await withTimeout(dns.resolve6(name), timeoutMs, name, 'AAAA') : await withTimeout(dns.resolve4(name), timeoutMs, name, 'A');
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
