import { Stage, definePlugin, reject, tempfail } from '@postern/sdk';
import { clientIp, reversedIp } from '@postern/sdk/net';
import { LookupCache } from './cache.js';
import { lifetimeMs, lookupZone } from './lookup.js';
import type { ZoneLookup } from './lookup.js';
import { defaults, validate } from './options.js';
import type { DnsblOptions } from './options.js';
import { compileReturnCodes } from './return-codes.js';

export type { DnsblAction, DnsblOptions, DnsblZone } from './options.js';
/** The DNSBL query label of a client address (`reversedIp` of `@postern/sdk/net`). */
export { reversedIp as reverseIp } from '@postern/sdk/net';

/** One zone that lists the client. */
export interface DnsblZoneHit {
  zone: string;
  /** The A answers that counted (after `returnCodes`). */
  answers: string[];
  /** The list's TXT record for the same name, if it has one. */
  reason?: string;
}

/** What the plugin records under `session.results.get('dnsbl')` for every SMTP client it checks. */
export interface DnsblResult {
  listed: boolean;
  /** The zones that list the client, in config order (empty when not listed). */
  zones: DnsblZoneHit[];
}

/**
 * DNS blocklists (RFC 5782) checked at connect: every zone at once, each with its own timeout.
 * A list that does not answer never costs the client anything: it counts as "not listed".
 */
export default definePlugin<DnsblOptions>({
  name: 'dnsbl',
  defaults,
  validate,
  setup(api) {
    const { zones, lookupTimeoutMs, cacheMinSeconds, cacheMaxSeconds, negativeCacheSeconds, action } = api.options;
    const dns = api.dns;
    if (!dns) throw new Error('dnsbl needs DNS: grant the "dns" permission');
    const compiled = zones.map((z) => ({ ...z, zone: z.zone.toLowerCase().replace(/\.$/, ''), codes: compileReturnCodes(z.returnCodes) }));
    const ttls = { minSeconds: cacheMinSeconds, maxSeconds: cacheMaxSeconds, negativeSeconds: negativeCacheSeconds };
    const cache = new LookupCache<ZoneLookup>((r) => lifetimeMs(r, ttls));
    api.onShutdown(() => cache.clear());

    api.tap(
      'connect',
      async (session) => {
        if (session.protocol !== 'smtp' || compiled.length === 0) return undefined;
        // The admin's allowlist (access plugin, Stage.ACCESS) wins over any blocklist.
        if (session.results.get<{ allow?: boolean }>('access')?.allow === true) return undefined;
        const ip = clientIp(session.remoteAddress);
        const reversed = reversedIp(ip);
        if (reversed === undefined) return undefined;

        const lookups = await Promise.all(
          compiled.map(async (z) => {
            const name = `${reversed}.${z.zone}`;
            const result = await cache.get(name, () => lookupZone(dns, name, z.codes, lookupTimeoutMs));
            if (result.status === 'error') api.log.warn({ zone: z.zone, ip, error: result.error }, 'dnsbl: lookup failed, counted as not listed');
            return { z, result };
          }),
        );
        const hits: DnsblZoneHit[] = [];
        let message: string | undefined;
        for (const { z, result } of lookups) {
          if (result.status !== 'listed') continue;
          hits.push(result.reason === undefined ? { zone: z.zone, answers: result.answers } : { zone: z.zone, answers: result.answers, reason: result.reason });
          message ??= result.reason ?? z.message ?? `Client host [${ip}] blocked using ${z.zone}`;
        }
        session.results.set('dnsbl', { listed: hits.length > 0, zones: hits } satisfies DnsblResult);
        if (hits.length === 0 || message === undefined) return undefined;

        const reason = `dnsbl: ${ip} listed in ${hits.map((h) => `${h.zone} (${h.answers.join(',')})`).join(', ')}`;
        api.log.info({ ip, zones: hits.map((h) => h.zone), action }, 'dnsbl: client listed');
        if (action === 'reject') return reject(message, { code: 554, enhanced: '5.7.1', reason });
        if (action === 'tempfail') return tempfail(message, { code: 421, enhanced: '4.7.1', reason });
        return undefined;
      },
      // All zones may take up to lookupTimeoutMs each for A then TXT; give the tap room beyond that.
      { stage: Stage.REPUTATION, timeoutMs: lookupTimeoutMs * 2 + 1000 },
    );
  },
});
