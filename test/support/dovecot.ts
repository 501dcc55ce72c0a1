/**
 * A private Dovecot (IMAP and POP3) on 127.0.0.1 and free ports, for tests that need a real
 * remote mailbox (the collector) or a yardstick to compare Postern's IMAP answers with.
 *
 * Everything lives under one temp dir, removed after the test:
 *
 *   dir/dovecot.conf     standalone config (it does not include /etc/dovecot)
 *   dir/passwd           passwd-file users: `name:{PLAIN}password::::::`
 *   dir/run/             base_dir (master.pid, sockets)
 *   dir/state/           state_dir
 *   dir/mail/NAME/       each user's home, Maildir at dir/mail/NAME/Maildir
 *   dir/dovecot.log      log_path
 *
 * Dovecot runs as root here (its master refuses nothing then); mail is accessed as nobody:nogroup
 * (`mail_uid`/`mail_gid`, `first_valid_uid = 1`), so dir/mail belongs to nobody, and dir is
 * made traversable for the login (dovenull) and auth (dovecot) users. Started with
 * `dovecot -F -c FILE` (foreground: its pid is the master's; ready in ~0.1 s) and stopped by that
 * pid (SIGTERM, SIGKILL after 5 s) after the test or with `stop()`. Mail is added with
 * `doveadm -c FILE save -u NAME` (the message bytes on stdin, stored as given).
 *
 * @example
 *   const dovecot = await startDovecot(t, { users: [{ name: 'alice', password: 'alicepw' }] });
 *   await dovecot.save('alice', Buffer.from('Subject: hi\r\n\r\nhello\r\n'));
 *   // IMAP on 127.0.0.1:dovecot.imapPort, POP3 on 127.0.0.1:dovecot.pop3Port
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { sleep, tempDir, type Cleanup } from './tmp.js';
import { stopChild } from './child-process.js';

export interface DovecotUser {
  name: string;
  password: string;
}

export interface DovecotOptions {
  users: DovecotUser[];
  /** More lines for dovecot.conf, appended (later settings override earlier ones). */
  extraConfig?: string[];
}

export interface DovecotServer {
  imapPort: number;
  pop3Port: number;
  /** The master's pid. */
  pid: number;
  /** The generated dovecot.conf (also for `doveadm -c`). */
  configFile: string;
  dir: string;
  /** Deliver `message` (exact bytes) to `user`'s INBOX with `doveadm save`. */
  save(user: string, message: Buffer): Promise<void>;
  /** dovecot.log so far (for a post-mortem). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const DOVECOT = process.env.DOVECOT ?? '/usr/sbin/dovecot';
const DOVEADM = process.env.DOVEADM ?? 'doveadm';

/** The Debian ids mail is stored under (RECIPES: `mail_uid = nobody`). */
const MAIL_UID = 65534;
const MAIL_GID = 65534;

function checkUser({ name, password }: DovecotUser): void {
  if (!/^[A-Za-z0-9._@+-]+$/.test(name)) throw new Error(`dovecot: bad user name ${JSON.stringify(name)}`);
  if (/[:\r\n\0]/.test(password) || password === '') throw new Error(`dovecot: a password cannot be empty or hold ':', CR, LF or NUL`);
}

/** The standalone dovecot.conf of an instance under `dir`. */
export function dovecotConfig(dir: string, imapPort: number, pop3Port: number, extra: string[] = []): string {
  return [
    `base_dir = ${join(dir, 'run')}`,
    `state_dir = ${join(dir, 'state')}`,
    'protocols = imap pop3',
    'listen = 127.0.0.1',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    'auth_failure_delay = 0',
    `log_path = ${join(dir, 'dovecot.log')}`,
    `mail_location = maildir:${join(dir, 'mail')}/%u/Maildir`,
    'mail_uid = nobody',
    'mail_gid = nogroup',
    'first_valid_uid = 1',
    'pop3_uidl_format = %08Xu%08Xv',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${join(dir, 'passwd')}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${join(dir, 'passwd')}`,
    `  default_fields = home=${join(dir, 'mail')}/%u`,
    '}',
    'service imap-login {',
    `  inet_listener imap {\n    address = 127.0.0.1\n    port = ${imapPort}\n  }`,
    '  inet_listener imaps {\n    port = 0\n  }',
    '}',
    'service pop3-login {',
    `  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${pop3Port}\n  }`,
    '  inet_listener pop3s {\n    port = 0\n  }',
    '}',
    ...extra,
    '',
  ].join('\n');
}

/** Resolves with the first bytes a TCP server on 127.0.0.1:port sends, or '' if it does not answer. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (value: string) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(500, () => done(''));
    socket.once('error', () => done(''));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\n')) done(data);
    });
  });
}

/**
 * Start Dovecot with `users`; resolves when both its IMAP and POP3 listeners greet. Needs root
 * and the dovecot-imapd and dovecot-pop3d packages.
 */
export async function startDovecot(t: Cleanup, options: DovecotOptions): Promise<DovecotServer> {
  if (process.getuid?.() !== 0) throw new Error('a private Dovecot here runs as root (mail_uid = nobody); run the tests as root');
  options.users.forEach(checkUser);
  const dir = await tempDir(t, 'postern-dovecot-');
  await chmod(dir, 0o755);
  const mailDir = join(dir, 'mail');
  await mkdir(mailDir);
  await chown(mailDir, MAIL_UID, MAIL_GID);
  await writeFile(join(dir, 'passwd'), options.users.map((u) => `${u.name}:{PLAIN}${u.password}::::::\n`).join(''), { mode: 0o644 });
  const logFile = join(dir, 'dovecot.log');
  const log = () => readFile(logFile, 'utf8').catch(() => '');

  let lastError = '';
  // freePorts() checks each port a moment before Dovecot binds it: retry on the rare clash.
  for (let attempt = 0; attempt < 3; attempt++) {
    const [imapPort, pop3Port] = (await freePorts(2)) as [number, number];
    const configFile = join(dir, 'dovecot.conf');
    await writeFile(configFile, dovecotConfig(dir, imapPort, pop3Port, options.extraConfig));

    const child = spawn(DOVECOT, ['-F', '-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    const stop = () => stopChild(child, exited, 5000);
    t.after(stop);

    const deadline = Date.now() + 10_000;
    while (child.exitCode === null && child.signalCode === null && !spawnError && Date.now() < deadline) {
      if ((await greeting(imapPort)).startsWith('* OK') && (await greeting(pop3Port)).startsWith('+OK')) {
        const save = async (user: string, message: Buffer): Promise<void> => {
          const result = await runWithInput(DOVEADM, ['-c', configFile, 'save', '-u', user], message);
          if (result.code !== 0) throw new Error(`doveadm save -u ${user} exited ${result.code}: ${result.output}\n--- ${logFile}:\n${await log()}`);
        };
        return { imapPort, pop3Port, pid: child.pid!, configFile, dir, save, log, stop };
      }
      await sleep(20);
    }
    await stop();
    if (spawnError) throw new Error(`cannot run ${DOVECOT} (${spawnError.message}); apt-get install dovecot-imapd dovecot-pop3d`);
    lastError = `${stderr}\n--- ${logFile}:\n${await log()}`;
    if (!/address already in use/i.test(lastError)) break;
  }
  throw new Error(`dovecot did not start:\n${lastError}`);
}

function runWithInput(command: string, args: string[], input: Buffer): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

