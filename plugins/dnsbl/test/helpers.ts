import { createHarness } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import type { PluginDns } from '@postern/sdk';
import plugin from '../src/index.js';
import type { DnsblOptions } from '../src/index.js';

/** What the fake DNS answers for one name: A answers, TXT strings, an error code, or never. */
export interface FakeRecord {
  a?: string[];
  /** The TTL of the A answers (seconds). Default 300. */
  ttl?: number;
  txt?: string[][];
  /** resolve4 fails with this code (e.g. 'ESERVFAIL'). */
  error?: string;
  /** resolve4 never settles (a list that does not answer). */
  hang?: boolean;
}

/** A PluginDns over a table of names; unknown names are NXDOMAIN. `queries` lists every question asked. */
export function fakeDns(records: Record<string, FakeRecord>) {
  const queries: string[] = [];
  const fail = (code: string, name: string) => Object.assign(new Error(`${code} ${name}`), { code });
  const dns = {
    async resolve4(name: string, options?: { ttl: true }) {
      queries.push(`A ${name}`);
      const r = records[name];
      if (!r) throw fail('ENOTFOUND', name);
      if (r.hang) return new Promise<string[]>(() => {});
      if (r.error) throw fail(r.error, name);
      if (!r.a) throw fail('ENODATA', name);
      return options?.ttl ? r.a.map((address) => ({ address, ttl: r.ttl ?? 300 })) : r.a;
    },
    async resolve6(name: string) {
      queries.push(`AAAA ${name}`);
      throw fail('ENODATA', name);
    },
    async resolveTxt(name: string) {
      queries.push(`TXT ${name}`);
      const r = records[name];
      if (!r?.txt) throw fail(r ? 'ENODATA' : 'ENOTFOUND', name);
      return r.txt;
    },
    async resolveMx() {
      throw fail('ENODATA', 'mx');
    },
    async resolvePtr() {
      throw fail('ENODATA', 'ptr');
    },
  } as PluginDns;
  return { dns, queries };
}

/** A harness for the dnsbl plugin with the given options and fake DNS table. */
export function dnsblHarness(options: DeepPartial<DnsblOptions>, records: Record<string, FakeRecord> = {}) {
  const fake = fakeDns(records);
  return createHarness(plugin, { options, dns: fake.dns }).then((h) => Object.assign(h, { queries: fake.queries }));
}
