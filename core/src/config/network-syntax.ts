/**
 * Syntax checks for the network values in postern.yaml (relay.trustedNetworks, dns.servers).
 * They only check the form; whether a resolver answers is found out at run time.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * The CIDR range `value` denotes, normalised to `address/prefix`; a bare address becomes a
 * single-host range (/32 or /128). Undefined when it is not an address or range.
 * @example
 * normalizeCidr('10.0.0.0/8'); // '10.0.0.0/8'
 * normalizeCidr('::1');        // '::1/128'
 */
export function normalizeCidr(value: string): string | undefined {
  const slash = value.indexOf('/');
  const address = slash === -1 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash === -1) return `${address}/${max}`;
  const prefix = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return undefined;
  return `${address}/${Number(prefix)}`;
}

function isPort(value: string): boolean {
  return /^\d{1,5}$/.test(value) && Number(value) >= 1 && Number(value) <= 65535;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/**
 * True for a resolver address: `host`, `host:port`, a bare IPv6 address, `[IPv6]` or `[IPv6]:port`.
 */
export function isDnsServer(value: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) return isIPv6(bracketed[1]!) && (bracketed[2] === undefined || isPort(bracketed[2]));
  if (isIPv6(value)) return true;
  const colon = value.lastIndexOf(':');
  const host = colon === -1 ? value : value.slice(0, colon);
  if (colon !== -1 && !isPort(value.slice(colon + 1))) return false;
  return isIPv4(host) || HOST_NAME.test(host);
}
