/**
 * The "postern+protection" profile of test/bench/smtp-throughput.mjs: every day-one protection
 * plugin enabled against real local services, as an admin would run them:
 * spf-ptr (SPF and the PTR rule against dnsmasq), dnsbl (a test zone), greylist (the benchmark's
 * triplet passed before the timed run), dkim (verification and DMARC), clamav (a private clamd)
 * and spamassassin (a private spamd). The server's per-tap timings (admin API) show where the
 * time of a message goes.
 */
import { spamcRequest } from '../../plugins/spamassassin/src/spamc-client.js';
import { cleanupList, startClamd, startDns, startSpamd } from '../support/index.js';

export interface ProtectionServices {
  dnsServer: string;
  clamdPort: number;
  spamdPort: number;
  stop(): Promise<void>;
}

export const ADMIN_TOKEN = 'bench-admin-token-0123456789';

/** dnsmasq with the benchmark domain's SPF, DMARC and forward-confirmed PTR, clamd and spamd. */
export async function startProtectionServices(domain: string): Promise<ProtectionServices> {
  const cleanup = cleanupList();
  try {
    const dns = await startDns(cleanup, {
      a: [{ name: `mail.${domain}`, address: '127.0.0.1' }],
      ptr: [{ name: '1.0.0.127.in-addr.arpa', target: `mail.${domain}` }],
      txt: [
        { name: domain, text: 'v=spf1 ip4:127.0.0.1 -all' },
        { name: `_dmarc.${domain}`, text: 'v=DMARC1; p=none' },
      ],
    });
    const [clamd, spamd] = await Promise.all([startClamd(cleanup), startSpamd(cleanup)]);
    return { dnsServer: dns.server, clamdPort: clamd.port, spamdPort: spamd.port, stop: () => cleanup.run() };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/** The greylist's short wait, so the benchmark's one triplet can be passed before the timed run. */
export const GREYLIST_IGNORE_SEC = 1;

/** The profile's plugins, in the order the shipped config lists them. */
export const PROTECTION_PLUGINS = ['spf-ptr', 'dnsbl', 'clamav', 'spamassassin', 'greylist', 'dkim'] as const;

/**
 * The `dns`, `admin` and `plugins` sections of the profile's postern.yaml; the plugins named in
 * `without` are left disabled (e.g. spamassassin, to see what the others cost on their own).
 */
export function protectionYaml(services: ProtectionServices, adminPort: number, without: readonly string[] = []): string {
  const on = (name: string) => (without.includes(name) ? 'false' : 'true');
  return `dns: { servers: ["${services.dnsServer}"], timeoutMs: 2000 }
admin: { enabled: true, host: 127.0.0.1, port: ${adminPort}, token: ${ADMIN_TOKEN} }
plugins:
  timeoutMs: 30000
  access: { enabled: false }
  rate-limit: { enabled: false }
  spf-ptr: { enabled: ${on('spf-ptr')}, ptr: reject }
  dnsbl: { enabled: ${on('dnsbl')}, zones: [{ zone: zen.test }], action: reject }
  greylist: { enabled: ${on('greylist')}, ignoreResendSec: ${GREYLIST_IGNORE_SEC}, skipSpfPass: false }
  dkim: { enabled: ${on('dkim')} }
  clamav: { enabled: ${on('clamav')}, port: ${services.clamdPort}, scanTimeoutMs: 30000 }
  spamassassin: { enabled: ${on('spamassassin')}, port: ${services.spamdPort}, scanTimeoutMs: 30000 }
`;
}

export interface TapRow {
  hook: string;
  plugin: string;
  calls: number;
  failures: number;
  totalMs: number;
  avgMs: number;
}

/** The serving generation's per-tap timings, from the admin API. */
export async function fetchTimings(adminPort: number): Promise<TapRow[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/plugins/timings`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /api/plugins/timings: HTTP ${res.status}`);
  return ((await res.json()) as { taps: TapRow[] }).taps;
}

export async function fetchPluginNames(adminPort: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/plugins`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`GET /api/plugins: HTTP ${res.status}`);
  return ((await res.json()) as { plugins: Array<{ name: string }> }).plugins.map((p) => p.name);
}

/** Per-tap time of one scenario: average ms per call and share of all tap time. */
export function tapTable(taps: readonly TapRow[], messages: number): string[] {
  const total = taps.reduce((sum, t) => sum + t.totalMs, 0);
  const rows = taps
    .filter((t) => t.calls > 0)
    .map((t) => [t.plugin, t.hook, String(t.calls), String(t.failures), t.avgMs.toFixed(2), ((t.totalMs / messages) || 0).toFixed(2), total > 0 ? `${((100 * t.totalMs) / total).toFixed(1)}%` : '-']);
  const head = ['plugin', 'hook', 'calls', 'failures', 'avg ms', 'ms/msg', 'share'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/**
 * The peer of the profile: spamd alone, asked the same way the plugin asks (SPAMC/1.5 SYMBOLS),
 * `messages` messages of `sizeBytes` with `parallel` in flight. The busiest plugin waits on it, so
 * this is the ceiling the protection profile can reach on this machine.
 */
export async function spamdAlone(services: ProtectionServices, messages: number, sizeBytes: number, parallel: number): Promise<{ seconds: number; rate: number }> {
  const head = 'From: a@bench.test\r\nTo: user@bench.test\r\nSubject: bench\r\nMessage-ID: <bench@bench.test>\r\n\r\n';
  const line = `${'x'.repeat(76)}\r\n`;
  const message = Buffer.from(head + line.repeat(Math.max(1, Math.floor((sizeBytes - head.length) / line.length))));
  const target = { host: '127.0.0.1', port: services.spamdPort, connectTimeoutMs: 5000, timeoutMs: 60_000 };
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < messages) {
      next++;
      await spamcRequest(target, 'SYMBOLS', message);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rate: messages / seconds };
}
