/**
 * IMAP and POP3 benchmark against Dovecot, in the same run, on the same messages: 10,000 messages
 * of about 5 KB in one INBOX, written as Maildir files into Postern's mailbox and into a private
 * Dovecot's (test/support/dovecot.ts). One small client, the same for both servers, times:
 *
 *   login+select+fetch   LOGIN, SELECT INBOX, FETCH 1:* (FLAGS ENVELOPE)
 *   fetch bodies         FETCH 1:* BODY.PEEK[]
 *   search subject       SEARCH SUBJECT quarterly   (1 message in 100 has the word)
 *   pop3 list+retr       USER/PASS, LIST, RETR 1 ... RETR n (one after the other), QUIT
 *
 * Each operation runs once to warm up (both servers build their index on first access), then
 * BENCH_RUNS times (default 3); the median is printed with the ratio Postern/Dovecot. Target
 * (issue #5): every ratio within 1.5.
 *
 *   npm run bench:imap
 *   BENCH_MESSAGES=2000 npm run bench:imap
 */
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createEnv, PASSWORD, startDovecot, cleanupList } from '../support/index.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const NOBODY = 65534;

const t = cleanupList();

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ';

function message(i: number): Buffer {
  const subject = i % 100 === 7 ? `Quarterly figures ${i}` : `Weekly report ${i}`;
  const header = [
    `Return-Path: <sender${i % 50}@example.org>`,
    `From: "Sender ${i % 50}" <sender${i % 50}@example.org>`,
    'To: Ann <ann@example.test>',
    `Cc: team${i % 7}@example.test`,
    `Subject: ${subject}`,
    `Date: ${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <bench.${i}@example.org>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    '',
  ].join('\r\n');
  let body = '';
  while (header.length + body.length < 5000) body += `${LOREM}\r\n`;
  return Buffer.from(header + body);
}

/** Write the messages as Maildir files into `maildir`/cur (seen by both servers as existing mail). */
async function fill(maildir: string, owner?: number): Promise<void> {
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
  const base = Math.floor(Date.UTC(2026, 0, 1) / 1000);
  for (let i = 0; i < MESSAGES; i++) {
    const data = message(i);
    await writeFile(join(maildir, 'cur', `${base + i}.M${i}P1.bench,S=${data.length}:2,`), data);
  }
  if (owner !== undefined) {
    for (const sub of ['', 'cur', 'new', 'tmp']) await chown(join(maildir, sub), owner, owner);
    for (let i = 0; i < MESSAGES; i++) await chown(join(maildir, 'cur', `${base + i}.M${i}P1.bench,S=${message(i).length}:2,`), owner, owner);
  }
}

/** A line-oriented client: send a command, read until the line that ends it; counts bytes. */
class Wire {
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiting: { done: (line: string) => boolean; resolve: (bytes: number) => void } | undefined;
  #bytes = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  static async open(port: number, greeting: (line: string) => boolean): Promise<Wire> {
    const socket = connect(port, '127.0.0.1');
    const wire = new Wire(socket);
    await wire.#until(greeting);
    return wire;
  }

  /** Send `line` and resolve with the bytes received until a line for which `done` is true. */
  send(line: string, done: (line: string) => boolean): Promise<number> {
    const wait = this.#until(done);
    this.#socket.write(`${line}\r\n`);
    return wait;
  }

  close(): void {
    this.#socket.destroy();
  }

  #until(done: (line: string) => boolean): Promise<number> {
    this.#bytes = 0;
    return new Promise((resolve) => {
      this.#waiting = { done, resolve };
      this.#scan();
    });
  }

  #onData(chunk: Buffer): void {
    this.#bytes += chunk.length;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#scan();
  }

  /** Look at complete lines only; literal contents are skipped as lines too, which is enough here. */
  #scan(): void {
    let start = 0;
    for (;;) {
      const end = this.#buffer.indexOf('\n', start);
      if (end < 0) break;
      const waiting = this.#waiting;
      if (waiting && waiting.done(this.#buffer.toString('latin1', start, end).replace(/\r$/, ''))) {
        this.#waiting = undefined;
        this.#buffer = this.#buffer.subarray(end + 1);
        waiting.resolve(this.#bytes);
        return;
      }
      start = end + 1;
    }
    this.#buffer = this.#buffer.subarray(start);
  }
}

const tagged = (tag: string) => (line: string) => line.startsWith(`${tag} `);

interface Server {
  name: string;
  imapPort: number;
  pop3Port: number;
  user: string;
}

async function imapOps(server: Server): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  let started = performance.now();
  const imap = await Wire.open(server.imapPort, (l) => l.startsWith('* OK'));
  await imap.send(`a LOGIN ${server.user} "${PASSWORD}"`, tagged('a'));
  await imap.send('b SELECT INBOX', tagged('b'));
  await imap.send('c FETCH 1:* (FLAGS ENVELOPE)', tagged('c'));
  times['login+select+fetch'] = performance.now() - started;

  started = performance.now();
  await imap.send('d FETCH 1:* BODY.PEEK[]', tagged('d'));
  times['fetch bodies'] = performance.now() - started;

  started = performance.now();
  let found = 0;
  await imap.send('e SEARCH SUBJECT quarterly', (l) => {
    if (l.startsWith('* SEARCH')) found = l.split(' ').length - 2;
    return l.startsWith('e ');
  });
  times['search subject'] = performance.now() - started;
  if (found !== Math.floor((MESSAGES + 92) / 100)) throw new Error(`${server.name}: SEARCH found ${found} messages`);
  await imap.send('z LOGOUT', tagged('z'));
  imap.close();

  started = performance.now();
  const pop = await Wire.open(server.pop3Port, (l) => l.startsWith('+OK'));
  await pop.send(`USER ${server.user}`, (l) => /^[+-]/.test(l));
  await pop.send(`PASS ${PASSWORD}`, (l) => /^[+-]/.test(l));
  await pop.send('LIST', (l) => l === '.');
  for (let i = 1; i <= MESSAGES; i++) await pop.send(`RETR ${i}`, (l) => l === '.');
  await pop.send('QUIT', (l) => /^[+-]/.test(l));
  pop.close();
  times['pop3 list+retr'] = performance.now() - started;
  return times;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(server: Server): Promise<Record<string, number>> {
  await imapOps(server); // warm-up: both servers index the folder on first access
  const runs: Array<Record<string, number>> = [];
  for (let i = 0; i < RUNS; i++) runs.push(await imapOps(server));
  return Object.fromEntries(Object.keys(runs[0]!).map((op) => [op, median(runs.map((r) => r[op]!))]));
}

async function main(): Promise<void> {
  console.log(`IMAP/POP3: ${MESSAGES} messages of ~5 KB in INBOX, median of ${RUNS} runs after a warm-up`);
  const dovecot = await startDovecot(t, { users: [{ name: 'bench', password: PASSWORD }] });
  await fill(join(dovecot.dir, 'mail', 'bench', 'Maildir'), NOBODY);

  const env = await createEnv(t, {
    domains: ['example.test'],
    users: ['ann@example.test'],
    mailListeners: { imap: [{ name: 'imap', tls: 'none' }], pop3: [{ name: 'pop3', tls: 'none' }] },
    extra: { imap: { allowInsecureAuth: true }, pop3: { allowInsecureAuth: true } },
  });
  await fill(join(env.dataDir, 'mail', 'example.test', 'ann'));

  const postern = await measure({ name: 'postern', imapPort: env.ports.imap!, pop3Port: env.ports.pop3!, user: 'ann@example.test' });
  const dove = await measure({ name: 'dovecot', imapPort: dovecot.imapPort, pop3Port: dovecot.pop3Port, user: 'bench' });
  console.log(`${'operation'.padEnd(20)} ${'postern'.padStart(9)} ${'dovecot'.padStart(9)}   ratio`);
  for (const op of Object.keys(postern)) {
    const ratio = postern[op]! / dove[op]!;
    console.log(`${op.padEnd(20)} ${(postern[op]! / 1000).toFixed(3).padStart(8)}s ${(dove[op]! / 1000).toFixed(3).padStart(8)}s   ${ratio.toFixed(2)}${ratio > 1.5 ? '  (over the 1.5 target)' : ''}`);
  }
}

try {
  await main();
} finally {
  await t.run();
}
