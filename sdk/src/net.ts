/**
 * `@postern/sdk/net`: small network helpers shared by the first-party plugins (client addresses,
 * reversed-IP names, a mailauth-style DNS resolver over `api.dns`, promise timeouts).
 *
 * TRUSTED PLUGINS ONLY. It imports `node:net`, and a sandboxed plugin can load nothing but the
 * main `@postern/sdk` entry (the sandbox's `require` knows no other module): a sandboxed plugin
 * that imports `@postern/sdk/net` fails to load with MODULE_NOT_FOUND. Kept out of the main entry
 * for that reason.
 * @example
 * import { clientIp, reversedIp } from '@postern/sdk/net';
 * const label = reversedIp(clientIp(session.remoteAddress)); // "4.3.2.1" for ::ffff:1.2.3.4
 */
export { clientIp } from './net/client-ip.js';
export { ipv6Hextets } from './net/ipv6-hextets.js';
export { reverseDnsName, reversedIp } from './net/reversed-ip.js';
export { dnsError, lookupByType } from './net/lookup-by-type.js';
export type { ResolveByType } from './net/lookup-by-type.js';
export { withTimeout } from './net/with-timeout.js';
