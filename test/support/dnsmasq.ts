/**
 * A test DNS server: dnsmasq, authoritative and non-forwarding, on 127.0.0.1 and a free port, with
 * the records a test gives it. Point a `dns.promises.Resolver` at `server` with `setServers`.
 *
 * What dnsmasq answers (checked with `dig` and node:dns on dnsmasq 2.90, Debian 12):
 * - Names under `.test` and `127.in-addr.arpa` are local: an unknown name is NXDOMAIN (ENOTFOUND in
 *   node), a known name without the asked type is NODATA (ENODATA). A record may name another zone
 *   (`example.com`) and is answered, but an unknown name there is REFUSED (EREFUSED): prefer `.test`.
 * - `a`/`aaaa` become `host-record` lines (not `address=/name/`, which also answers every
 *   subdomain). A host-record also answers the PTR of its address, unless a `ptr` entry names the
 *   same reverse name (then the explicit PTR wins).
 * - `nullMx` is RFC 7505's "MX 0 ." (`mx-host=DOMAIN,.,0`): node's resolveMx returns
 *   `[{ exchange: '', priority: 0 }]`.
 * - A TXT text longer than 255 bytes is split into 255-byte strings by dnsmasq (resolveTxt returns
 *   the chunks of one record); give an array to choose the strings yourself.
 * - Answers carry TTL 0, so nothing is cached between tests; `startDns(t, records, { localTtl })`
 *   gives every local answer that TTL instead (dnsmasq's `local-ttl`), for code that honours TTLs.
 * - An `aaaa` host-record also answers the PTR of its ip6.arpa name. The reverse zone of the
 *   documentation prefix 2001:db8::/32 is local (an unknown name there is NXDOMAIN); other
 *   ip6.arpa names are REFUSED.
 *
 * @example
 *   const dns = await startDns(t, {
 *     mx: [{ domain: 'example.test', host: 'mx.example.test', preference: 10 }],
 *     a: [{ name: 'mx.example.test', address: '127.0.0.1' }],
 *     nullMx: ['nomail.test'],
 *   });
 *   const resolver = new Resolver();
 *   resolver.setServers([dns.server]);
 */
import { Resolver } from 'node:dns/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { tempDir, type Cleanup } from './tmp.js';
import { DaemonStartError, startDaemon } from './child-process.js';

export interface DnsRecords {
  mx?: Array<{ domain: string; host: string; preference: number }>;
  a?: Array<{ name: string; address: string }>;
  aaaa?: Array<{ name: string; address: string }>;
  /** One TXT record per entry; an array gives the record's character-strings one by one. */
  txt?: Array<{ name: string; text: string | string[] }>;
  ptr?: Array<{ name: string; target: string }>;
  /** Domains that publish a null MX ("MX 0 .", RFC 7505): they accept no mail. */
  nullMx?: string[];
  /** CNAMEs; dnsmasq answers them only when the target is itself a local record. */
  cname?: Array<{ name: string; target: string }>;
}

export interface DnsOptions {
  /** The TTL (seconds) of every local answer (dnsmasq `local-ttl`). Default 0. */
  localTtl?: number;
}

export interface DnsServer {
  port: number;
  /** "127.0.0.1:PORT", for `resolver.setServers([server])`. */
  server: string;
  pid: number;
  /** The generated dnsmasq.conf (for a post-mortem). */
  configFile: string;
  stop(): Promise<void>;
}

const DNSMASQ = process.env.DNSMASQ ?? 'dnsmasq';

/** A DNS name or IP address as it may appear between commas in dnsmasq.conf. */
function field(value: string, what: string): string {
  if (!value || /[\s,"#\\/]/.test(value)) throw new Error(`dnsmasq: bad ${what} ${JSON.stringify(value)}`);
  return value;
}

/** A double-quoted dnsmasq string: backslash and double quote escaped. */
function quoted(text: string): string {
  if (/[\r\n\0]/.test(text)) throw new Error(`dnsmasq: a TXT string cannot hold CR, LF or NUL: ${JSON.stringify(text)}`);
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The record lines of dnsmasq.conf for `records`. */
export function dnsmasqRecordLines(records: DnsRecords): string[] {
  const lines: string[] = [];
  for (const { name, address } of [...(records.a ?? []), ...(records.aaaa ?? [])]) {
    lines.push(`host-record=${field(name, 'name')},${field(address, 'address')}`);
  }
  for (const { domain, host, preference } of records.mx ?? []) {
    if (!Number.isInteger(preference) || preference < 0 || preference > 65535) throw new Error(`dnsmasq: bad MX preference ${preference}`);
    lines.push(`mx-host=${field(domain, 'MX domain')},${field(host, 'MX host')},${preference}`);
  }
  for (const domain of records.nullMx ?? []) lines.push(`mx-host=${field(domain, 'null MX domain')},.,0`);
  for (const { name, text } of records.txt ?? []) {
    const strings = typeof text === 'string' ? [text] : text;
    lines.push(`txt-record=${field(name, 'TXT name')},${strings.map(quoted).join(',')}`);
  }
  for (const { name, target } of records.ptr ?? []) lines.push(`ptr-record=${field(name, 'PTR name')},${field(target, 'PTR target')}`);
  for (const { name, target } of records.cname ?? []) lines.push(`cname=${field(name, 'CNAME name')},${field(target, 'CNAME target')}`);
  return lines;
}

/** True once something answers DNS on `server` (any answer, NXDOMAIN included). */
async function answers(server: string): Promise<boolean> {
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([server]);
  try {
    await resolver.resolve4('ready.postern-dns-probe.test');
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOTFOUND' || code === 'ENODATA';
  }
}

/**
 * Start dnsmasq with `records`; resolves when it answers. Stopped (SIGTERM to its pid, SIGKILL
 * after 2 s) after the test, or earlier with `stop()`. Ready in ~20 ms.
 */
export async function startDns(t: Cleanup, records: DnsRecords = {}, options: DnsOptions = {}): Promise<DnsServer> {
  const { localTtl } = options;
  if (localTtl !== undefined && (!Number.isInteger(localTtl) || localTtl < 0)) throw new Error(`dnsmasq: bad localTtl ${localTtl}`);
  const dir = await tempDir(t, 'postern-dns-');
  const recordLines = dnsmasqRecordLines(records);
  let lastError = '';
  // freePort() checks TCP only; dnsmasq also binds UDP, so retry on the rare clash.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = `127.0.0.1:${port}`;
    const configFile = join(dir, 'dnsmasq.conf');
    const config = [
      `port=${port}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-poll',
      'local=/test/',
      'local=/127.in-addr.arpa/',
      'local=/8.b.d.0.1.0.0.2.ip6.arpa/',
      `pid-file=${join(dir, 'dnsmasq.pid')}`,
      ...(localTtl === undefined ? [] : [`local-ttl=${localTtl}`]),
      ...recordLines,
    ];
    await writeFile(configFile, config.join('\n') + '\n');

    try {
      const daemon = await startDaemon(t, {
        command: DNSMASQ,
        args: ['--keep-in-foreground', `--conf-file=${configFile}`, '--log-facility=-'],
        name: 'dnsmasq',
        install: 'apt-get install dnsmasq',
        ready: () => answers(server),
        timeoutMs: 5000,
        pollMs: 10,
      });
      return { port, server, pid: daemon.pid, configFile, stop: daemon.stop };
    } catch (err) {
      if (!(err instanceof DaemonStartError) || !/address already in use/i.test(err.output)) throw err;
      lastError = err.output;
    }
  }
  throw new Error(`dnsmasq did not start:\n${lastError}`);
}

