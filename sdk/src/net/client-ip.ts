import { isIP } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * A client address as plugins compare it: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, how a
 * dual-stack listener reports an IPv4 client) becomes the IPv4 address, an IPv6 address is
 * lower-cased (one spelling of the hex digits; "::" is not expanded), and anything that is not an
 * IP address gives ''.
 * @example
 * clientIp('::ffff:192.0.2.1') // "192.0.2.1"
 * clientIp('2001:DB8::1')      // "2001:db8::1"
 * clientIp('unknown')          // ""
 */
export function clientIp(ip: string): string {
  const plain = MAPPED_V4.exec(ip)?.[1] ?? ip;
  return isIP(plain) === 0 ? '' : plain.toLowerCase();
}
