/**
 * A private Postfix instance that relays everything it accepts to one SMTP server: the yardstick
 * for Postern's outbound relay (same messages, same smtp-sink). Everything lives under `dir`:
 *
 *   dir/etc/main.cf, master.cf   config_directory (`postfix -c dir/etc start|stop`)
 *   dir/spool/                   queue_directory (Postfix creates its subdirectories on start)
 *   dir/data/                    data_directory (owned by the postfix user)
 *   dir/postfix.log              maillog_file (through postlogd; there is no syslog here)
 *
 * main.cf: `inet_interfaces = 127.0.0.1`, ipv4 only, `relayhost = [127.0.0.1]:PORT`,
 * `mynetworks = 127.0.0.0/8`, no local delivery (`mydestination =`, `local_transport = error`),
 * compatibility_level 3.6, no TLS. master.cf: the stock services with chroot off, smtpd on
 * 127.0.0.1:`port`. `main` adds or overrides main.cf settings (for a benchmark, e.g.
 * `default_process_limit`, `smtpd_client_connection_count_limit`, `in_flow_delay`).
 *
 * Needs root (Postfix's master refuses to start otherwise) and the postfix package (its `postfix`
 * user and `postdrop` group); makes `dir` and its parents traversable by the postfix user.
 * Started with `postfix -c dir/etc start` (~0.3 s: the queue directories are made here and
 * `quick-start` skips Postfix's slow self-check). `stop()` does what `postfix stop` does — SIGTERM
 * to the master's pid, which stops its children — then waits for the pid to go (~50 ms; SIGKILL to
 * the process group after 10 s). It works even if `dir` was removed first.
 *
 * @example
 *   const sink = await startSmtpSink(t);
 *   const postfix = await startPrivatePostfix({ port: await freePort(), relayTo: sink.address, dir: await tempDir(t), t });
 *   // send to 127.0.0.1:postfix.port; it arrives at the sink
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { sleep, type Cleanup } from './tmp.js';

export interface PrivatePostfixOptions {
  /** smtpd listens on 127.0.0.1:port. */
  port: number;
  /** "127.0.0.1:PORT": where every message goes (relayhost). */
  relayTo: string;
  /** The instance's base directory (created if missing). */
  dir: string;
  /** More main.cf settings; they override the defaults above. */
  main?: Record<string, string | number>;
  /** When given, the instance is stopped after the test. */
  t?: Cleanup;
}

export interface PrivatePostfix {
  port: number;
  dir: string;
  configDir: string;
  queueDir: string;
  logFile: string;
  masterPid: number;
  /** Messages still in the queue (incoming, active, deferred, maildrop, hold). */
  queued(): Promise<number>;
  /** The maillog so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const POSTFIX = ['/usr/sbin/postfix', '/usr/lib/postfix/sbin/postfix'];

const MASTER_CF = `# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

/** Run a command to its exit (not to the close of its pipes: Postfix's master inherits nothing, but be safe). */
function exec(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => resolvePromise({ code, output }));
  });
}

async function postfixBinary(): Promise<string> {
  for (const path of POSTFIX) {
    if (await stat(path).then(() => true, () => false)) return path;
  }
  return 'postfix';
}

/** uid and gid of `user` from /etc/passwd. */
async function userIds(user: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${user}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** gid of `group` from /etc/group. */
async function groupId(group: string): Promise<number | undefined> {
  const line = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.startsWith(`${group}:`));
  return line ? Number(line.split(':')[2]) : undefined;
}

