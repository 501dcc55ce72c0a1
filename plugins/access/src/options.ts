import { parseNetwork } from './ip.js';
import { parseSender } from './sender-list.js';

export interface AccessList {
  /** IPv4/IPv6 addresses or CIDR ranges of client connections. */
  networks: string[];
  /** "user@dom.test", "@dom.test" (that domain) or ".dom.test" / "@.dom.test" (and subdomains). */
  senders: string[];
}

export interface AccessOptions {
  allow: AccessList;
  deny: AccessList;
  /** Shown to refused clients; keep it free of which list matched. */
  denyMessage: string;
}

export const defaults: AccessOptions = {
  allow: { networks: [], senders: [] },
  deny: { networks: [], senders: [] },
  denyMessage: 'Access denied',
};

const LIST_KEYS = new Set(['networks', 'senders']);

function validateList(name: 'allow' | 'deny', value: unknown): string[] {
  // Missing sections are fine: a shallow merge of the admin's config may leave a key out.
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${name}: must be a map with networks and senders`];
  const errors: string[] = [];
  for (const [key, entries] of Object.entries(value)) {
    if (!LIST_KEYS.has(key)) {
      errors.push(`${name}.${key}: unknown key (expected networks or senders)`);
      continue;
    }
    if (!Array.isArray(entries)) {
      errors.push(`${name}.${key}: must be a list`);
      continue;
    }
    entries.forEach((entry: unknown, i) => {
      const ok = typeof entry === 'string' && (key === 'networks' ? parseNetwork(entry) : parseSender(entry)) !== undefined;
      if (!ok) errors.push(`${name}.${key}[${i}]: ${key === 'networks' ? 'not an IP or CIDR' : 'not an address, @domain or .domain'}`);
    });
  }
  return errors;
}

/** "key: reason" errors, one per bad entry, so the admin can fix them all in one go. */
export function validate(options: AccessOptions): string[] {
  const errors = [...validateList('allow', options.allow), ...validateList('deny', options.deny)];
  if (typeof options.denyMessage !== 'string' || options.denyMessage.trim() === '') errors.push('denyMessage: must be a non-empty string');
  return errors;
}
