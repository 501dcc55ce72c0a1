import { isIP } from 'node:net';

export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * An IPv4 client on a dual-stack socket shows up as `::ffff:1.2.3.4`; compare it as the IPv4
 * address the admin wrote in the list. Returns '' for anything that is not an IP.
 */
export function normaliseIp(ip: string): string {
  const mapped = MAPPED_V4.exec(ip);
  const plain = mapped?.[1] ?? ip;
  return isIP(plain) === 0 ? '' : plain;
}

/** Parse "10.0.0.0/8", "2001:db8::/32" or a single address (a /32 or /128); undefined if invalid. */
export function parseNetwork(entry: string): Network | undefined {
  const [rawAddress = '', rawPrefix, extra] = entry.trim().split('/');
  if (extra !== undefined) return undefined;
  const address = normaliseIp(rawAddress);
  if (address === '') return undefined;
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  if (rawPrefix === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(rawPrefix)) return undefined;
  let prefix = Number(rawPrefix);
  // "::ffff:10.0.0.0/104" is the IPv4 /8 written in mapped form.
  if (family === 'ipv4' && address !== rawAddress) prefix -= 96;
  return prefix >= 0 && prefix <= max ? { address, prefix, family } : undefined;
}
