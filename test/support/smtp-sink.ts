/**
 * A remote SMTP server that keeps what it receives: Postfix's `smtp-sink` on 127.0.0.1 and a free
 * port, dumping each transaction to a file (`-d DIR/%s.`; see `man smtp-sink`). Fast (RECIPES: 1000
 * one-message connections in 0.38 s), so it is also the benchmark's far end.
 *
 * What `messages()` returns, parsed from the dump files:
 * - `from`, `to`: the MAIL FROM / RCPT TO addresses without <>; `mailArgs`, `rcptArgs`: the full
 *   arguments as sent (`<a@x> SIZE=120 BODY=8BITMIME`, `<b@y> ORCPT=rfc822;b@y`); `helo`: the last
 *   HELO/EHLO argument of the session.
 * - `data`: the message after SMTP dot-unstuffing. smtp-sink stores lines with LF endings; we turn
 *   every LF back into CRLF, so a message with CRLF lines comes back byte for byte, but a bare LF
 *   sent by the client also comes back as CRLF. 8-bit bytes and long lines are kept.
 * - Only finished transactions: smtp-sink deletes the file of a transaction that ends without
 *   "." (RSET, disconnect, rejected RCPT), and a file it still holds open is skipped.
 * - A transaction refused at "." (`reject: { '.': ... }`) is still in the dump: every dump under
 *   that option is a message the client was told was refused.
 *
 * What smtp-sink can do to a client (all commands, all clients alike; there are no
 * per-recipient replies — use smtp-peer.ts for those):
 * - `reject`: answer a command with 4xx (`-r`, default "450 4.3.0 Error: command failed", text
 *   from `softReply`/`-b`) or 5xx (`-f`, "500 5.3.0 Error: command failed", `hardReply`/`-B`).
 *   Commands: CONNECT (the greeting), HELO, EHLO, MAIL, RCPT, DATA, "." (end of data), QUIT….
 *   A reject turns off PIPELINING in the EHLO reply.
 * - `hangUp` (`-q`): close the connection without replying after the command.
 * - `close421` (`-Q`): reply "421 4.0.0 Server closing connection" and close.
 * - `delaySeconds` (`-W CMD:N`): wait N whole seconds (>= 1) before replying to the command.
 * It advertises PIPELINING, 8BITMIME, AUTH PLAIN LOGIN, XCLIENT, XFORWARD, ENHANCEDSTATUSCODES, DSN
 * (no SIZE, STARTTLS, SMTPUTF8, CHUNKING); `args` passes other flags (`-a`: no AUTH, `-8`, ...).
 *
 * As root it runs with `-u nobody` (required), so its dump directory is world-writable. Stopped by
 * pid (SIGTERM) after the test. Ready in ~10 ms.
 *
 * @example
 *   const sink = await startSmtpSink(t, { reject: { RCPT: '4xx' } });
 *   // ... deliver to 127.0.0.1:sink.port ...
 *   const [message] = await sink.waitForMessages(1);
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { sleep, tempDir, waitFor, type Cleanup } from './tmp.js';
import { stopChild } from './child-process.js';

export type SinkCommand = 'CONNECT' | 'HELO' | 'EHLO' | 'MAIL' | 'RCPT' | 'DATA' | '.' | 'RSET' | 'NOOP' | 'VRFY' | 'QUIT';

export interface SmtpSinkOptions {
  /** '4xx' → `-r CMD`, '5xx' → `-f CMD`. */
  reject?: Partial<Record<SinkCommand, '4xx' | '5xx'>>;
  /** The whole 4xx reply line (`-b`), e.g. "451 4.7.1 Try again later". */
  softReply?: string;
  /** The whole 5xx reply line (`-B`), e.g. "550 5.1.1 No such user". */
  hardReply?: string;
  /** Disconnect without replying after these commands (`-q`). */
  hangUp?: SinkCommand[];
  /** Reply 421 and disconnect after these commands (`-Q`). */
  close421?: SinkCommand[];
  /** Whole seconds (>= 1) to wait before replying to a command (`-W CMD:N`). */
  delaySeconds?: Partial<Record<SinkCommand, number>>;
  /** Name in the greeting and EHLO reply (`-h`); default "smtp-sink". */
  hostname?: string;
  /** More smtp-sink flags, placed before the address. */
  args?: string[];
}

export interface SinkMessage {
  from: string;
  to: string[];
  helo: string | undefined;
  mailArgs: string;
  rcptArgs: string[];
  /** The message as the client sent it, CRLF line endings, dot-unstuffed. */
  data: Buffer;
  /** The dump file. */
  file: string;
}

export interface SmtpSink {
  port: number;
  /** "127.0.0.1:PORT" */
  address: string;
  pid: number;
  /** Where the dump files are. */
  dumpDir: string;
  /** Finished transactions so far, oldest first. */
  messages(): Promise<SinkMessage[]>;
  /** Resolves with messages() once it holds at least `n`. */
  waitForMessages(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  stop(): Promise<void>;
}

const SINK_PATHS = ['/usr/sbin/smtp-sink', '/usr/lib/postfix/sbin/smtp-sink', '/usr/local/sbin/smtp-sink'];

/** The smtp-sink binary: $SMTP_SINK, the usual places (often not on a non-root PATH), or PATH. */
export function smtpSinkPath(): string {
  return process.env.SMTP_SINK ?? SINK_PATHS.find((p) => existsSync(p)) ?? 'smtp-sink';
}

function sinkArgs(options: SmtpSinkOptions): string[] {
  const args: string[] = [];
  const soft = Object.entries(options.reject ?? {}).filter(([, v]) => v === '4xx').map(([c]) => c);
  const hard = Object.entries(options.reject ?? {}).filter(([, v]) => v === '5xx').map(([c]) => c);
  if (soft.length) args.push('-r', soft.join(','));
  if (hard.length) args.push('-f', hard.join(','));
  if (options.softReply) args.push('-b', options.softReply);
  if (options.hardReply) args.push('-B', options.hardReply);
  if (options.hangUp?.length) args.push('-q', options.hangUp.join(','));
  if (options.close421?.length) args.push('-Q', options.close421.join(','));
  for (const [command, seconds] of Object.entries(options.delaySeconds ?? {})) {
    if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`smtp-sink delays are whole seconds >= 1 (got ${command}: ${seconds})`);
    args.push('-W', `${command}:${seconds}`);
  }
  if (options.hostname) args.push('-h', options.hostname);
  return [...args, ...(options.args ?? [])];
}

