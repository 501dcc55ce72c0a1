/**
 * The POP3 server (docs/reference/pop3.md).
 *
 * Part 1 runs startPop3Listener in this process against a small in-memory MailStore, and talks to
 * it with a raw client: the wire (dot-stuffing, pipelining, long lines, STLS injection), the
 * states (UPDATE only at QUIT), [IN-USE], AUTH PLAIN, the TLS rule, idle timeout, failures.
 *
 * Part 2 runs the real server (createEnv) with real clients: python3 poplib and curl log in,
 * list, fetch and delete mail delivered over SMTP; RETR returns the Maildir file's exact bytes.
 */
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { PosternConfig } from '../core/src/config/types.js';
import { MailStoreError, type FolderSnapshot, type MailStore } from '../core/src/mailstore/mail-store.js';
import type { MailboxServerContext } from '../core/src/mailstore/mailbox-server-context.js';
import { LineReader } from '../core/src/pop3/line-reader.js';
import { dotStuffed, topOf } from '../core/src/pop3/multiline.js';
import { startPop3Listener } from '../core/src/pop3/pop3-listener.js';
import type { PluginHost } from '../core/src/plugin-host/plugin-host.js';
import type { RunningListener } from '../core/src/smtp/smtp-listener.js';
import {
  ANN,
  BOB,
  PASSWORD,
  WORLD,
  createEnv,
  makeMessage,
  python,
  run,
  posternOk,
  sendWithNodemailer,
  sleep,
  cleanupList,
  testCertificate,
  waitFor,
  type Env,
} from './support/index.js';

// ---------------------------------------------------------------- a raw POP3 client

/** A minimal POP3 client that shows exactly what the server sends. */
class RawPop3 {
  socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  ended = false;

  constructor(socket: Socket) {
    this.socket = socket;
    this.#listen(socket);
  }

