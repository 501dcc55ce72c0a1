import type { EnvelopeAddress } from '@postern/sdk';

/** A compiled sender list: `match(address)` gives the entry (as written in config) that matches. */
export interface SenderList {
  match(sender: EnvelopeAddress): string | undefined;
}

export type SenderEntry =
  | { kind: 'address'; value: string }
  | { kind: 'domain'; value: string }
  | { kind: 'subdomains'; value: string };

const DOMAIN = /^[^\s@.]+(\.[^\s@.]+)*$/;

function cleanDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '');
}

/**
 * "user@dom.test" is one address, "@dom.test" exactly that domain, ".dom.test" or "@.dom.test"
 * the domain and every subdomain. Undefined when the entry is none of those (a bare "dom.test"
 * is refused rather than guessed at).
 */
export function parseSender(raw: string): SenderEntry | undefined {
  const entry = raw.trim();
  if (entry.startsWith('@.') || entry.startsWith('.')) {
    const value = cleanDomain(entry.slice(entry.startsWith('@') ? 2 : 1));
    return DOMAIN.test(value) ? { kind: 'subdomains', value } : undefined;
  }
  if (entry.startsWith('@')) {
    const value = cleanDomain(entry.slice(1));
    return DOMAIN.test(value) ? { kind: 'domain', value } : undefined;
  }
  const at = entry.lastIndexOf('@');
  if (at <= 0 || /\s/.test(entry)) return undefined;
  const domain = cleanDomain(entry.slice(at + 1));
  if (!DOMAIN.test(domain)) return undefined;
  return { kind: 'address', value: `${entry.slice(0, at).toLowerCase()}@${domain}` };
}

/**
 * Three maps, looked up most specific first: the address, its domain, then the domain and each
 * parent for subdomain entries. A lookup costs one probe per label, whatever the list's length.
 * Matching is case-insensitive throughout (local parts too: no mail system in practice treats
 * "Bob@" and "bob@" as different people, and a list that missed one would be a hole).
 */
export function compileSenders(entries: readonly string[]): SenderList {
  const addresses = new Map<string, string>();
  const domains = new Map<string, string>();
  const subdomains = new Map<string, string>();
  for (const entry of entries) {
    const parsed = parseSender(entry);
    if (!parsed) continue;
    const map = parsed.kind === 'address' ? addresses : parsed.kind === 'domain' ? domains : subdomains;
    // The first entry wins, so the name in results is the one highest in the admin's list.
    if (!map.has(parsed.value)) map.set(parsed.value, entry);
  }
  return {
    match(sender: EnvelopeAddress): string | undefined {
      // The null sender (bounces) has no address to list; it is never matched.
      const at = sender.address.lastIndexOf('@');
      if (at <= 0) return undefined;
      const domain = cleanDomain(sender.domain || sender.address.slice(at + 1));
      const address = `${sender.address.slice(0, at).toLowerCase()}@${domain}`;
      const exact = addresses.get(address) ?? domains.get(domain);
      if (exact !== undefined) return exact;
      for (let d = domain; d !== ''; d = d.includes('.') ? d.slice(d.indexOf('.') + 1) : '') {
        const hit = subdomains.get(d);
        if (hit !== undefined) return hit;
      }
      return undefined;
    },
  };
}
