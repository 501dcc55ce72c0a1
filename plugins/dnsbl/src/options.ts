import { parseReturnCode } from './return-codes.js';

export interface DnsblZone {
  /** The list's DNS zone, e.g. "zen.example". */
  zone: string;
  /** The A answers that count as listed: addresses or "low-high" ranges. Default: any 127.0.0.0/8. */
  returnCodes?: string[];
  /** Shown to refused clients when the list publishes no TXT reason. */
  message?: string;
}

export type DnsblAction = 'reject' | 'tempfail' | 'tag';

export interface DnsblOptions {
  zones: DnsblZone[];
  /** Per lookup (A, then TXT) per zone. */
  lookupTimeoutMs: number;
  /** Floor of the DNS TTL an answer (listed or not) is kept for, per client IP and zone. */
  cacheMinSeconds: number;
  /** Ceiling of that TTL (and of the negative TTL); it wins over the floor; 0 turns the cache off. */
  cacheMaxSeconds: number;
  /** How long NXDOMAIN / NODATA ("not listed") is kept; 0: asked again every time. */
  negativeCacheSeconds: number;
  /** reject: 554 5.7.1; tempfail: 421 4.7.1; tag: record the result only. */
  action: DnsblAction;
}

export const defaults: DnsblOptions = {
  zones: [],
  lookupTimeoutMs: 2000,
  cacheMinSeconds: 60,
  cacheMaxSeconds: 3600,
  negativeCacheSeconds: 60,
  action: 'reject',
};

const ZONE = /^(?=.{1,200}$)[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?)+\.?$/i;
const ZONE_KEYS = new Set(['zone', 'returnCodes', 'message']);
const ACTIONS = new Set<string>(['reject', 'tempfail', 'tag']);

function validateZone(value: unknown, i: number): string[] {
  const at = `zones[${i}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: must be a map with zone, returnCodes, message`];
  const errors: string[] = [];
  const entry = value as Record<string, unknown>;
  for (const key of Object.keys(entry)) if (!ZONE_KEYS.has(key)) errors.push(`${at}.${key}: unknown key (expected zone, returnCodes or message)`);
  if (typeof entry.zone !== 'string' || !ZONE.test(entry.zone)) errors.push(`${at}.zone: must be a DNS name with at least two labels`);
  if (entry.returnCodes !== undefined) {
    if (!Array.isArray(entry.returnCodes) || entry.returnCodes.length === 0) errors.push(`${at}.returnCodes: must be a non-empty list`);
    else {
      entry.returnCodes.forEach((code: unknown, j) => {
        if (typeof code !== 'string' || parseReturnCode(code) === undefined) errors.push(`${at}.returnCodes[${j}]: not an IPv4 address or low-high range`);
      });
    }
  }
  if (entry.message !== undefined && (typeof entry.message !== 'string' || entry.message.trim() === '' || /[\r\n]/.test(entry.message))) {
    errors.push(`${at}.message: must be a non-empty single line`);
  }
  return errors;
}

/** "key: reason" errors, one per problem, so the admin can fix them all in one go. */
export function validate(options: DnsblOptions): string[] {
  const errors: string[] = [];
  if (!Array.isArray(options.zones)) errors.push('zones: must be a list');
  else options.zones.forEach((zone, i) => errors.push(...validateZone(zone, i)));
  if (!Number.isInteger(options.lookupTimeoutMs) || options.lookupTimeoutMs < 1) errors.push('lookupTimeoutMs: must be a positive integer');
  for (const key of ['cacheMinSeconds', 'cacheMaxSeconds', 'negativeCacheSeconds'] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 0) errors.push(`${key}: must be an integer >= 0`);
  }
  if (!ACTIONS.has(options.action)) errors.push('action: must be reject, tempfail or tag');
  return errors;
}
