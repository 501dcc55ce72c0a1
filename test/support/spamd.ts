/**
 * A test SpamAssassin daemon: spamd in the foreground on 127.0.0.1 and a free port, with Debian's
 * shipped rules (/usr/share/spamassassin; no sa-update), local tests only (`-L`: no DNS or network
 * lookups) and no per-user configuration (`-x`). Ready in 1–3 s, ~120 MB (a parent and one or two
 * children): start ONE per test file and share it (`cleanupList()` in a `before`).
 * GTUBE scores ≥ 1000 / 5.0; a plain ham about 0.
 *
 * Run as root (CI), spamd drops to `nobody` (`-u nobody`) and its helper home must be writable by
 * nobody; run as another user, spamd refuses `-u` and runs as that user instead.
 *
 * @example
 *   const cleanup = cleanupList();
 *   after(() => cleanup.run());
 *   before(async () => { spamd = await startSpamd(cleanup); });
 *   // plugins: { spamassassin: { enabled: true, port: spamd.port } }
 */
import { connect } from 'node:net';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon } from './child-process.js';
import { freePort } from './ports.js';
import { tempDir, type Cleanup } from './tmp.js';

export interface SpamdServer {
  port: number;
  pid: number;
  /** Everything spamd logged so far (it logs to stderr), for a post-mortem. */
  output(): string;
  /** Stop it now (SIGTERM to its pid, SIGKILL after 2 s); also done at cleanup. */
  stop(): Promise<void>;
}

const SPAMD = process.env.SPAMD ?? 'spamd';

/**
 * GTUBE, SpamAssassin's test string (scores 1000), built here so that no file in the repository
 * holds it and trips a scanner that looks at the source.
 */
export function gtube(): string {
  return ['XJS*C4JDBQADN1.NSBN3*2IDNEN*', 'GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL', '*C.34X'].join('');
}

/** PING spamd over SPAMC/1.5; true on `SPAMD/1.x 0 PONG`, false on anything else. */
function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port });
    const done = () => {
      socket.destroy();
      resolve(/^SPAMD\/1\.\d+ 0 PONG\r\n/.test(answer));
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.end('PING SPAMC/1.5\r\n\r\n'));
    socket.setEncoding('latin1').on('data', (d: string) => (answer += d));
    socket.on('end', done);
    socket.on('error', () => resolve(false));
  });
}

/**
 * Start spamd; resolves when it answers PING with PONG. Stopped after the test (or at
 * `cleanup.run()`), or earlier with `stop()`.
 */
export async function startSpamd(t: Cleanup): Promise<SpamdServer> {
  const dir = await tempDir(t, 'postern-spamd-');
  const home = join(dir, 'home');
  await mkdir(home);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // mkdtemp makes the folder 0700: nobody must be able to reach its helper home in it.
    await chmod(dir, 0o755);
    await chmod(home, 0o777);
  }

  const port = await freePort();
  const args = [
    `--listen=127.0.0.1:${port}`,
    '--allowed-ips=127.0.0.1',
    '--local', // -L: no network tests (DNSBL, Razor, …)
    '--nouser-config', // -x
    `--helper-home-dir=${home}`,
    '--min-children=1',
    '--max-children=2',
    '--syslog=stderr',
    `--pidfile=${join(dir, 'spamd.pid')}`,
    ...(asRoot ? ['--username=nobody'] : []),
  ];
  const daemon = await startDaemon(t, {
    command: SPAMD,
    args,
    name: 'spamd',
    install: 'apt-get install spamd spamassassin',
    ready: () => ping(port),
    timeoutMs: 30_000,
    pollMs: 100,
  });
  return { port, pid: daemon.pid, output: daemon.output, stop: daemon.stop };
}
