import { isIP } from 'node:net';

/**
 * The 8 hextets of an IPv6 address, each as 4 lower-case hex digits: "::" expanded, an embedded
 * IPv4 tail (`::ffff:1.2.3.4`) converted, a zone (`%eth0`) dropped. Undefined when `ip` is not an
 * IPv6 address.
 * @example
 * ipv6Hextets('2001:db8::1')      // ['2001', '0db8', '0000', '0000', '0000', '0000', '0000', '0001']
 * ipv6Hextets('::ffff:192.0.2.1') // ['0000', '0000', '0000', '0000', '0000', 'ffff', 'c000', '0201']
 */
export function ipv6Hextets(ip: string): string[] | undefined {
  if (isIP(ip) !== 6) return undefined;
  let text = ip.replace(/%.*$/, '').toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((h) => h.padStart(4, '0'));
}
