import type { OutboundConfig, SmarthostConfig } from '../config/types.js';

/** How mail for one domain leaves: through a relay (a route or the smarthost), or to its MX hosts. */
export type Route = { kind: 'relay'; relay: SmarthostConfig } | { kind: 'mx' };

/**
 * The route for `domain`: a per-domain route from `outbound.routes` first, then the global
 * `outbound.smarthost` (the "default relay"), else direct delivery to the domain's MX hosts.
 */
export function routeFor(domain: string, outbound: OutboundConfig): Route {
  const lower = domain.toLowerCase();
  const route = outbound.routes.find((r) => r.domain.toLowerCase() === lower);
  if (route) return { kind: 'relay', relay: route };
  if (outbound.smarthost) return { kind: 'relay', relay: outbound.smarthost };
  return { kind: 'mx' };
}

/** The domain part of an address, lower case ("" when there is none). */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
