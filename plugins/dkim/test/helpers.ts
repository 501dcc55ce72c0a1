import { Resolver } from 'node:dns/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import type { PluginDns } from '@postern/sdk';
import { lookupByType } from '@postern/sdk/net';
import { createHarness } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import { startDns } from '../../../test/support/dnsmasq.js';
import type { DnsRecords, DnsServer } from '../../../test/support/dnsmasq.js';
import { dkimKey } from '../../../test/support/dkim-tools.js';
import type { DkimKey } from '../../../test/support/dkim-tools.js';
import type { Cleanup } from '../../../test/support/tmp.js';
import plugin from '../src/index.js';
import type { DkimOptions } from '../src/index.js';

export { dkimKey, signWith } from '../../../test/support/dkim-tools.js';

/** A PluginDns (what api.dns is) asking the dnsmasq at `server`. */
export function resolverFor(server: DnsServer): PluginDns {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([server.server]);
  return resolver as unknown as PluginDns;
}

/** A temporary dataDir whose dkim/<domain>/<selector>.key files hold `keys`. */
export async function dataDirWith(t: Cleanup, keys: Array<{ domain: string; selector: string; key: DkimKey }>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-dkim-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const { domain, selector, key } of keys) {
    await mkdir(join(dir, 'dkim', domain), { recursive: true });
    await writeFile(join(dir, 'dkim', domain, `${selector}.key`), key.pem, { mode: 0o600 });
  }
  return dir;
}

/** The world of the harness tests, served by a real dnsmasq. */
export interface World {
  dns: DnsServer;
  api: PluginDns;
  /** ann's domain: its `postern` (rsa) and `ed` (ed25519) keys are published. */
  local: { rsa: DkimKey; ed: DkimKey };
  /** A remote domain with a published key. */
  remote: DkimKey;
}

export async function startWorld(t: Cleanup, extra: DnsRecords = {}): Promise<World> {
  const local = { rsa: dkimKey('rsa', 2048), ed: dkimKey('ed25519') };
  const remote = dkimKey('rsa', 1024);
  const dns = await startDns(t, {
    ...extra,
    txt: [
      { name: 'postern._domainkey.example.test', text: local.rsa.txt },
      { name: 'ed._domainkey.example.test', text: local.ed.txt },
      { name: 'sel._domainkey.remote.test', text: remote.txt },
      { name: 'remote.test', text: 'v=spf1 ip4:192.0.2.10 -all' },
      { name: '_dmarc.reject.test', text: 'v=DMARC1; p=reject' },
      { name: 'reject.test', text: 'v=spf1 ip4:192.0.2.99 -all' },
      { name: '_dmarc.quarantine.test', text: 'v=DMARC1; p=quarantine' },
      { name: '_dmarc.sampled.test', text: 'v=DMARC1; p=reject; pct=0' },
      ...(extra.txt ?? []),
    ],
  });
  return { dns, api: resolverFor(dns), local, remote };
}

export function harness(world: World, options: DeepPartial<DkimOptions> = {}, dataDir?: string) {
  return createHarness(plugin, { options, dns: world.api, hostname: 'mx.example.test', ...(dataDir === undefined ? {} : { dataDir }) });
}

/** mailauth's verdicts on `message`, keys from the world's DNS. */
export async function mailauthVerify(world: World, message: Buffer) {
  const result = await dkimVerify(message, { resolver: lookupByType(world.api, 2000) as never });
  return result.results.map((r) => ({ result: r.status.result, domain: r.signingDomain, selector: r.selector, comment: r.status.comment }));
}

/** A message as a client would send it (LF endings; the harness makes them CRLF). */
export function letter(from: string, body = 'Hello there,\n\nthe body.\n', to = 'bob@remote.test'): string {
  return `From: ${from}\nTo: ${to}\nSubject: test\nDate: Sun, 06 Dec 2026 12:00:00 +0000\nMessage-ID: <${Math.random().toString(36).slice(2)}@example.test>\n\n${body}`;
}
