import { createHarness } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import type { PluginDns } from '@postern/sdk';
import plugin from '../src/index.js';
import type { SpfPtrOptions } from '../src/index.js';

/** What the fake DNS answers for one name. */
export interface FakeRecord {
  a?: string[];
  aaaa?: string[];
  txt?: string[];
  ptr?: string[];
  mx?: Array<{ exchange: string; priority: number }>;
  /** Every query for this name fails with this code (e.g. 'ESERVFAIL'). */
  error?: string;
}

/** A PluginDns over a table of names; unknown names are NXDOMAIN. `queries` lists every question. */
export function fakeDns(records: Record<string, FakeRecord>) {
  const queries: string[] = [];
  const fail = (code: string, name: string) => Object.assign(new Error(`${code} ${name}`), { code });
  function answer<K extends 'a' | 'aaaa' | 'txt' | 'ptr' | 'mx'>(type: string, key: K, name: string): NonNullable<FakeRecord[K]> {
    queries.push(`${type} ${name}`);
    const r = records[name.toLowerCase()];
    if (!r) throw fail('ENOTFOUND', name);
    if (r.error) throw fail(r.error, name);
    const value = r[key];
    if (value === undefined) throw fail('ENODATA', name);
    return value as NonNullable<FakeRecord[K]>;
  }
  const dns = {
    resolve4: async (name: string) => answer('A', 'a', name),
    resolve6: async (name: string) => answer('AAAA', 'aaaa', name),
    resolveTxt: async (name: string) => answer('TXT', 'txt', name).map((t) => [t]),
    resolvePtr: async (name: string) => answer('PTR', 'ptr', name),
    resolveMx: async (name: string) => answer('MX', 'mx', name),
  } as PluginDns;
  return { dns, queries };
}

export const CLIENT = '192.0.2.10';
export const ARPA = '10.2.0.192.in-addr.arpa';

/** The default world: good.test allows the client, bad.test refuses it, the client is mail.good.test. */
export const WORLD: Record<string, FakeRecord> = {
  'good.test': { txt: [`v=spf1 ip4:${CLIENT} -all`] },
  'bad.test': { txt: ['v=spf1 ip4:198.51.100.1 exp=why.bad.test -all'] },
  'why.bad.test': { txt: ['bad.test mail only comes from its own servers'] },
  'soft.test': { txt: ['v=spf1 ip4:198.51.100.1 ~all'] },
  'neutral.test': { txt: ['v=spf1 ?all'] },
  'nospf.test': { txt: ['some other record'] },
  'broken.test': { error: 'ESERVFAIL' },
  'perm.test': { txt: ['v=spf1 ip4:300.1.1.1 -all', 'v=spf1 -all'] },
  'helo.good.test': { txt: [`v=spf1 a -all`], a: [CLIENT] },
  [ARPA]: { ptr: ['mail.good.test'] },
  'mail.good.test': { a: [CLIENT] },
};

export function spfHarness(options: DeepPartial<SpfPtrOptions> = {}, records: Record<string, FakeRecord> = WORLD) {
  const fake = fakeDns(records);
  return createHarness(plugin, { options, dns: fake.dns, hostname: 'mx.postern.test' }).then((h) => Object.assign(h, { queries: fake.queries }));
}
