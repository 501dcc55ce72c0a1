import { createResolver, type DnsSettings } from '../../util/dns-resolver.js';

export type { DnsSettings };

/** An address with its TTL in seconds. */
export interface AddressWithTtl {
  address: string;
  ttl: number;
}

/** The lookups a sandboxed plugin with the `dns` grant may make. */
export interface SandboxDnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolve4(name: string, options: { ttl: true }): Promise<AddressWithTtl[]>;
  resolve6(name: string): Promise<string[]>;
  resolve6(name: string, options: { ttl: true }): Promise<AddressWithTtl[]>;
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolveTxt(name: string): Promise<string[][]>;
  resolvePtr(name: string): Promise<string[]>;
}

import type { DnsQueryType } from './sandbox-protocol.js';

export type { DnsQueryType };

/**
 * The lookups a plugin gets, over a resolver configured like the server's own (config `dns`).
 * Only these functions are handed out; the Resolver object itself never is, so a plugin cannot
 * change the servers for everyone.
 */
export function createSandboxResolver(settings: DnsSettings = {}): SandboxDnsResolver {
  const resolver = createResolver(settings);
  const resolve4 = (name: string, options?: { ttl: true }) => (options?.ttl ? resolver.resolve4(name, { ttl: true }) : resolver.resolve4(name));
  const resolve6 = (name: string, options?: { ttl: true }) => (options?.ttl ? resolver.resolve6(name, { ttl: true }) : resolver.resolve6(name));
  return {
    resolve4: resolve4 as SandboxDnsResolver['resolve4'],
    resolve6: resolve6 as SandboxDnsResolver['resolve6'],
    resolveMx: (name) => resolver.resolveMx(name),
    resolveTxt: (name) => resolver.resolveTxt(name),
    resolvePtr: (name) => resolver.resolvePtr(name),
  };
}

/** Run one lookup by type; the result is plain data (copied into the sandbox as JSON). */
export function dnsQuery(resolver: SandboxDnsResolver, type: DnsQueryType, name: string): Promise<unknown> {
  switch (type) {
    case 'A':
      return resolver.resolve4(name);
    case 'AAAA':
      return resolver.resolve6(name);
    case 'A+TTL':
      return resolver.resolve4(name, { ttl: true }).then((records) => records.map((r) => ({ address: r.address, ttl: r.ttl })));
    case 'AAAA+TTL':
      return resolver.resolve6(name, { ttl: true }).then((records) => records.map((r) => ({ address: r.address, ttl: r.ttl })));
    case 'MX':
      return resolver.resolveMx(name).then((records) => records.map((r) => ({ exchange: r.exchange, priority: r.priority })));
    case 'TXT':
      return resolver.resolveTxt(name);
    case 'PTR':
      return resolver.resolvePtr(name);
  }
}
