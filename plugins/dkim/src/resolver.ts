import type { PluginDns } from '@postern/sdk';

/** A DNS error with Node's code, as mailauth and Node's resolver give them. */
export function dnsError(code: string, name: string, rrtype: string): Error {
  return Object.assign(new Error(`query ${rrtype} ${name}: ${code}`), { code, hostname: name });
}

function withTimeout<T>(promise: Promise<T>, ms: number, name: string, rrtype: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(dnsError('ETIMEOUT', name, rrtype)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** mailauth's `resolver(name, rrtype)` option. */
export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown[]>;

/**
 * mailauth's resolver over api.dns, each query bounded by `timeoutMs` (ETIMEOUT). DKIM keys,
 * DMARC and ARC need TXT; SPF also A, AAAA, MX and PTR. Any other type answers ENODATA.
 */
export function mailauthResolver(dns: PluginDns, timeoutMs: number): MailauthResolver {
  return (name, rrtype) => {
    const type = rrtype.toUpperCase();
    const ask = (p: () => Promise<unknown[]>) => withTimeout(p(), timeoutMs, name, type);
    switch (type) {
      case 'TXT':
        return ask(() => dns.resolveTxt(name));
      case 'A':
        return ask(() => dns.resolve4(name));
      case 'AAAA':
        return ask(() => dns.resolve6(name));
      case 'MX':
        return ask(() => dns.resolveMx(name));
      case 'PTR':
        return ask(() => dns.resolvePtr(name));
      default:
        return Promise.reject(dnsError('ENODATA', name, type));
    }
  };
}