  static async open(port: number, options: { tls?: boolean } = {}): Promise<{ client: RawPop3; greeting: string }> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = options.tls
        ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
        : netConnect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawPop3(socket);
    return { client, greeting: await client.line() };
  }

  #listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#notify();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#notify();
    });
    socket.on('error', () => undefined);
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** The next line (without CRLF); rejects when the server closes first. */
  async line(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lf = this.#buffer.indexOf('\r\n');
      if (lf >= 0) {
        const line = this.#buffer.subarray(0, lf).toString('utf8');
        this.#buffer = this.#buffer.subarray(lf + 2);
        return line;
      }
      if (this.ended) throw new Error(`connection closed (buffered: ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))})`);
      if (Date.now() > deadline) throw new Error('timed out waiting for a line');
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** The body of a multi-line response as bytes, dot-stuffing undone, up to the terminator. */
  async body(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      const deadline = Date.now() + 20_000;
      let lf = this.#buffer.indexOf('\r\n');
      while (lf < 0) {
        if (this.ended) throw new Error('connection closed inside a multi-line response');
        if (Date.now() > deadline) throw new Error('timed out inside a multi-line response');
        await new Promise<void>((resolve) => {
          this.#waiters.push(resolve);
          setTimeout(resolve, 100);
        });
        lf = this.#buffer.indexOf('\r\n');
      }
      let line = this.#buffer.subarray(0, lf + 2);
      this.#buffer = this.#buffer.subarray(lf + 2);
      if (line.length === 3 && line[0] === 0x2e) return Buffer.concat(parts);
      if (line[0] === 0x2e) line = line.subarray(1);
      parts.push(line);
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.line();
  }

  /** Send a command with a multi-line answer: the status line and, after +OK, the body. */
  async multi(line: string): Promise<{ status: string; body: Buffer | undefined }> {
    const status = await this.cmd(line);
    return { status, body: status.startsWith('+OK') ? await this.body() : undefined };
  }

  async lines(line: string): Promise<{ status: string; lines: string[] }> {
    const { status, body } = await this.multi(line);
    const text = body?.toString('utf8') ?? '';
    return { status, lines: text === '' ? [] : text.replace(/\r\n$/, '').split('\r\n') };
  }

  /** STLS then the TLS handshake on the same socket. */
  async stls(): Promise<string> {
    const status = await this.cmd('STLS');
    if (!status.startsWith('+OK')) return status;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = await new Promise<Socket>((resolve, reject) => {
      const s = tlsConnect({ socket: this.socket, rejectUnauthorized: false, servername: 'mx.example.test' }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.#listen(secure);
    return status;
  }

  async login(user: string, password: string): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.cmd(`PASS ${password}`);
  }

  /** Resolves when the server has closed the connection. */
  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------- part 1: in-process, fake store

const USERS: Record<string, string> = { 'ann@example.test': PASSWORD, 'bob@example.test': PASSWORD };

/** An in-memory MailStore: INBOX only, enough for POP3. Records expunges; can be told to fail. */
class FakeStore {
  readonly boxes = new Map<string, { uidValidity: number; uidNext: number; messages: Map<number, Buffer> }>();
  readonly expunged: Array<{ user: string; uids: number[] }> = [];
  failRead = false;
  failSync = false;

  box(user: string) {
    let box = this.boxes.get(user);
    if (!box) {
      box = { uidValidity: 1700000000, uidNext: 1, messages: new Map() };
      this.boxes.set(user, box);
    }
    return box;
  }

  add(user: string, data: Buffer | string): number {
    const box = this.box(user);
    const uid = box.uidNext++;
    box.messages.set(uid, Buffer.from(data));
    return uid;
  }

  asMailStore(): MailStore {
    const unsupported = () => Promise.reject(new Error('not in the fake'));
    return {
      listFolders: unsupported,
      createFolder: unsupported,
      deleteFolder: unsupported,
      renameFolder: unsupported,
      setSubscribed: unsupported,
      setFlags: unsupported,
      append: unsupported,
      copy: unsupported,
      quota: unsupported,
      sync: async (user: string, folder: string): Promise<FolderSnapshot> => {
        assert.equal(folder, 'INBOX');
        if (this.failSync) throw new Error('disk on fire');
        const box = this.box(user);
        const messages = [...box.messages].map(([uid, data]) => ({ uid, flags: [], internalDate: 0, size: data.length, modseq: 1 }));
        return {
          info: { name: 'INBOX', uidValidity: box.uidValidity, uidNext: box.uidNext, highestModseq: 1, messages: messages.length, unseen: 0, subscribed: true, hasChildren: false },
          messages,
        };
      },
      read: async (user: string, _folder: string, uid: number) => {
        if (this.failRead) throw new Error('disk on fire');
        const data = this.box(user).messages.get(uid);
        if (!data) throw new MailStoreError('NO_SUCH_MESSAGE', `no message ${uid}`);
        return data;
      },
      expunge: async (user: string, _folder: string, uids?: number[]) => {
        const box = this.box(user);
        const removed = (uids ?? []).filter((uid) => box.messages.delete(uid));
        this.expunged.push({ user, uids: removed });
        return removed;
      },
      watch: () => () => undefined,
      notifyDelivered: () => undefined,
    };
  }
}

interface FakeServer {
  store: FakeStore;
  ports: Record<string, number>;
  /** Auth hook calls seen: [username, method]. */
  authCalls: Array<[string, string]>;
}

interface FakeOptions {
  pop3?: Partial<PosternConfig['pop3']>;
  /** The `auth` hook's verdict for a username. */
  authVerdict?: (username: string) => { action: 'reject' | 'tempfail'; message?: string } | undefined;
  listeners?: Array<{ name: string; tls: 'none' | 'starttls' | 'implicit' }>;
}

async function fakeServer(t: { after(fn: () => unknown): void }, options: FakeOptions = {}): Promise<FakeServer> {
  const store = new FakeStore();
  const authCalls: Array<[string, string]> = [];
  const pop3: PosternConfig['pop3'] = {
    allowInsecureAuth: false,
    authFailureDelayMs: 200,
    idleTimeoutMs: 60_000,
    maxLineBytes: 1024,
    maxLiteralBytes: 1024 * 1024,
    limits: { connectionsPerIp: 0, maxConnections: 0, authFailuresPerIp: 0 },
    listeners: [],
    ...options.pop3,
  };
  const pipeline = {
    decide: async (hook: string, _session: unknown, attempt?: { username: string; method: string }) => {
      if (hook !== 'auth' || !attempt) return undefined;
      authCalls.push([attempt.username, attempt.method]);
      return options.authVerdict?.(attempt.username);
    },
  };
  const ctx = {
    config: { pop3 } as PosternConfig,
    directory: {
      verifyPassword: async (address: string, password: string) => (USERS[address.toLowerCase()] === password ? { address: address.toLowerCase() } : undefined),
    },
    store: store.asMailStore(),
    plugins: { acquire: () => ({ generation: { pipeline }, release: () => undefined }) } as unknown as PluginHost,
    log: pino({ level: process.env.POP3_TEST_LOG ? 'debug' : 'silent' }),
  } as unknown as MailboxServerContext;
  const { key, cert } = testCertificate();
  const tls = { key: Buffer.from(key), cert: Buffer.from(cert) };
  const running: RunningListener[] = [];
  const ports: Record<string, number> = {};
  for (const l of options.listeners ?? [{ name: 'pop3', tls: 'starttls' }, { name: 'pop3s', tls: 'implicit' }]) {
    const listener = await startPop3Listener(ctx, { ...l, host: '127.0.0.1', port: 0 }, tls);
    running.push(listener);
    ports[l.name] = listener.address.port;
  }
  t.after(() => Promise.all(running.map((l) => l.close())));
  return { store, ports, authCalls };
}

/** A client connected, through STLS, logged in as `user`. */
async function loggedIn(t: { after(fn: () => unknown): void }, server: FakeServer, user = ANN): Promise<RawPop3> {
  const { client } = await RawPop3.open(server.ports.pop3s!, { tls: true });
  t.after(() => client.close());
  const reply = await client.login(user, PASSWORD);
  assert.match(reply, /^\+OK/, reply);
  return client;
}

const DOTTY = Buffer.from('Subject: dots\r\nX-A: b\r\n\r\n.starts with a dot\r\n..two dots\r\nplain\r\n.\r\nlast line\r\n');

describe('pop3 wire parts', () => {
  test('the line reader splits CRLF and LF lines, across chunks, and reports a long line once', () => {
    const reader = new LineReader(10);
    assert.deepEqual(reader.push(Buffer.from('USER a\r\nST')), [{ kind: 'line', line: 'USER a' }]);
    assert.deepEqual(reader.push(Buffer.from('AT\r')), []);
    assert.deepEqual(reader.push(Buffer.from('\nNOOP\n')), [{ kind: 'line', line: 'STAT' }, { kind: 'line', line: 'NOOP' }]);
    assert.deepEqual(reader.push(Buffer.from('x'.repeat(11))), []);
    assert.deepEqual(reader.push(Buffer.from('x'.repeat(5))), [{ kind: 'too-long' }]);
    assert.deepEqual(reader.push(Buffer.from('y'.repeat(100))), []);
    assert.deepEqual(reader.push(Buffer.from('yy\r\nQUIT\r\n')), [{ kind: 'line', line: 'QUIT' }]);
    assert.deepEqual(reader.push(Buffer.from(`${'z'.repeat(11)}\r\n`)), [{ kind: 'too-long' }]);
    assert.deepEqual(reader.push(Buffer.from(`${'z'.repeat(10)}\r\n`)), [{ kind: 'line', line: 'z'.repeat(10) }]);
  });

  test('dot-stuffing doubles leading dots, keeps the bytes, and adds the terminator', () => {
    const out = Buffer.concat(dotStuffed(DOTTY)).toString();
    assert.equal(out, 'Subject: dots\r\nX-A: b\r\n\r\n..starts with a dot\r\n...two dots\r\nplain\r\n..\r\nlast line\r\n.\r\n');
    assert.equal(Buffer.concat(dotStuffed(Buffer.from('.x'))).toString(), '..x\r\n.\r\n');
    assert.equal(Buffer.concat(dotStuffed(Buffer.alloc(0))).toString(), '.\r\n');
    // A message without dots goes out as a slice of the original, not a copy.
    const plain = Buffer.from('a\r\nb\r\n');
    assert.equal(dotStuffed(plain)[0]!.buffer, plain.buffer);
  });

  test('TOP takes the header, the blank line and n body lines', () => {
    assert.equal(topOf(DOTTY, 0).toString(), 'Subject: dots\r\nX-A: b\r\n\r\n');
    assert.equal(topOf(DOTTY, 2).toString(), 'Subject: dots\r\nX-A: b\r\n\r\n.starts with a dot\r\n..two dots\r\n');
    assert.equal(topOf(DOTTY, 99).toString(), DOTTY.toString());
    assert.equal(topOf(Buffer.from('Subject: no body\r\n'), 3).toString(), 'Subject: no body\r\n');
  });
});

describe('pop3 server (in-process, fake store)', () => {
  test('greeting, CAPA before and after STLS, login, STAT, LIST, UIDL, RETR, TOP, DELE, RSET, QUIT', async (t) => {
    const server = await fakeServer(t);
    const one = DOTTY;
    const two = Buffer.from('Subject: two\r\n\r\nbody\r\n');
    server.store.add(ANN, one);
    server.store.add(ANN, two);
    const { client, greeting } = await RawPop3.open(server.ports.pop3!);
    t.after(() => client.close());
    assert.equal(greeting, '+OK Postern ready');

    const before = await client.lines('CAPA');
    assert.equal(before.status.slice(0, 3), '+OK');
    for (const cap of ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'STLS', 'IMPLEMENTATION Postern']) assert.ok(before.lines.includes(cap), `${cap} in ${before.lines.join('|')}`);
    assert.ok(!before.lines.includes('USER') && !before.lines.some((l) => l.startsWith('SASL')), 'no clear-text login offered before TLS');
    assert.match(await client.cmd(`USER ${ANN}`), /^-ERR \[AUTH\] /);
    assert.match(await client.cmd('STAT'), /^-ERR /, 'STAT needs a login');

    assert.match(await client.stls(), /^\+OK/);
    const afterTls = await client.lines('CAPA');
    assert.ok(afterTls.lines.includes('USER') && afterTls.lines.includes('SASL PLAIN'));
    assert.ok(!afterTls.lines.includes('STLS'));
    assert.match(await client.cmd('STLS'), /^-ERR /);

    assert.match(await client.login(ANN, PASSWORD), /^\+OK .*2 messages/);
    assert.equal(await client.cmd('STAT'), `+OK 2 ${one.length + two.length}`);
    assert.deepEqual((await client.lines('LIST')).lines, [`1 ${one.length}`, `2 ${two.length}`]);
    assert.equal(await client.cmd('LIST 2'), `+OK 2 ${two.length}`);
    assert.match(await client.cmd('LIST 3'), /^-ERR /);
    assert.match(await client.cmd('LIST x'), /^-ERR /);
    assert.deepEqual((await client.lines('UIDL')).lines, ['1 1700000000.1', '2 1700000000.2']);
    assert.equal(await client.cmd('UIDL 1'), '+OK 1 1700000000.1');

    const retr = await client.multi('RETR 1');
    assert.equal(retr.status, `+OK ${one.length} octets`);
    assert.deepEqual(retr.body, one, 'RETR returns the exact bytes, dot-stuffing undone');
    const top = await client.multi('TOP 1 1');
    assert.equal(top.body!.toString(), 'Subject: dots\r\nX-A: b\r\n\r\n.starts with a dot\r\n');
    assert.match(await client.cmd('TOP 1'), /^-ERR /);

    assert.match(await client.cmd('DELE 1'), /^\+OK/);
    assert.match(await client.cmd('DELE 1'), /^-ERR .*already deleted/);
    assert.match(await client.cmd('RETR 1'), /^-ERR /);
    assert.equal(await client.cmd('STAT'), `+OK 1 ${two.length}`);
    assert.deepEqual((await client.lines('LIST')).lines, [`2 ${two.length}`], 'numbers do not shift after DELE');
    assert.match(await client.cmd('RSET'), /^\+OK .*2 messages/);
    assert.match(await client.cmd('DELE 2'), /^\+OK/);
    assert.match(await client.cmd('NOOP'), /^\+OK/);
    assert.match(await client.cmd('USER x'), /^-ERR /, 'no USER after login');
    assert.deepEqual(server.store.expunged, [], 'nothing removed before QUIT');
    assert.match(await client.cmd('QUIT'), /^\+OK .*1 message left/);
    await client.closed();
    assert.deepEqual(server.store.expunged, [{ user: ANN, uids: [2] }]);
  });

  test('a dropped connection deletes nothing and frees the maildrop; UIDL is stable across sessions', async (t) => {
    const server = await fakeServer(t);
    server.store.add(ANN, 'Subject: a\r\n\r\na\r\n');
    server.store.add(ANN, 'Subject: b\r\n\r\nb\r\n');
    const first = await loggedIn(t, server);
    const uidl = (await first.lines('UIDL')).lines;
    assert.match(await first.cmd('DELE 1'), /^\+OK/);
    assert.match(await first.cmd('DELE 2'), /^\+OK/);
    first.close();
    await sleep(100);
    assert.deepEqual(server.store.expunged, []);
    const second = await loggedIn(t, server);
    assert.deepEqual((await second.lines('UIDL')).lines, uidl);
    assert.match(await second.cmd('QUIT'), /^\+OK/);
  });

  test('messages that arrive during a session are shown at the next login', async (t) => {
    const server = await fakeServer(t);
    server.store.add(ANN, 'Subject: a\r\n\r\na\r\n');
    const first = await loggedIn(t, server);
    server.store.add(ANN, 'Subject: b\r\n\r\nb\r\n');
    assert.match(await first.cmd('STAT'), /^\+OK 1 /);
    await first.cmd('QUIT');
    await first.closed();
    const second = await loggedIn(t, server);
    assert.match(await second.cmd('STAT'), /^\+OK 2 /);
  });

  test('a second session for the same user gets -ERR [IN-USE], also on the other listener; QUIT frees it at once', async (t) => {
    const server = await fakeServer(t);
    const first = await loggedIn(t, server);
    const { client: second } = await RawPop3.open(server.ports.pop3s!, { tls: true });
    t.after(() => second.close());
    assert.match(await second.login(ANN, PASSWORD), /^-ERR \[IN-USE\] /);
    assert.match(await second.cmd('STAT'), /^-ERR /, 'still not logged in');
    assert.match(await second.login(BOB, PASSWORD), /^\+OK/, 'another user is fine');
    const { client: third } = await RawPop3.open(server.ports.pop3!);
    t.after(() => third.close());
    await third.stls();
    assert.match(await third.login(ANN, PASSWORD), /^-ERR \[IN-USE\] /);
    await first.cmd('QUIT');
    assert.match(await third.login(ANN, PASSWORD), /^\+OK/);
  });

  test('AUTH PLAIN with an initial response and after a continuation; cancel; bad base64; other authzid', async (t) => {
    const server = await fakeServer(t);
    const plain = (authz: string, user: string, pass: string) => Buffer.from(`${authz}\0${user}\0${pass}`).toString('base64');
    const open = async () => {
      const { client } = await RawPop3.open(server.ports.pop3s!, { tls: true });
      t.after(() => client.close());
      return client;
    };
    const a = await open();
    assert.deepEqual((await a.lines('AUTH')).lines, ['PLAIN']);
    assert.match(await a.cmd(`AUTH PLAIN ${plain('', ANN, PASSWORD)}`), /^\+OK/);
    assert.match(await a.cmd('STAT'), /^\+OK/);

    const b = await open();
    assert.equal(await b.cmd('AUTH PLAIN'), '+ ');
    assert.match(await b.cmd('*'), /^-ERR /);
    assert.equal(await b.cmd('AUTH PLAIN'), '+ ');
    assert.match(await b.cmd('!!!notbase64'), /^-ERR \[AUTH\] /);
    assert.match(await b.cmd(`AUTH PLAIN ${plain(BOB, ANN, PASSWORD)}`), /^-ERR \[AUTH\] /);
    assert.match(await b.cmd('AUTH CRAM-MD5'), /^-ERR /);
    assert.match(await b.cmd(`AUTH PLAIN ${plain('', BOB, 'wrong password')}`), /^-ERR \[AUTH\] /);
    assert.equal(await b.cmd('AUTH PLAIN'), '+ ');
    assert.match(await b.cmd(plain(BOB, BOB, PASSWORD)), /^\+OK/);
    assert.deepEqual(server.authCalls.map(([, method]) => method), ['PLAIN', 'PLAIN']);
  });

  test('logins need TLS unless allowInsecureAuth; a wrong password is delayed; the auth hook can refuse', async (t) => {
    const server = await fakeServer(t, { pop3: { authFailureDelayMs: 300 }, authVerdict: (u) => (u === BOB ? { action: 'reject', message: 'Not from here' } : undefined) });
    const { client } = await RawPop3.open(server.ports.pop3!);
    t.after(() => client.close());
    assert.match(await client.cmd(`USER ${ANN}`), /^-ERR \[AUTH\] .*TLS/);
    assert.match(await client.cmd(`AUTH PLAIN ${Buffer.from(`\0${ANN}\0${PASSWORD}`).toString('base64')}`), /^-ERR \[AUTH\] .*TLS/);
    assert.match(await client.cmd(`PASS ${PASSWORD}`), /^-ERR /);
    await client.stls();
    assert.match(await client.cmd(`USER ${ANN}`), /^\+OK/);
    const started = Date.now();
    assert.match(await client.cmd('PASS not the password'), /^-ERR \[AUTH\] /);
    assert.ok(Date.now() - started >= 280, `failure delayed (${Date.now() - started} ms)`);
    assert.match(await client.login(BOB, PASSWORD), /^-ERR \[AUTH\] Not from here/);
    assert.match(await client.login(ANN, PASSWORD), /^\+OK/);

    const insecure = await fakeServer(t, { pop3: { allowInsecureAuth: true } });
    const { client: plainClient } = await RawPop3.open(insecure.ports.pop3!);
    t.after(() => plainClient.close());
    assert.ok((await plainClient.lines('CAPA')).lines.includes('USER'));
    assert.match(await plainClient.login(ANN, 'correct horse battery'), /^\+OK/);
  });

  test('a password with spaces; pipelined commands are answered in order', async (t) => {
    const server = await fakeServer(t);
    server.store.add(ANN, 'Subject: a\r\n\r\na\r\n');
    const { client } = await RawPop3.open(server.ports.pop3s!, { tls: true });
    t.after(() => client.close());
    client.write(`USER ${ANN}\r\nPASS ${PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL 1\r\nNOOP\r\n`);
    assert.match(await client.line(), /^\+OK/);
    assert.match(await client.line(), /^\+OK Logged in/);
    assert.match(await client.line(), /^\+OK 1 /);
    assert.match(await client.line(), /^\+OK/);
    assert.deepEqual((await client.body()).toString(), '1 17\r\n');
    assert.equal(await client.line(), '+OK 1 1700000000.1');
    assert.equal(await client.line(), '+OK');
  });

  test('commands pipelined after STLS are thrown away (no plaintext injection)', async (t) => {
    const server = await fakeServer(t);
    const { client } = await RawPop3.open(server.ports.pop3!);
    t.after(() => client.close());
    // Sent in one packet: a man in the middle could have added the USER line.
    client.write(`STLS\r\nUSER ${ANN}\r\n`);
    const status = await client.line();
    assert.match(status, /^\+OK/);
    client.socket.removeAllListeners('data');
    const secure = await new Promise<Socket>((resolve, reject) => {
      const s = tlsConnect({ socket: client.socket, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    const after = new RawPop3(secure);
    assert.match(await after.cmd(`PASS ${PASSWORD}`), /^-ERR /, 'the injected USER was not kept');
    assert.match(await after.cmd('NOOP'), /^-ERR /, 'still in AUTHORIZATION');
    assert.match(await after.cmd('CAPA'), /^\+OK/);
  });

  test('unknown commands, garbage and a huge line get -ERR and the connection lives; 11 bad commands in a row close it', async (t) => {
    const server = await fakeServer(t, { pop3: { maxLineBytes: 1024 } });
    const client = await loggedIn(t, server);
    assert.match(await client.cmd('FOO'), /^-ERR /);
    assert.match(await client.cmd('APOP ann@example.test 0123456789abcdef0123456789abcdef'), /^-ERR /);
    assert.match(await client.cmd(''), /^-ERR /);
    assert.match(await client.cmd('\x00\xff\x01binary'), /^-ERR /);
    assert.match(await client.cmd(`NOOP ${'x'.repeat(100_000)}`), /^-ERR .*too long/i);
    assert.match(await client.cmd('RETR 99999999999999999999'), /^-ERR /);
    assert.match(await client.cmd('NOOP'), /^\+OK/, 'the connection lives');
    for (let i = 0; i < 10; i++) assert.match(await client.cmd(`BAD${i}`), /^-ERR /);
    assert.match(await client.cmd('BAD10'), /^-ERR .*Too many bad commands/);
    await client.closed();
  });

  test('an idle connection is closed without deleting anything', async (t) => {
    const server = await fakeServer(t, { pop3: { idleTimeoutMs: 300 } });
    server.store.add(ANN, 'Subject: a\r\n\r\na\r\n');
    const client = await loggedIn(t, server);
    assert.match(await client.cmd('DELE 1'), /^\+OK/);
    assert.match(await client.line(2000), /^-ERR .*[Ii]dle/);
    await client.closed();
    assert.deepEqual(server.store.expunged, []);
  });

  test('a client that stops reading in the middle of a RETR is cut at the idle timeout and its maildrop freed', async (t) => {
    const server = await fakeServer(t, { pop3: { idleTimeoutMs: 500 } });
    server.store.add(ANN, Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(8 * 1024 * 1024, 'abcdefgh\r\n')]));
    const client = await loggedIn(t, server);
    client.socket.pause();
    client.write('RETR 1\r\n');
    const started = Date.now();
    // The server's writes are blocked on a full socket; the idle timer must still end it.
    await waitFor(async () => {
      const other = await RawPop3.open(server.ports.pop3s!, { tls: true });
      t.after(() => other.client.close());
      const reply = await other.client.login(ANN, PASSWORD);
      return reply.startsWith('+OK');
    }, 'the maildrop is free again', 5000, 200);
    assert.ok(Date.now() - started < 5000);
  });

  test('store failures answer -ERR [SYS/TEMP] and the session goes on; a message expunged elsewhere gets -ERR', async (t) => {
    const server = await fakeServer(t);
    server.store.add(ANN, 'Subject: a\r\n\r\na\r\n');
    const uid = server.store.add(ANN, 'Subject: b\r\n\r\nb\r\n');
    server.store.failSync = true;
    const { client } = await RawPop3.open(server.ports.pop3s!, { tls: true });
    t.after(() => client.close());
    assert.match(await client.login(ANN, PASSWORD), /^-ERR \[SYS\/TEMP\] /);
    server.store.failSync = false;
    assert.match(await client.login(ANN, PASSWORD), /^\+OK/, 'the failed open left no lock behind');
    server.store.failRead = true;
    assert.match(await client.cmd('RETR 1'), /^-ERR \[SYS\/TEMP\] /);
    server.store.failRead = false;
    server.store.box(ANN).messages.delete(uid);
    assert.match(await client.cmd('RETR 2'), /^-ERR .*removed/);
    assert.match(await client.cmd('RETR 1'), /^\+OK/);
    await client.body();
  });

  test('a 6 MB message with many dot lines comes back byte for byte', async (t) => {
    const server = await fakeServer(t);
    const lines = ['Subject: big', ''];
    for (let i = 0, size = 0; size < 6 * 1024 * 1024; i++) {
      const line = i % 7 === 0 ? `.dot line ${i}` : `line ${i} ${'x'.repeat(60)}`;
      lines.push(line);
      size += line.length + 2;
    }
    const big = Buffer.from(`${lines.join('\r\n')}\r\n`);
    server.store.add(ANN, big);
    const client = await loggedIn(t, server);
    const retr = await client.multi('RETR 1');
    assert.equal(retr.status, `+OK ${big.length} octets`);
    assert.ok(retr.body!.equals(big));
    assert.match(await client.cmd('NOOP'), /^\+OK/);
  });
});

// ---------------------------------------------------------------- part 2: the real server, real clients

const POPLIB = String.raw`
import json, os, poplib, ssl
env = os.environ
out = {}
try:
    ctx = ssl._create_unverified_context()
    port = int(env["PORT"])
    if env["MODE"] == "ssl":
        p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10)
    else:
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        out["capa_before"] = sorted(p.capa().keys())
        p.stls(context=ctx)
    out["welcome"] = p.getwelcome().decode()
    out["user"] = p.user(env["USER"]).decode()
    out["pass"] = p.pass_(env["PASS"]).decode()
    out["stat"] = list(p.stat())
    out["list"] = [l.decode() for l in p.list()[1]]
    out["uidl"] = [l.decode() for l in p.uidl()[1]]
    n = int(env.get("MSG", "1"))
    resp, lines, octets = p.retr(n)
    out["retr"] = b"\r\n".join(lines).decode("latin-1")
    out["retr_octets"] = octets
    out["top"] = b"\r\n".join(p.top(n, 0)[1]).decode("latin-1")
    if env.get("DELE"):
        out["dele"] = p.dele(n).decode()
    if env.get("DROP"):
        p.sock.close()
    else:
        out["quit"] = p.quit().decode()
except poplib.error_proto as e:
    out["error"] = str(e)
print(json.dumps(out))
`;

interface PoplibResult {
  welcome?: string;
  capa_before?: string[];
  user?: string;
  pass?: string;
  stat?: [number, number];
  list?: string[];
  uidl?: string[];
  retr?: string;
  retr_octets?: number;
  top?: string;
  dele?: string;
  quit?: string;
  error?: string;
}

async function poplib(vars: Record<string, string | number>): Promise<PoplibResult> {
  const result = await python(POPLIB, { USER: ANN, PASS: PASSWORD, ...vars });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as PoplibResult;
}

async function curl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return run('curl', ['-s', '-S', '--max-time', '20', '-k', ...args]);
}

async function deliver(env: Env, subject: string): Promise<{ id: string; file: Buffer }> {
  const message = makeMessage({ subject });
  const sent = await sendWithNodemailer({ port: env.ports.mx!, from: 'sender@client.example.test', to: [ANN], raw: message.bytes });
  await env.server.waitForDelivery(sent.queueId!, ANN);
  const file = (await env.mailbox(ANN)).find((f) => f.data.includes(`<${message.id}>`));
  assert.ok(file, 'delivered into the Maildir');
  return { id: message.id, file: file.data };
}

async function usage(env: Env, user: string): Promise<number> {
  const shown = await posternOk(['user', 'show', user, '--json'], { config: env.configPath });
  return (JSON.parse(shown.stdout) as { usageBytes: number }).usageBytes;
}

describe('pop3 on the real server', () => {
  let env: Env;
  const cleanup = cleanupList();
  after(async () => {
    await cleanup.run();
  });
  before(async () => {
    env = await createEnv(
      cleanup,
      {
        ...WORLD,
        mailListeners: { pop3: [{ name: 'pop3', tls: 'starttls' }, { name: 'pop3s', tls: 'implicit' }] },
        extra: { pop3: { authFailureDelayMs: 300 } },
        testPlugins: {
          'pop3-deny': `export default {
  name: 'pop3-deny',
  setup(api) {
    api.tap('auth', (session, attempt) => session.protocol === 'pop3' && attempt.username === '${BOB}' ? { action: 'reject', message: 'POP3 is off for you' } : undefined);
  },
};
`,
        },
        plugins: { 'pop3-deny': { enabled: true } },
      },
    );
  });

  test('the listeners log "pop3 listener ready"', () => {
    const ready = env.server.find((l) => l.msg === 'pop3 listener ready');
    assert.deepEqual(ready.map((l) => [l.listener, l.port]).sort(), [
      ['pop3', env.ports.pop3],
      ['pop3s', env.ports.pop3s],
    ].sort());
  });

  test('poplib (STLS) sees a message delivered over SMTP; RETR gives the Maildir bytes; DELE + dropped connection keeps it; DELE + QUIT removes it', async () => {
    const { file } = await deliver(env, 'poplib stls');
    const boxSize = (await env.mailbox(ANN)).length;
    const seen = await poplib({ PORT: env.ports.pop3!, MODE: 'stls', MSG: boxSize });
    assert.equal(seen.error, undefined, JSON.stringify(seen));
    assert.ok(seen.capa_before?.includes('STLS'));
    assert.equal(seen.welcome, '+OK Postern ready');
    assert.equal(seen.stat![0], boxSize);
    assert.equal(seen.retr, file.toString('latin1').replace(/\r\n$/, ''), 'RETR = the Maildir file');
    assert.ok(seen.top!.includes('Subject: poplib stls') && !seen.top!.includes('Hello Ann'), 'TOP n 0 is the header only');
    assert.equal(seen.list!.length, boxSize);
    assert.equal(seen.uidl!.length, boxSize);

    const dropped = await poplib({ PORT: env.ports.pop3!, MODE: 'stls', MSG: boxSize, DELE: 1, DROP: 1 });
    assert.match(dropped.dele!, /^\+OK/);
    await sleep(200);
    assert.equal((await env.mailbox(ANN)).length, boxSize, 'nothing removed without QUIT');
    const again = await poplib({ PORT: env.ports.pop3!, MODE: 'stls', MSG: boxSize });
    assert.deepEqual(again.uidl, seen.uidl, 'UIDL stable across sessions');

    const before = await usage(env, ANN);
    const removed = await poplib({ PORT: env.ports.pop3s!, MODE: 'ssl', MSG: boxSize, DELE: 1 });
    assert.match(removed.quit!, /^\+OK/);
    assert.equal((await env.mailbox(ANN)).length, boxSize - 1);
    assert.ok(!(await env.mailbox(ANN)).some((f) => f.data.equals(file)), 'the file is gone');
    await waitFor(async () => (await usage(env, ANN)) === before - file.length, 'usage drops by the message size', 5000);
  });

  test('curl over STLS and pop3s: list, fetch exact bytes, delete', async () => {
    const { file } = await deliver(env, 'curl test');
    const count = (await env.mailbox(ANN)).length;
    const auth = ['--user', `${ANN}:${PASSWORD}`];
    const listing = await curl(['--ssl-reqd', ...auth, `pop3://127.0.0.1:${env.ports.pop3}/`]);
    assert.equal(listing.code, 0, listing.stderr);
    assert.equal(listing.stdout.trim().split('\r\n').length, count);
    // -l with a message number sends LIST n; its answer is a status line, which curl only shows with -v.
    const one = await curl(['-v', '--ssl-reqd', '-l', ...auth, `pop3://127.0.0.1:${env.ports.pop3}/${count}`]);
    assert.equal(one.code, 0, one.stderr);
    assert.ok(one.stderr.includes(`< +OK ${count} ${file.length}\r\n`) || one.stderr.includes(`< +OK ${count} ${file.length}\n`), `LIST n gives the size of the Maildir file\n${one.stderr}`);
    const overStls = await curl(['--ssl-reqd', ...auth, `pop3://127.0.0.1:${env.ports.pop3}/${count}`]);
    assert.equal(overStls.stdout, file.toString('utf8'), 'curl RETR over STLS = the Maildir file');
    const fetched = await run('curl', ['-s', '-k', ...auth, '--output', '-', `pop3s://127.0.0.1:${env.ports.pop3s}/${count}`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(fetched.stdout, file.toString('utf8'), 'curl RETR = the Maildir file');
    const dele = await curl([...auth, '-X', `DELE ${count}`, '-I', `pop3s://127.0.0.1:${env.ports.pop3s}/`]);
    assert.equal(dele.code, 0, dele.stderr);
    await waitFor(async () => (await env.mailbox(ANN)).length === count - 1, 'curl DELE removed the message');
  });

  test('refusals: no TLS, wrong password (delayed), a plugin on the auth hook, [IN-USE]', async (t) => {
    const { client } = await RawPop3.open(env.ports.pop3!);
    t.after(() => client.close());
    assert.match(await client.cmd(`USER ${ANN}`), /^-ERR \[AUTH\] /);
    await client.stls();
    const started = Date.now();
    assert.match(await client.login(ANN, 'wrong password'), /^-ERR \[AUTH\] /);
    assert.ok(Date.now() - started >= 280);
    assert.match(await client.login(BOB, PASSWORD), /^-ERR \[AUTH\] POP3 is off for you/);
    const curlBob = await curl(['--ssl-reqd', '--user', `${BOB}:${PASSWORD}`, `pop3://127.0.0.1:${env.ports.pop3}/`]);
    assert.notEqual(curlBob.code, 0, 'curl is refused too');
    assert.match(await client.login(ANN, PASSWORD), /^\+OK/);
    const { client: second } = await RawPop3.open(env.ports.pop3s!, { tls: true });
    t.after(() => second.close());
    assert.match(await second.login(ANN, PASSWORD), /^-ERR \[IN-USE\] /);
    assert.match(await client.cmd('QUIT'), /^\+OK/);
    assert.match(await second.login(ANN, PASSWORD), /^\+OK/);
    await second.cmd('QUIT');
  });

  test('AUTH PLAIN, TOP, malformed input and a huge line; the server lives', async (t) => {
    const { file } = await deliver(env, 'top test');
    const count = (await env.mailbox(ANN)).length;
    const { client } = await RawPop3.open(env.ports.pop3s!, { tls: true });
    t.after(() => client.close());
    assert.equal(await client.cmd('AUTH PLAIN'), '+ ');
    assert.match(await client.cmd(Buffer.from(`\0${ANN}\0${PASSWORD}`).toString('base64')), /^\+OK/);
    const top = await client.multi(`TOP ${count} 1`);
    assert.match(top.status, /^\+OK/);
    const text = file.toString('utf8');
    const headerEnd = text.indexOf('\r\n\r\n') + 4;
    assert.equal(top.body!.toString('utf8'), text.slice(0, text.indexOf('\r\n', headerEnd) + 2), 'header, blank line, one body line');
    assert.match(await client.cmd('\x01\x02garbage'), /^-ERR /);
    assert.match(await client.cmd(`LIST ${'9'.repeat(200_000)}`), /^-ERR /);
    assert.match(await client.cmd('STAT'), /^\+OK/);
    await client.cmd('QUIT');
    assert.ok(env.server.alive);
  });
});

test('stopping the server ends idle POP3 sessions with -ERR [SYS/TEMP] and deletes nothing', async (t) => {
  const env = await createEnv(t, { ...WORLD, mailListeners: { pop3: [{ name: 'pop3s', tls: 'implicit' }] } });
  await deliver(env, 'before stop');
  const { client } = await RawPop3.open(env.ports.pop3s!, { tls: true });
  t.after(() => client.close());
  assert.match(await client.login(ANN, PASSWORD), /^\+OK/);
  assert.match(await client.cmd('DELE 1'), /^\+OK/);
  const status = await env.server.stop(10_000);
  assert.equal(status.code, 0, env.server.stderr);
  assert.match(await client.line(), /^-ERR \[SYS\/TEMP\] /);
  assert.equal((await env.mailbox(ANN)).length, 1);
});