/** Parse one dump file (see the file comment); undefined if it is not a whole transaction. */
export function parseSinkDump(raw: Buffer, file = ''): SinkMessage | undefined {
  const text = raw.toString('latin1');
  if (!text.endsWith('\n\n')) return undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.pop(); // '' after the last LF
  let helo: string | undefined;
  let mailArgs: string | undefined;
  const rcptArgs: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(': ');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (name === 'X-Helo-Args') helo = value;
    else if (name === 'X-Mail-Args') mailArgs = value;
    else if (name === 'X-Rcpt-Args') rcptArgs.push(value);
    else if (name === 'Received') break;
  }
  if (mailArgs === undefined || i === lines.length) return undefined;
  // The smtp-sink Received header is three lines: "Received: from …", "\tby …;", "\tdate".
  i++;
  while (i < lines.length && lines[i]!.startsWith('\t')) i++;
  const body = lines.slice(i).map((l) => `${l}\r\n`).join('');
  return {
    from: addressOf(mailArgs),
    to: rcptArgs.map(addressOf),
    helo,
    mailArgs,
    rcptArgs,
    data: Buffer.from(body, 'latin1'),
    file,
  };
}

/** "<a@b> SIZE=1" → "a@b"; "<>" → "". */
function addressOf(args: string): string {
  const match = /^<([^>]*)>/.exec(args);
  return match ? match[1]! : args.split(' ')[0]!;
}

/** Paths that process `pid` holds open (Linux /proc). */
async function openFiles(pid: number): Promise<Set<string>> {
  const open = new Set<string>();
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return open;
  }
  for (const fd of fds) {
    try {
      open.add(await readlink(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return open;
}

/** How many sockets listen on 127.0.0.1:port (smtp-sink sets SO_REUSEPORT, so a clash does not fail). */
async function listeners(port: number): Promise<number> {
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').filter((l) => {
    const cols = l.trim().split(/\s+/);
    return cols[1] === local && cols[3] === '0A';
  }).length;
}

/** True when 127.0.0.1:port accepts a TCP connection (not a greeting: CONNECT may be delayed or refused). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Start smtp-sink (see the file comment); stopped after the test. */
export async function startSmtpSink(t: Cleanup, options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const dir = await tempDir(t, 'postern-sink-');
  const dumpDir = join(dir, 'dump');
  await mkdir(dumpDir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // smtp-sink refuses to run as root; as nobody it must reach and write the dump directory.
    await chmod(dir, 0o755);
    await chmod(dumpDir, 0o777);
  }
  const extra = sinkArgs(options);
  const binary = smtpSinkPath();
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = [...(asRoot ? ['-u', 'nobody'] : []), ...extra, '-d', `${dumpDir}/%s.`, `127.0.0.1:${port}`, '1024'];
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const stop = () => stopChild(child, exited);
    t.after(stop);

    const deadline = Date.now() + 5000;
    let ready = false;
    while (!ready && child.exitCode === null && child.signalCode === null && !spawnError && Date.now() < deadline) {
      ready = await accepts(port);
      if (!ready) await sleep(10);
    }
    if (ready && (await listeners(port)) === 1) {
      return makeSink(port, child.pid!, dumpDir, stop);
    }
    await stop();
    if (spawnError) throw new Error(`cannot run ${binary} (${spawnError.message}); it is in the postfix package`);
    lastError = ready ? `another process also listens on 127.0.0.1:${port}` : stderr || 'not listening within 5 s';
    if (!ready && !/address already in use/i.test(stderr)) break;
  }
  throw new Error(`smtp-sink did not start: ${lastError}`);
}

function makeSink(port: number, pid: number, dumpDir: string, stop: () => Promise<void>): SmtpSink {
  const messages = async (): Promise<SinkMessage[]> => {
    const names = await readdir(dumpDir);
    const open = await openFiles(pid);
    const found: Array<{ message: SinkMessage; mtime: number }> = [];
    for (const name of names) {
      const file = join(dumpDir, name);
      if (open.has(file)) continue;
      try {
        const [raw, info] = await Promise.all([readFile(file), stat(file)]);
        const message = parseSinkDump(raw, file);
        if (message) found.push({ message, mtime: info.mtimeMs });
      } catch {
        // deleted meanwhile (an aborted transaction)
      }
    }
    return found.sort((a, b) => a.mtime - b.mtime || a.message.file.localeCompare(b.message.file)).map((f) => f.message);
  };
  return {
    port,
    address: `127.0.0.1:${port}`,
    pid,
    dumpDir,
    messages,
    async waitForMessages(n, timeoutMs = 5000) {
      return waitFor(async () => {
        const list = await messages();
        return list.length >= n ? list : undefined;
      }, `${n} message(s) at smtp-sink :${port}`, timeoutMs);
    },
    stop,
  };
}

