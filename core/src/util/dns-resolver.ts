import { Resolver } from 'node:dns/promises';
import { ErrorCode, PosternError } from '../errors.js';

export interface DnsSettings {
  /** Resolvers, as config `dns.servers` ("127.0.0.1:5353", "[::1]:53"); empty = the system's. */
  servers?: readonly string[];
  /** Per-try timeout, as config `dns.timeoutMs`. */
  timeoutMs?: number;
}

/**
 * A DNS resolver configured like the rest of the server (config `dns`), so tests and admins can
 * point every lookup at one server.
 * @example
 * const resolver = createResolver(config.dns);
 * await resolver.resolveMx('example.com');
 */
export function createResolver(settings: DnsSettings = {}): Resolver {
  const resolver = new Resolver({ timeout: settings.timeoutMs ?? 5000, tries: 2 });
  if (settings.servers && settings.servers.length > 0) {
    try {
      resolver.setServers([...settings.servers]);
    } catch (err) {
      throw new PosternError(ErrorCode.CONFIG_INVALID, `dns.servers: ${(err as Error).message}`, { key: 'dns.servers' }, { cause: err });
    }
  }
  return resolver;
}
