import { isIP } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The address as a DNSBL sees it: an IPv4-mapped IPv6 client (`::ffff:1.2.3.4`, as dual-stack
 * listeners report IPv4 clients) is the IPv4 address. '' for anything that is not an IP.
 */
export function normaliseIp(ip: string): string {
  const plain = MAPPED_V4.exec(ip)?.[1] ?? ip;
  return isIP(plain) === 0 ? '' : plain;
}

/** The 8 hextets of an IPv6 address, "::" expanded and embedded IPv4 tails converted. */
function hextets(ip: string): string[] {
  let text = ip.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right];
}

/**
 * The DNSBL query label for a client: IPv4 octets reversed (1.2.3.4 -> "4.3.2.1"), IPv6 as 32
 * reversed nibbles (RFC 5782 section 2.4). Undefined when `ip` is not an IP address.
 * @example
 * reverseIp('2001:db8::1') // "1.0.0.0. ... .8.b.d.0.1.0.0.2"
 */
export function reverseIp(ip: string): string | undefined {
  const address = normaliseIp(ip);
  if (address === '') return undefined;
  if (isIP(address) === 4) return address.split('.').reverse().join('.');
  const nibbles = hextets(address)
    .map((h) => h.padStart(4, '0'))
    .join('')
    .split('');
  return nibbles.reverse().join('.');
}
