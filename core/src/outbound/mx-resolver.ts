import type { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** One host to try, with its addresses (IPv4 first). */
export interface MxHost {
  /** The MX name (or the domain itself for an implicit MX), for logs, TLS SNI and DSNs. */
  name: string;
  addresses: string[];
  preference: number;
}

/** Where a domain's mail goes, or why it cannot go anywhere (now or ever). */
export type MxResult =
  | { ok: true; hosts: MxHost[] }
  | { ok: false; permanent: boolean; code: number; enhanced: string; message: string };

/** DNS answers that mean "this name does not exist / has no such record", as opposed to a failed lookup. */
const NO_DATA = new Set(['ENODATA', 'ENOTFOUND']);

/**
 * Resolve where mail for `domain` goes (RFC 5321 §5.1): its MX hosts, lowest preference first and
 * equal preferences shuffled; without MX records the domain's own A/AAAA (the implicit MX); a
 * null MX (RFC 7505, a single "." exchange) means the domain takes no mail: a permanent 556
 * 5.1.10. A domain that does not exist fails permanently (5.1.2); a lookup that times out or
 * gets SERVFAIL is temporary (4.4.3), so the message is retried.
 * A domain literal ("[192.0.2.1]") is used as it is.
 */
export async function resolveMx(resolver: Resolver, domain: string, random: () => number = Math.random): Promise<MxResult> {
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain)?.[1];
  if (literal !== undefined) {
    if (isIP(literal)) return { ok: true, hosts: [{ name: domain, addresses: [literal], preference: 0 }] };
    return { ok: false, permanent: true, code: 550, enhanced: '5.1.2', message: `Bad domain literal ${domain}` };
  }

  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOTFOUND') return { ok: false, permanent: true, code: 550, enhanced: '5.1.2', message: `Domain ${domain} does not exist (DNS NXDOMAIN)` };
    if (!NO_DATA.has(code)) return lookupFailed(domain, 'MX', code);
    records = [];
  }

  if (records.length === 1 && (records[0]!.exchange === '' || records[0]!.exchange === '.')) {
    return { ok: false, permanent: true, code: 556, enhanced: '5.1.10', message: `Domain ${domain} does not accept mail (null MX)` };
  }

  if (records.length === 0) {
    const addresses = await addressesOf(resolver, domain);
    if (!Array.isArray(addresses)) return addresses.code === 'ENOTFOUND' || addresses.code === 'ENODATA'
      ? { ok: false, permanent: true, code: 550, enhanced: '5.1.2', message: `Domain ${domain} has no MX and no address records` }
      : lookupFailed(domain, 'A/AAAA', addresses.code);
    return { ok: true, hosts: [{ name: domain, addresses, preference: 0 }] };
  }

  const ordered = shuffleEqual(records.filter((r) => r.exchange !== '' && r.exchange !== '.'), random);
  const hosts: MxHost[] = [];
  let lastFailure = '';
  for (const record of ordered) {
    const addresses = await addressesOf(resolver, record.exchange);
    if (Array.isArray(addresses) && addresses.length > 0) hosts.push({ name: record.exchange, addresses, preference: record.priority });
    else lastFailure = Array.isArray(addresses) ? 'no addresses' : addresses.code;
  }
  if (hosts.length === 0) return { ok: false, permanent: false, code: 451, enhanced: '4.4.4', message: `No address for any MX host of ${domain} (${lastFailure})` };
  return { ok: true, hosts };
}

/** A and AAAA of a name, IPv4 first; an error code when neither lookup answered. */
async function addressesOf(resolver: Resolver, name: string): Promise<string[] | { code: string }> {
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  if (addresses.length > 0) return addresses;
  const failure = [v4, v6].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const code = ((failure?.reason as NodeJS.ErrnoException | undefined)?.code ?? 'ENODATA');
  // One of the two answered "no data" and the other failed: the failure is what matters.
  const codes = [v4, v6].map((r) => (r.status === 'rejected' ? (r.reason as NodeJS.ErrnoException).code ?? '' : 'ENODATA'));
  const real = codes.find((c) => !NO_DATA.has(c));
  return { code: real ?? code };
}

/** Lowest preference first; hosts of equal preference in random order (RFC 5321 §5.1). */
function shuffleEqual<T extends { priority: number }>(records: T[], random: () => number): T[] {
  const keyed = records.map((r) => ({ r, k: random() }));
  keyed.sort((a, b) => a.r.priority - b.r.priority || a.k - b.k);
  return keyed.map((x) => x.r);
}

function lookupFailed(domain: string, what: string, code: string): MxResult {
  return { ok: false, permanent: false, code: 451, enhanced: '4.4.3', message: `DNS lookup of ${what} for ${domain} failed (${code || 'unknown error'})` };
}
