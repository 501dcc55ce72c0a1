import { createResolver, type DnsSettings } from '../../util/dns-resolver.js';

export type { DnsSettings };

/** The four lookups a sandboxed plugin with the `dns` grant may make. */
export interface SandboxDnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolveTxt(name: string): Promise<string[][]>;
  resolvePtr(name: string): Promise<string[]>;
}

/** The record types, as the sandbox asks for them. */
export type DnsQueryType = 'A' | 'MX' | 'TXT' | 'PTR';

/**
 * A resolver for sandboxed plugins, configured like the server's own (config `dns`). Only the four
 * lookups are handed to the sandbox; the Resolver object itself never is.
 */
export function createSandboxResolver(settings: DnsSettings = {}): SandboxDnsResolver {
  const resolver = createResolver(settings);
  return {
    resolve4: (name) => resolver.resolve4(name),
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
    case 'MX':
      return resolver.resolveMx(name).then((records) => records.map((r) => ({ exchange: r.exchange, priority: r.priority })));
    case 'TXT':
      return resolver.resolveTxt(name);
    case 'PTR':
      return resolver.resolvePtr(name);
  }
}
