import { Resolver } from 'node:dns/promises';
import { ErrorCode, PosternError } from '../../errors.js';

/** The four lookups a sandboxed plugin with the `dns` grant may make. */
export interface SandboxDnsResolver {
  resolve4(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolveTxt(name: string): Promise<string[][]>;
  resolvePtr(name: string): Promise<string[]>;
}

/** The record types, as the sandbox asks for them. */
export type DnsQueryType = 'A' | 'MX' | 'TXT' | 'PTR';

export interface DnsSettings {
  /** Resolvers, as config `dns.servers` ("127.0.0.1:5353", "[::1]:53"); empty = the system's. */
  servers?: readonly string[];
  /** Per-try timeout, as config `dns.timeoutMs`. */
  timeoutMs?: number;
}

/**
 * A resolver for sandboxed plugins, configured like the server's own (config `dns`). Only the four
 * lookups are handed to the sandbox; the Resolver object itself never is.
 */
export function createSandboxResolver(settings: DnsSettings = {}): SandboxDnsResolver {
  const resolver = new Resolver({ timeout: settings.timeoutMs ?? 5000, tries: 2 });
  if (settings.servers && settings.servers.length > 0) {
    try {
      resolver.setServers([...settings.servers]);
    } catch (err) {
      throw new PosternError(ErrorCode.CONFIG_INVALID, `dns.servers: ${(err as Error).message}`, { key: 'dns.servers' }, { cause: err });
    }
  }
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