/** True while `pid` runs (a zombie counts as gone: PID 1 may be slow to reap a daemon). */
async function alive(pid: number): Promise<boolean> {
  try {
    const statLine = await readFile(`/proc/${pid}/stat`, 'utf8');
    return statLine.slice(statLine.lastIndexOf(')') + 2, statLine.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** main.cf for the instance; exported for the test and for a post-mortem. */
export function privatePostfixMainCf(options: { dir: string; relayTo: string; main?: Record<string, string | number> }): string {
  const dir = resolve(options.dir);
  const settings: Record<string, string | number> = {
    compatibility_level: '3.6',
    config_directory: join(dir, 'etc'),
    queue_directory: join(dir, 'spool'),
    data_directory: join(dir, 'data'),
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: 'postfix.bench.test',
    mydomain: 'bench.test',
    myorigin: '$myhostname',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mydestination: '',
    local_recipient_maps: '',
    local_transport: 'error:5.1.1 no local delivery on this instance',
    alias_maps: '',
    alias_database: '',
    relayhost: relayHost(options.relayTo),
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    maillog_file: join(dir, 'postfix.log'),
    maillog_file_prefixes: dir,
    syslog_name: 'postfix-private',
    biff: 'no',
    append_dot_mydomain: 'no',
    readme_directory: 'no',
    ...options.main,
  };
  return Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
}

/** "127.0.0.1:2525" → "[127.0.0.1]:2525" (brackets: no MX lookup). */
function relayHost(relayTo: string): string {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(relayTo);
  if (!match) throw new Error(`relayTo must be HOST:PORT, got ${JSON.stringify(relayTo)}`);
  return `[${match[1]}]:${match[2]}`;
}

/** Make `dir` and every ancestor searchable by others (the postfix user walks this path). */
async function openPath(dir: string): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const mode = (await stat(d)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(d, mode | 0o011);
    if (dirname(d) === d) break;
  }
}

/** Start the instance (see the file comment); resolves when its smtpd accepts connections. */
export async function startPrivatePostfix(options: PrivatePostfixOptions): Promise<PrivatePostfix> {
  if (process.getuid?.() !== 0) throw new Error('a private Postfix needs root: its master process refuses to start otherwise');
  const owner = await userIds('postfix');
  if (!owner) throw new Error('no postfix user: apt-get install postfix');
  const postdrop = await groupId('postdrop');
  if (postdrop === undefined) throw new Error('no postdrop group: apt-get install postfix');
  const dir = resolve(options.dir);
  const configDir = join(dir, 'etc');
  const queueDir = join(dir, 'spool');
  const logFile = join(dir, 'postfix.log');
  await mkdir(configDir, { recursive: true });
  await openPath(dir);
  await chmod(dir, 0o755);
  // The queue layout of /etc/postfix/postfix-files, made here rather than by `postfix start`'s
  // check-fatal/check-warn scripts (~2 s of postconf and find runs); `quick-start` skips them.
  const layout: Array<[string, number, number, number]> = [
    ['data', 0o700, owner.uid, owner.gid],
    ['spool', 0o755, 0, 0],
    ['spool/pid', 0o755, 0, 0],
    ...['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace'].map(
      (d): [string, number, number, number] => [`spool/${d}`, 0o700, owner.uid, 0],
    ),
    ['spool/maildrop', 0o730, owner.uid, postdrop],
    ['spool/public', 0o710, owner.uid, postdrop],
  ];
  for (const [path, mode, uid, gid] of layout) {
    await mkdir(join(dir, path), { recursive: true });
    await chown(join(dir, path), uid, gid);
    await chmod(join(dir, path), mode);
  }
  await writeFile(join(queueDir, 'quick-start'), '');
  await writeFile(join(configDir, 'main.cf'), privatePostfixMainCf({ dir, relayTo: options.relayTo, main: options.main }));
  await writeFile(join(configDir, 'master.cf'), `127.0.0.1:${options.port} inet n - n - - smtpd\n${MASTER_CF}`);
  // Postfix re-reads a table file until its mtime is a couple of seconds old (a guard against
  // reading a file being edited): ~2 s at every start. Backdate them.
  const past = new Date(Date.now() - 60_000);
  for (const file of ['main.cf', 'master.cf']) await utimes(join(configDir, file), past, past);

  const postfix = await postfixBinary();
  const readLog = () => readFile(logFile, 'utf8').catch(() => '');
  const pidFile = join(queueDir, 'pid', 'master.pid');
  let masterPid = 0;

  // What `postfix stop` does (postfix-script: kill `sed 1q pid/master.pid`, then poll), by pid and
  // without its 1 s sleeps; it also works after the directory is gone. The master signals its children.
  const stop = async (): Promise<void> => {
    const pid = masterPid || Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (!pid || !(await alive(pid))) return;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while ((await alive(pid)) && Date.now() < deadline) await sleep(20);
    if (await alive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL'); // its process group, as `postfix stop` does when forced
      } catch {
        // gone
      }
    }
  };
  options.t?.after(stop);

  const started = await exec(postfix, ['-c', configDir, 'start']);
  if (started.code !== 0) {
    await stop();
    throw new Error(`postfix -c ${configDir} start exited ${started.code}\n${started.output}\n--- ${logFile}:\n${await readLog()}`);
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    masterPid ||= Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (masterPid && (await accepts(options.port))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`private Postfix did not listen on 127.0.0.1:${options.port} within 10 s\n--- ${logFile}:\n${await readLog()}`);
    }
    await sleep(20);
  }

  return {
    port: options.port,
    dir,
    configDir,
    queueDir,
    logFile,
    masterPid,
    async queued() {
      let count = 0;
      for (const sub of ['maildrop', 'incoming', 'active', 'deferred', 'hold']) {
        count += await countFiles(join(queueDir, sub));
      }
      return count;
    },
    log: readLog,
    stop,
  };
}

async function countFiles(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  let count = 0;
  for (const entry of entries) {
    count += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return count;
}
