import { isIP } from 'node:net';
import { clientIp } from '@postern/sdk/net';

export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parse "10.0.0.0/8", "2001:db8::/32" or a single address (a /32 or /128); undefined if invalid. */
export function parseNetwork(entry: string): Network | undefined {
  const [rawAddress = '', rawPrefix, extra] = entry.trim().split('/');
  if (extra !== undefined) return undefined;
  // A mapped entry (`::ffff:10.0.0.0`) is the IPv4 network, as dual-stack sockets report IPv4 clients.
  const address = clientIp(rawAddress);
  if (address === '') return undefined;
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  if (rawPrefix === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(rawPrefix)) return undefined;
  let prefix = Number(rawPrefix);
  // "::ffff:10.0.0.0/104" is the IPv4 /8 written in mapped form.
  if (family === 'ipv4' && isIP(rawAddress) === 6) prefix -= 96;
  return prefix >= 0 && prefix <= max ? { address, prefix, family } : undefined;
}
