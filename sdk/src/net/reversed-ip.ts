import { isIP } from 'node:net';
import { clientIp } from './client-ip.js';
import { ipv6Hextets } from './ipv6-hextets.js';

/**
 * An address reversed for a DNS query: IPv4 octets in reverse order, IPv6 as its 32 nibbles in
 * reverse order (RFC 5782 section 2.4, RFC 3596 section 2.5), no suffix: the label a DNSBL is asked
 * under its zone. An IPv4-mapped IPv6 address counts as the IPv4 address (see `clientIp`).
 * Undefined when `ip` is not an IP address.
 * @example
 * reversedIp('192.0.2.1')        // "1.2.0.192"
 * reversedIp('::ffff:192.0.2.1') // "1.2.0.192"
 * reversedIp('2001:db8::1')      // "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
 */
export function reversedIp(ip: string): string | undefined {
  const address = clientIp(ip);
  if (address === '') return undefined;
  if (isIP(address) === 4) return address.split('.').reverse().join('.');
  return ipv6Hextets(address)?.join('').split('').reverse().join('.');
}

/**
 * The reverse DNS (PTR) name of an address: `reversedIp` under in-addr.arpa (IPv4, IPv4-mapped
 * IPv6 included) or ip6.arpa (IPv6). Undefined when `ip` is not an IP address.
 * @example
 * reverseDnsName('192.0.2.1')   // "1.2.0.192.in-addr.arpa"
 * reverseDnsName('2001:db8::1') // "1.0.0.0. ... .8.b.d.0.1.0.0.2.ip6.arpa"
 */
export function reverseDnsName(ip: string): string | undefined {
  const reversed = reversedIp(ip);
  if (reversed === undefined) return undefined;
  return `${reversed}.${isIP(clientIp(ip)) === 4 ? 'in-addr' : 'ip6'}.arpa`;
}
