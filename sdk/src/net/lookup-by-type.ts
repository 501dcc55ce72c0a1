import type { PluginDns } from '../plugin.js';
import { withTimeout } from './with-timeout.js';

/**
 * A DNS error the way Node's resolver and mailauth shape them: `code` (ENOTFOUND, ENODATA,
 * ETIMEOUT, ESERVFAIL...), `hostname`, and the message "query RRTYPE NAME: CODE".
 * @example
 * throw dnsError('ENODATA', 'example.test', 'SRV');
 */
export function dnsError(code: string, name: string, rrtype: string): Error & { code: string; hostname: string } {
  return Object.assign(new Error(`query ${rrtype} ${name}: ${code}`), { code, hostname: name });
}

/** A `(name, rrtype)` resolver, as mailauth's `resolver` option takes it. */
export type ResolveByType = (name: string, rrtype: string) => Promise<unknown[]>;

/**
 * mailauth's `resolver(name, rrtype)` over `api.dns` (DKIM, ARC, DMARC and SPF need no more):
 * A, AAAA, MX, TXT and PTR (the type in any case), answered as Node's resolver answers them; any
 * other type rejects with ENODATA. Each query that does not settle within `timeoutMs` rejects with
 * ETIMEOUT (`dnsError`); other errors are the resolver's own (ENOTFOUND, ENODATA, ESERVFAIL...).
 * @example
 * const resolver = lookupByType(api.dns, 3000);
 * const result = await spf({ sender, ip, helo, mta, resolver });
 */
export function lookupByType(dns: PluginDns, timeoutMs: number): ResolveByType {
  return (name, rrtype) => {
    const type = rrtype.toUpperCase();
    const ask = (query: () => Promise<unknown[]>) => withTimeout(query(), timeoutMs, () => dnsError('ETIMEOUT', name, type));
    switch (type) {
      case 'A':
        return ask(() => dns.resolve4(name));
      case 'AAAA':
        return ask(() => dns.resolve6(name));
      case 'MX':
        return ask(() => dns.resolveMx(name));
      case 'TXT':
        return ask(() => dns.resolveTxt(name));
      case 'PTR':
        return ask(() => dns.resolvePtr(name));
      default:
        return Promise.reject(dnsError('ENODATA', name, type));
    }
  };
}
