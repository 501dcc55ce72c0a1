/**
 * A test ClamAV daemon: clamd in the foreground on 127.0.0.1 and a free port, with a two-file
 * signature database of its own instead of the official one (no freshclam, no download):
 * - `local.hdb`: the MD5 of the 68-byte EICAR test file (`Local.EICAR.Test-File`) and of the
 *   544-byte clam.exe of clamav-testfiles (`Local.ClamAV-Test-File`), which clamd finds inside
 *   every one of the 44 samples of /usr/share/clamav-testfiles (zip, 7z, upx, pdf, mail, tnef...);
 * - `local.ndb`: the string "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" anywhere in any file
 *   (`Local.EICAR.Test-String`), which also finds EICAR inside a mail message or a MIME part.
 * clamd reports them with a `.UNOFFICIAL` suffix. Ready in ~0.1 s (Debian 12, clamav-daemon).
 *
 * @example
 *   const clamd = await startClamd(t);
 *   // plugins: { clamav: { enabled: true, port: clamd.port } }
 */
import { connect } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon } from './child-process.js';
import { freePort } from './ports.js';
import { tempDir, type Cleanup } from './tmp.js';

export interface ClamdServer {
  port: number;
  pid: number;
  /** The generated clamd.conf (for a post-mortem). */
  configFile: string;
  stop(): Promise<void>;
}

const CLAMD = process.env.CLAMD ?? 'clamd';

/** Where Debian's clamav-testfiles puts the ClamAV test samples. */
export const CLAMAV_TESTFILES = '/usr/share/clamav-testfiles';

/** The EICAR test file (68 bytes), built here so that no file in the repository holds it. */
export function eicar(): string {
  return ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE', '!$H+H*'].join('');
}

/** Send `command` (zINSTREAM-style null-terminated) and resolve with clamd's answer, or '' on any failure. */
function ask(port: number, command: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port });
    const done = () => {
      socket.destroy();
      resolve(answer.replace(/\0/g, '').trim());
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('connect', () => socket.write(`z${command}\0`));
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    socket.on('end', done);
    socket.on('error', () => resolve(''));
  });
}

/**
 * Start clamd (`options.config`: more clamd.conf lines); resolves when it answers PING with PONG. Stopped (SIGTERM to its pid, SIGKILL after
 * 2 s) after the test, or earlier with `stop()`.
 */
export async function startClamd(t: Cleanup, options: { config?: string[] } = {}): Promise<ClamdServer> {
  const dir = await tempDir(t, 'postern-clamd-');
  const db = join(dir, 'db');
  const tmp = join(dir, 'tmp');
  await mkdir(db);
  await mkdir(tmp);
  await writeFile(join(db, 'local.hdb'), '44d88612fea8a8f36de82e1278abb02f:68:Local.EICAR.Test-File\naa15bcf478d165efd2065190eb473bcb:544:Local.ClamAV-Test-File\n');
  const hex = Buffer.from('EICAR-STANDARD-ANTIVIRUS-TEST-FILE').toString('hex');
  await writeFile(join(db, 'local.ndb'), `Local.EICAR.Test-String:0:*:${hex}\n`);

  const port = await freePort();
  const configFile = join(dir, 'clamd.conf');
  const config = [
    'Foreground yes',
    `TCPSocket ${port}`,
    'TCPAddr 127.0.0.1',
    `DatabaseDirectory ${db}`,
    `TemporaryDirectory ${tmp}`,
    `PidFile ${join(dir, 'clamd.pid')}`,
    `LogFile ${join(dir, 'clamd.log')}`,
    'StreamMaxLength 50M',
    'SelfCheck 0',
    // clamav-testfiles' clam_cache_emax.tgz nests clam.exe 9 tar.gz deep (18 levels for clamd);
    // inside a base64 MIME attachment that passes the default MaxRecursion 17 and clamd stops
    // unpacking without an alert. One more mail layer must still be caught.
    ...(options.config?.some((l) => /^MaxRecursion\b/.test(l)) ? [] : ['MaxRecursion 20']),
    ...(options.config ?? []),
  ];
  await writeFile(configFile, config.join('\n') + '\n');

  const daemon = await startDaemon(t, {
    command: CLAMD,
    args: [`--config-file=${configFile}`],
    name: 'clamd',
    install: 'apt-get install clamav-daemon',
    ready: async () => (await ask(port, 'PING')) === 'PONG',
    timeoutMs: 15_000,
    pollMs: 25,
  });
  return { port, pid: daemon.pid, configFile, stop: daemon.stop };
}
