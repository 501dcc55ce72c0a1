/**
 * The IMAP server on the wire, over raw sockets: exact bytes through APPEND and FETCH, two
 * sessions on one folder, UIDPLUS and CONDSTORE codes, SEARCH, and hostile or broken input
 * (path traversal, bad modified UTF-7, unbalanced parentheses, oversized literals and lines,
 * garbage), after which the server must still answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { PassThrough } from 'node:stream';
import { CommandReader } from '../core/src/imap/protocol/command-reader.js';
import { decodeMailboxName, encodeMailboxName } from '../core/src/imap/protocol/mutf7.js';
import { formatSequenceSet, parseSequenceSet, resolveSequenceNumbers, resolveUidIndexes } from '../core/src/imap/protocol/sequence-set.js';
import { ANN, BOB, cleanupList, createEnv, makeMessage, PASSWORD, sendWithNodemailer, WORLD, type Env } from './support/index.js';

/** One response line; a literal's bytes are inline (latin1) and also kept as Buffers. */
interface ResponseLine {
  text: string;
  literals: Buffer[];
}

interface Reply {
  /** The tagged line without the tag ("OK [READ-WRITE] SELECT completed"). */
  status: string;
  untagged: ResponseLine[];
}

/**
 * A deliberately dumb IMAP client: it writes what it is given, parses responses (with
 * literals) as they come, and can wait for a tagged reply or for the connection to close.
 */
class RawImap {
  socket: Socket | TLSSocket;
  #buffer = Buffer.alloc(0);
  #lines: ResponseLine[] = [];
  #current: ResponseLine | undefined;
  #waiters: Array<() => void> = [];
  #tag = 0;
  closed = false;
  transcript = '';

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.#attach(socket);
  }

  static async connect(port: number, tls: boolean): Promise<{ client: RawImap; greeting: string }> {
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s: Socket | TLSSocket = tls
        ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s))
        : netConnect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawImap(socket);
    const greeting = await client.nextLine();
    return { client, greeting: greeting.text };
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.transcript += chunk.toString('latin1');
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (socket !== this.socket) return;
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #parse(): void {
    for (;;) {
      const line = this.#current ?? { text: '', literals: [] };
      const lf = this.#buffer.indexOf('\r\n');
      if (lf < 0) return;
      const text = this.#buffer.toString('latin1', 0, lf);
      const literal = /\{(\d+)\}$/.exec(text);
      if (literal) {
        const size = Number(literal[1]);
        if (this.#buffer.length < lf + 2 + size) return;
        const data = this.#buffer.subarray(lf + 2, lf + 2 + size);
        line.text += `${text}\r\n${data.toString('latin1')}`;
        line.literals.push(Buffer.from(data));
        this.#buffer = this.#buffer.subarray(lf + 2 + size);
        this.#current = line;
        continue;
      }
      line.text += text;
      this.#buffer = this.#buffer.subarray(lf + 2);
      this.#current = undefined;
      this.#lines.push(line);
      this.#wake();
    }
  }

  async #until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.closed) throw new Error(`connection closed while waiting for ${what}; transcript:\n${this.transcript.slice(-3000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; transcript:\n${this.transcript.slice(-3000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next response line, whatever it is. */
  nextLine(timeoutMs = 5000): Promise<ResponseLine> {
    return this.#until(() => this.#lines.shift(), timeoutMs, 'a line');
  }

  /** Lines received and not yet read. */
  get pending(): ResponseLine[] {
    return this.#lines;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  nextTag(): string {
    return `t${++this.#tag}`;
  }

  /** Send `tag command` and collect everything up to the tagged reply. */
  async command(command: string | Buffer, timeoutMs = 5000): Promise<Reply> {
    const tag = this.nextTag();
    this.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(command) ? command : Buffer.from(command, 'utf8'), Buffer.from('\r\n')]));
    return this.reply(tag, timeoutMs);
  }

  /** Collect lines up to the one tagged `tag`. */
  async reply(tag: string, timeoutMs = 5000): Promise<Reply> {
    const untagged: ResponseLine[] = [];
    for (;;) {
      const line = await this.nextLine(timeoutMs);
      if (line.text.startsWith(`${tag} `)) return { status: line.text.slice(tag.length + 1), untagged };
      untagged.push(line);
    }
  }

  /** STARTTLS: from here on, TLS. */
  async startTls(): Promise<void> {
    const reply = await this.command('STARTTLS');
    assert.match(reply.status, /^OK/);
    const plain = this.socket;
    plain.removeAllListeners('data');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.#attach(secure);
  }

  async login(user = ANN): Promise<void> {
    const reply = await this.command(`LOGIN ${user} "${PASSWORD}"`);
    assert.match(reply.status, /^OK/, this.transcript);
  }

  /** Resolves when the server has closed the connection. */
  waitClosed(timeoutMs = 5000): Promise<true> {
    return this.#until(() => (this.closed ? true : undefined), timeoutMs, 'the connection to close');
  }

  close(): void {
    this.socket.destroy();
  }
}

const texts = (reply: Reply) => reply.untagged.map((l) => l.text);

describe('IMAP protocol', () => {
  let env: Env;
  const clients: RawImap[] = [];
  // the suite's own cleanup (a `before` hook's context has no `after`)
  const cleanup = cleanupList();
  after(async () => {
    for (const c of clients) c.close();
    await cleanup.run();
  });

  before(async () => {
    env = await createEnv(cleanup, {
      ...WORLD,
      mailListeners: { imap: [{ name: 'imap', tls: 'starttls' }, { name: 'imaps', tls: 'implicit' }] },
      extra: { imap: { maxLineBytes: 4096, maxLiteralBytes: 200_000, authFailureDelayMs: 50 } },
    });
  });
  async function open(options: { tls?: 'implicit' | 'starttls' | 'none'; login?: string | false } = {}): Promise<RawImap> {
    const mode = options.tls ?? 'implicit';
    const { client } = await RawImap.connect(mode === 'implicit' ? env.ports.imaps! : env.ports.imap!, mode === 'implicit');
    clients.push(client);
    if (mode === 'starttls') await client.startTls();
    if (options.login !== false) await client.login(options.login ?? ANN);
    return client;
  }

  async function deliver(to: string, subject: string, body?: string): Promise<void> {
    const sent = await sendWithNodemailer({ port: env.ports.mx!, from: 'sender@client.example.test', to: [to], raw: makeMessage({ subject, to, ...(body ? { body } : {}) }).bytes });
    await env.server.waitForDelivery(sent.queueId!, to);
  }

  test('greeting, capabilities and LOGINDISABLED before TLS', async () => {
    const { client, greeting } = await RawImap.connect(env.ports.imap!, false);
    clients.push(client);
    assert.match(greeting, /^\* OK \[CAPABILITY IMAP4rev1 .*\] Postern ready$/);
    for (const cap of ['LITERAL+', 'SASL-IR', 'IDLE', 'UIDPLUS', 'MOVE', 'NAMESPACE', 'ID', 'ENABLE', 'CONDSTORE', 'UNSELECT', 'SPECIAL-USE', 'QUOTA', 'STARTTLS', 'LOGINDISABLED']) {
      assert.ok(greeting.split(/[ \]]/).includes(cap), `${cap} in ${greeting}`);
    }
    assert.ok(!greeting.includes('AUTH=PLAIN'), 'no AUTH=PLAIN before TLS');
    const login = await client.command(`LOGIN ${ANN} "${PASSWORD}"`);
    assert.match(login.status, /^NO \[PRIVACYREQUIRED\]/);
    const auth = await client.command('AUTHENTICATE PLAIN AGFubkBleGFtcGxlLnRlc3QAeA==');
    assert.match(auth.status, /^NO \[PRIVACYREQUIRED\]/);
    await client.startTls();
    const caps = await client.command('CAPABILITY');
    const line = texts(caps)[0]!;
    assert.ok(line.includes('AUTH=PLAIN') && !line.includes('STARTTLS') && !line.includes('LOGINDISABLED'), line);
    const plain = Buffer.from(`\0${ANN}\0${PASSWORD}`).toString('base64');
    const ok = await client.command(`AUTHENTICATE PLAIN ${plain}`);
    assert.match(ok.status, /^OK \[CAPABILITY /);
  });

  test('a failed login is NO [AUTHENTICATIONFAILED]; AUTHENTICATE with a continuation', async () => {
    const client = await open({ login: false });
    const bad = await client.command(`LOGIN ${ANN} wrong-password`);
    assert.match(bad.status, /^NO \[AUTHENTICATIONFAILED\]/);
    const tag = client.nextTag();
    client.write(`${tag} AUTHENTICATE PLAIN\r\n`);
    assert.equal((await client.nextLine()).text, '+ ');
    client.write(`${Buffer.from(`\0${ANN}\0${PASSWORD}`).toString('base64')}\r\n`);
    assert.match((await client.reply(tag)).status, /^OK/);
    const again = await client.command('LOGIN x y');
    assert.match(again.status, /^BAD/);
  });

  test('APPEND then FETCH BODY[] returns the exact bytes (8-bit, CRLF, LITERAL+)', async () => {
    const client = await open();
    const eightBit = Buffer.concat([
      Buffer.from('From: a@example.test\r\nSubject: =?utf-8?q?bin=C3=A4r?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from([0x80, 0xe4, 0xf6, 0xfc, 0xff, 0x0d, 0x0a]),
      Buffer.from('Grüße aus Köln\r\n.\r\n..\r\nline without end'),
    ]);
    // synchronising literal
    const tag = client.nextTag();
    client.write(`${tag} APPEND INBOX (\\Seen $Label1) "01-Feb-2024 10:20:30 +0100" {${eightBit.length}}\r\n`);
    assert.match((await client.nextLine()).text, /^\+ /);
    client.write(Buffer.concat([eightBit, Buffer.from('\r\n')]));
    const appended = await client.reply(tag);
    const m = /^OK \[APPENDUID (\d+) (\d+)\]/.exec(appended.status);
    assert.ok(m, appended.status);
    // non-synchronising literal (LITERAL+): no continuation
    const second = Buffer.from('Subject: plus\r\n\r\nbody\r\n');
    const plus = await client.command(Buffer.concat([Buffer.from(`APPEND INBOX {${second.length}+}\r\n`), second]));
    const m2 = /^OK \[APPENDUID (\d+) (\d+)\]/.exec(plus.status);
    assert.ok(m2, plus.status);
    assert.equal(Number(m2[2]), Number(m[2]) + 1);

    await client.command('SELECT INBOX');
    const fetched = await client.command(`UID FETCH ${m[2]} (BODY.PEEK[] FLAGS INTERNALDATE RFC822.SIZE)`);
    const line = fetched.untagged.find((l) => l.text.includes('FETCH'))!;
    assert.deepEqual(line.literals[0], eightBit);
    assert.match(line.text, /FLAGS \(\\Seen \$Label1( \\Recent)?\)/);
    assert.match(line.text, /INTERNALDATE "\d\d-Feb-2024 \d\d:\d\d:30 [+-]\d{4}"/);
    assert.match(line.text, new RegExp(`RFC822.SIZE ${eightBit.length}`));
    const partial = await client.command(`UID FETCH ${m[2]} (BODY.PEEK[TEXT]<1.4>)`);
    assert.deepEqual(partial.untagged[0]!.literals[0], Buffer.from([0xe4, 0xf6, 0xfc, 0xff]));
    assert.match(partial.untagged[0]!.text, /BODY\[TEXT\]<1> \{4\}/);
    const second2 = await client.command(`UID FETCH ${m2[2]} BODY.PEEK[]`);
    assert.deepEqual(second2.untagged[0]!.literals[0], second);
  });

  test('FETCH items: ENVELOPE, BODYSTRUCTURE, sections, macros, \\Seen on a non-PEEK fetch', async () => {
    await deliver(BOB, 'fetch items');
    const client = await open({ login: BOB });
    await client.command('SELECT INBOX');
    const all = await client.command('FETCH 1 ALL');
    assert.match(all.untagged[0]!.text, /^\* 1 FETCH \(FLAGS \(\\Recent\) INTERNALDATE "[^"]+" RFC822.SIZE \d+ ENVELOPE \(".*" "fetch items" \(\("Sender" NIL "sender" "client.example.test"\)\)/);
    const full = await client.command('FETCH 1 (BODYSTRUCTURE BODY UID)');
    assert.match(full.untagged[0]!.text, /UID 1 BODYSTRUCTURE \("text" "plain" \("charset" "utf-8"\) NIL NIL "7bit" \d+ \d+ NIL NIL NIL NIL\) BODY \("text" "plain"/);
    const header = await client.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject To)] RFC822.HEADER)');
    const h = header.untagged[0]!;
    assert.match(h.text, /BODY\[HEADER.FIELDS \(SUBJECT TO\)\] \{\d+\}/);
    assert.equal(h.literals[0]!.toString(), `To: ${BOB}\r\nSubject: fetch items\r\n\r\n`);
    assert.match(h.literals[1]!.toString(), /^Received: .*\r\n\r\n$/s);
    const flagsBefore = await client.command('FETCH 1 FLAGS');
    assert.doesNotMatch(flagsBefore.untagged[0]!.text, /\\Seen/);
    const text = await client.command('FETCH 1 BODY[TEXT]');
    assert.match(text.untagged[0]!.text, /FLAGS \(\\Seen \\Recent\)/);
    assert.match(text.untagged[0]!.literals[0]!.toString(), /^Hello Ann,/);
    const bad = await client.command('FETCH 1 (BODY[HEADER.FIELDS] FLAGS)');
    assert.match(bad.status, /^BAD/);
    const none = await client.command('FETCH 5 FLAGS');
    assert.match(none.status, /^BAD/);
  });

  test('two sessions: flags and expunges of one are reported to the other', async () => {
    await deliver(ANN, 'shared one');
    await deliver(ANN, 'shared two');
    const a = await open();
    const b = await open({ tls: 'starttls' });
    const selA = await a.command('SELECT INBOX');
    const exists = Number(/^\* (\d+) EXISTS/.exec(texts(selA).find((l) => l.endsWith('EXISTS'))!)![1]);
    await b.command('SELECT INBOX');
    await a.command(`STORE ${exists} +FLAGS.SILENT (\\Flagged)`);
    const noop = await b.command('NOOP');
    assert.ok(texts(noop).some((l) => new RegExp(`^\\* ${exists} FETCH \\(UID \\d+ FLAGS \\(\\\\Flagged\\)\\)`).test(l)), texts(noop).join('\n'));

    await a.command(`STORE ${exists} +FLAGS.SILENT (\\Deleted)`);
    const expunged = await a.command('EXPUNGE');
    assert.deepEqual(texts(expunged), [`* ${exists} EXPUNGE`]);
    // b is told nothing of the expunge during a FETCH (RFC 3501 7.4.1)...
    const fetch = await b.command(`FETCH ${exists} FLAGS`);
    assert.ok(!texts(fetch).some((l) => l.includes('EXPUNGE')), texts(fetch).join('\n'));
    // ...but at the next NOOP
    const later = await b.command('NOOP');
    assert.ok(texts(later).includes(`* ${exists} EXPUNGE`), texts(later).join('\n'));
    // a new delivery is EXISTS in both
    await deliver(ANN, 'shared three');
    const na = await a.command('NOOP');
    const nb = await b.command('NOOP');
    assert.ok(texts(na).includes(`* ${exists} EXISTS`), texts(na).join('\n'));
    assert.ok(texts(nb).includes(`* ${exists} EXISTS`), texts(nb).join('\n'));
    // \Recent goes to the first session that sees the message: a (which also still has "shared one")
    assert.ok(texts(na).includes('* 2 RECENT'), texts(na).join('\n'));
    assert.ok(texts(nb).includes('* 0 RECENT'), texts(nb).join('\n'));
  });

  test('UIDPLUS: APPENDUID, COPYUID, UID EXPUNGE, MOVE', async () => {
    const client = await open({ login: BOB });
    await client.command('CREATE Archive/2024');
    const appended: number[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = Buffer.from(`Subject: uidplus ${i}\r\n\r\nbody ${i}\r\n`);
      const reply = await client.command(Buffer.concat([Buffer.from(`APPEND Archive/2024 {${msg.length}+}\r\n`), msg]));
      appended.push(Number(/APPENDUID \d+ (\d+)/.exec(reply.status)![1]));
    }
    const sel = await client.command('SELECT Archive/2024');
    assert.ok(texts(sel).includes('* 3 EXISTS'));
    const copied = await client.command(`UID COPY ${appended[0]}:${appended[1]} Trash`);
    assert.match(copied.status, new RegExp(`^OK \\[COPYUID \\d+ ${appended[0]}:${appended[1]} \\d+:\\d+\\]`));
    const missing = await client.command('COPY 1 Nowhere');
    assert.match(missing.status, /^NO \[TRYCREATE\]/);
    // UID EXPUNGE removes only the named messages that are \Deleted
    await client.command('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    const ux = await client.command(`UID EXPUNGE ${appended[1]}:${appended[2]}`);
    assert.deepEqual(texts(ux), ['* 2 EXPUNGE']);
    const left = await client.command('UID SEARCH ALL');
    assert.deepEqual(texts(left), [`* SEARCH ${appended[0]} ${appended[2]}`]);
    const moved = await client.command(`UID MOVE ${appended[2]} Trash`);
    assert.match(texts(moved)[0]!, new RegExp(`^\\* OK \\[COPYUID \\d+ ${appended[2]} \\d+\\]`));
    assert.equal(texts(moved)[1], '* 2 EXPUNGE');
    assert.match(moved.status, /^OK/);
    const status = await client.command('STATUS Trash (MESSAGES UIDNEXT)');
    assert.match(texts(status)[0]!, /^\* STATUS "Trash" \(MESSAGES 3 UIDNEXT \d+\)$/);
  });

  test('CONDSTORE: HIGHESTMODSEQ, MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE', async () => {
    await deliver(BOB, 'condstore');
    const client = await open({ login: BOB });
    const sel = await client.command('SELECT INBOX (CONDSTORE)');
    const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(texts(sel).join('\n'))![1]);
    assert.ok(highest > 0);
    const f = await client.command('FETCH 1:* (MODSEQ)');
    assert.equal(f.untagged.length, 2);
    const modseq = Number(/MODSEQ \((\d+)\)/.exec(f.untagged[0]!.text)![1]);
    const stored = await client.command(`STORE 1 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Answered)`);
    assert.match(stored.status, /^OK/);
    const newModseq = Number(/MODSEQ \((\d+)\)/.exec(stored.untagged[0]!.text)![1]);
    assert.ok(newModseq > modseq);
    const conflict = await client.command(`STORE 1 (UNCHANGEDSINCE ${modseq}) -FLAGS (\\Answered)`);
    assert.match(conflict.status, /^OK \[MODIFIED 1\]/);
    const since = await client.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${newModseq - 1})`);
    assert.equal(since.untagged.length, 1);
    assert.match(since.untagged[0]!.text, /\\Answered/);
    const none = await client.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${newModseq})`);
    assert.equal(none.untagged.length, 0);
    const search = await client.command(`SEARCH MODSEQ ${newModseq}`);
    assert.match(texts(search)[0]!, new RegExp(`^\\* SEARCH \\d+ \\(MODSEQ ${newModseq}\\)$`));
    const status = await client.command('STATUS INBOX (HIGHESTMODSEQ)');
    assert.match(texts(status)[0]!, new RegExp(`HIGHESTMODSEQ ${newModseq}`));
    const enable = await client.command('ENABLE CONDSTORE');
    assert.deepEqual(texts(enable), ['* ENABLED CONDSTORE']);
  });

  test('SEARCH keys', async () => {
    const client = await open({ login: BOB });
    await client.command('CREATE Searches');
    const messages = [
      'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: apples\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\nX-Tag: red\r\n\r\nThe quick brown fox\r\n',
      'From: Carol <carol@example.test>\r\nTo: bob@example.test\r\nCc: dave@example.test\r\nSubject: =?utf-8?q?B=C3=A4ume?=\r\nDate: Mon, 15 Jan 2024 10:00:00 +0000\r\n\r\njumps over\r\n',
      `From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: cherries\r\nDate: Thu, 01 Feb 2024 10:00:00 +0000\r\n\r\n${'x'.repeat(3000)}\r\n`,
    ];
    const flags = ['(\\Seen)', '(\\Flagged $Work)', '()'];
    const dates = ['"02-Jan-2024 10:00:00 +0000"', '"16-Jan-2024 10:00:00 +0000"', '"02-Feb-2024 10:00:00 +0000"'];
    for (let i = 0; i < messages.length; i++) {
      const data = Buffer.from(messages[i]!);
      await client.command(Buffer.concat([Buffer.from(`APPEND Searches ${flags[i]} ${dates[i]} {${data.length}+}\r\n`), data]));
    }
    await client.command('SELECT Searches');
    const cases: Array<[string, string]> = [
      ['ALL', '1 2 3'],
      ['FROM alice', '1 3'],
      ['FROM "Carol"', '2'],
      ['CHARSET UTF-8 SUBJECT {6+}\r\nbäume', '2'],
      ['CHARSET US-ASCII TO bob', '1 2 3'],
      ['CC dave', '2'],
      ['SEEN', '1'],
      ['UNSEEN', '2 3'],
      ['FLAGGED', '2'],
      ['KEYWORD $Work', '2'],
      ['UNKEYWORD $Work', '1 3'],
      ['OR SEEN FLAGGED', '1 2'],
      ['NOT SEEN', '2 3'],
      ['(FROM alice UNSEEN)', '3'],
      ['OR (FROM alice SEEN) (SUBJECT cherries)', '1 3'],
      ['LARGER 1000', '3'],
      ['SMALLER 1000', '1 2'],
      ['HEADER X-Tag red', '1'],
      ['BODY "brown fox"', '1'],
      ['TEXT jumps', '2'],
      ['TEXT apples', '1'],
      ['SINCE 16-Jan-2024', '2 3'],
      ['BEFORE 16-Jan-2024', '1'],
      ['ON 2-Feb-2024', '3'],
      ['SENTBEFORE 15-Jan-2024', '1'],
      ['SENTON 15-Jan-2024', '2'],
      ['SENTSINCE 15-Jan-2024', '2 3'],
      ['2:*', '2 3'],
      ['1,3', '1 3'],
      ['UID 1:2', '1 2'],
      ['NEW', '2 3'],
      ['DELETED', ''],
      ['UNDELETED DRAFT', ''],
    ];
    for (const [criteria, expected] of cases) {
      const reply = await client.command(`SEARCH ${criteria}`);
      assert.match(reply.status, /^OK/, criteria);
      assert.deepEqual(texts(reply), [`* SEARCH${expected ? ` ${expected}` : ''}`], criteria);
    }
    const uid = await client.command('UID SEARCH FROM alice');
    assert.match(texts(uid)[0]!, /^\* SEARCH \d+ \d+$/);
    const charset = await client.command('SEARCH CHARSET KOI8-R TEXT x');
    assert.match(charset.status, /^NO \[BADCHARSET \(UTF-8 US-ASCII\)\]/);
    for (const broken of ['SEARCH (FROM alice', 'SEARCH OR SEEN', 'SEARCH FROBNICATE', 'SEARCH SINCE 32-Jan-2024', 'SEARCH LARGER x', 'SEARCH NOT']) {
      const reply = await client.command(broken);
      assert.match(reply.status, /^BAD/, broken);
    }
    const deep = await client.command(`SEARCH ${'NOT '.repeat(500)}ALL`);
    assert.match(deep.status, /^BAD/);
  });

  test('LIST, LSUB, STATUS, NAMESPACE, quota, folders with non-ASCII names', async () => {
    const client = await open({ login: BOB });
    const ns = await client.command('NAMESPACE');
    assert.deepEqual(texts(ns), ['* NAMESPACE (("" "/")) NIL NIL']);
    const delimiter = await client.command('LIST "" ""');
    assert.deepEqual(texts(delimiter), ['* LIST (\\Noselect) "/" ""']);
    const created = await client.command('CREATE "Entw&APw-rfe/Pl&AOQ-ne"');
    assert.match(created.status, /^OK/);
    const all = await client.command('LIST "" "*"');
    const lines = texts(all);
    assert.ok(lines.includes('* LIST (\\HasNoChildren \\Sent) "/" "Sent"'), lines.join('\n'));
    assert.ok(lines.includes('* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/Pl&AOQ-ne"'), lines.join('\n'));
    const top = await client.command('LIST "" "%"');
    assert.ok(texts(top).some((l) => /^\* LIST \([^)]*\) "\/" "Entw&APw-rfe"$/.test(l)), texts(top).join('\n'));
    assert.ok(!texts(top).some((l) => l.includes('Pl&AOQ-ne')));
    const special = await client.command('LIST (SPECIAL-USE) "" "*"');
    assert.ok(texts(special).every((l) => /\\(Sent|Drafts|Junk|Trash|Archive)/.test(l)), texts(special).join('\n'));
    await client.command('SUBSCRIBE "Entw&APw-rfe/Pl&AOQ-ne"');
    const lsub = await client.command('LSUB "" "Entw*"');
    assert.ok(texts(lsub).includes('* LSUB () "/" "Entw&APw-rfe/Pl&AOQ-ne"'), texts(lsub).join('\n'));
    const status = await client.command('STATUS "Entw&APw-rfe/Pl&AOQ-ne" (MESSAGES UNSEEN UIDVALIDITY RECENT)');
    assert.match(texts(status)[0]!, /^\* STATUS "Entw&APw-rfe\/Pl&AOQ-ne" \(MESSAGES 0 UNSEEN 0 UIDVALIDITY \d+ RECENT 0\)$/);
    const renamed = await client.command('RENAME "Entw&APw-rfe/Pl&AOQ-ne" "Pl&AOQ-ne"');
    assert.match(renamed.status, /^OK/);
    const exists = await client.command('CREATE "Pl&AOQ-ne"');
    assert.match(exists.status, /^NO \[ALREADYEXISTS\]/);
    const deleted = await client.command('DELETE "Pl&AOQ-ne"');
    assert.match(deleted.status, /^OK/);
    const gone = await client.command('SELECT "Pl&AOQ-ne"');
    assert.match(gone.status, /^NO \[NONEXISTENT\]/);
    const inbox = await client.command('DELETE INBOX');
    assert.match(inbox.status, /^NO/);
    const root = await client.command('GETQUOTAROOT INBOX');
    assert.equal(texts(root)[0], '* QUOTAROOT "INBOX" ""');
    assert.match(texts(root)[1]!, /^\* QUOTA "" \((STORAGE \d+ \d+)?\)$/);
    const quota = await client.command('GETQUOTA ""');
    assert.match(texts(quota)[0]!, /^\* QUOTA ""/);
    const examine = await client.command('EXAMINE INBOX');
    assert.match(examine.status, /^OK \[READ-ONLY\]/);
    assert.ok(texts(examine).includes('* OK [PERMANENTFLAGS ()] Flags permitted'));
    const store = await client.command('STORE 1 +FLAGS (\\Deleted)');
    assert.match(store.status, /^NO/);
    const unselect = await client.command('UNSELECT');
    assert.match(unselect.status, /^OK/);
    const id = await client.command('ID ("name" "raw-test" "version" "1")');
    assert.match(texts(id)[0]!, /^\* ID \("name" "Postern" "version" "[^"]+"\)$/);
  });

  test('IDLE reports a delivery at once', async () => {
    const client = await open({ login: BOB });
    const sel = await client.command('SELECT INBOX');
    const exists = Number(/^\* (\d+) EXISTS/.exec(texts(sel).find((l) => l.endsWith('EXISTS'))!)![1]);
    const tag = client.nextTag();
    client.write(`${tag} IDLE\r\n`);
    assert.equal((await client.nextLine()).text, '+ idling');
    const sent = Date.now();
    void deliver(BOB, 'while idling');
    const line = await client.nextLine(5000);
    assert.equal(line.text, `* ${exists + 1} EXISTS`);
    assert.ok(Date.now() - sent < 2000, `told after ${Date.now() - sent} ms`);
    client.write('DONE\r\n');
    const done = await client.reply(tag);
    assert.match(done.status, /^OK/);
  });

  test('path traversal and bad names are refused; the session goes on', async () => {
    const client = await open();
    for (const command of ['SELECT ../../etc', 'SELECT "../../etc/passwd"', 'CREATE /etc', 'CREATE "a/../../b"', 'CREATE "..\\\\x"', 'RENAME INBOX ../x', 'APPEND ../x {1+}\r\nx', 'CREATE "a.b"', 'STATUS /etc (MESSAGES)']) {
      const reply = await client.command(command);
      assert.match(reply.status, /^(NO|BAD)/, `${command}: ${reply.status}`);
    }
    for (const bad of ['CREATE "&AGE"', 'CREATE "&AOQ-&AOQ-"', 'CREATE "&AGEAZQ-"', 'SELECT "&ZZZ-"', 'CREATE "\xe4x"', 'CREATE "&AEEAQgBD-"']) {
      const reply = await client.command(Buffer.from(bad, 'latin1'));
      assert.match(reply.status, /^BAD/, `${bad}: ${reply.status}`);
    }
    const noop = await client.command('NOOP');
    assert.match(noop.status, /^OK/);
    // nothing was created outside the users' Maildirs
    assert.deepEqual((await readdir(join(env.dataDir, 'mail'))).sort(), ['example.test']);
    assert.deepEqual((await readdir(join(env.dataDir, 'mail', 'example.test'))).sort(), ['ann', 'bob']);
    assert.ok(!(await readdir(join(env.dataDir, 'mail', 'example.test', 'ann'))).some((name) => name.includes('..') || name.includes('etc')));
  });

  test('malformed input gets BAD or NO and the server keeps answering', async () => {
    const client = await open();
    await client.command('SELECT INBOX');
    const cases = [
      'FETCH 1 (FLAGS',
      'FETCH 1 FLAGS)',
      'SEARCH (ALL',
      'LIST "" ("a"',
      'STORE 1 +FLAGS (\\Seen',
      'FETCH 1 BODY[1.2.3',
      'FETCH 1 BODY[]<5>',
      'FETCH 0 FLAGS',
      'FETCH a:b FLAGS',
      'LOGIN "unterminated',
      'UID',
      'UID NOOP',
      'NOSUCHCOMMAND',
      'SELECT',
      'APPEND INBOX (\\Seen) "bad date" {3+}\r\nabc',
      'STORE 1 +FLAGS (\\Bogus)',
      'ID ("a")',
    ];
    for (const command of cases) {
      const reply = await client.command(command);
      assert.match(reply.status, /^(BAD|NO)/, `${JSON.stringify(command)}: ${reply.status}`);
    }
    // no tag at all, garbage bytes
    client.write('\r\n');
    client.write(Buffer.concat([randomBytes(200).map((b) => (b === 0x0a || b === 0x7b || b === 0x7d ? 0x41 : b)), Buffer.from('\r\n')]));
    const star = await client.nextLine();
    assert.match(star.text, /^\S+ BAD/);
    const ok = await client.command('NOOP');
    assert.match(ok.status, /^OK/);
  });

  test('literal and line limits: TOOBIG before the data, BAD for long lines, close for a runaway non-synchronising literal', async () => {
    const client = await open();
    // a synchronising literal far over the limit: refused before the client sends it
    const tag = client.nextTag();
    client.write(`${tag} APPEND INBOX {999999999}\r\n`);
    const refused = await client.reply(tag);
    assert.match(refused.status, /^NO \[TOOBIG\]/);
    // a literal over the limit for a command that is not APPEND
    const login = client.nextTag();
    client.write(`${login} SELECT {100000}\r\n`);
    assert.match((await client.reply(login)).status, /^NO \[TOOBIG\]/);
    // a line over maxLineBytes (4096 here): BAD, and the next command works
    const long = await client.command(`SELECT "${'a'.repeat(10_000)}"`);
    assert.match(long.status, /^BAD/);
    const noop = await client.command('NOOP');
    assert.match(noop.status, /^OK/);
    // a literal within the limit still works
    const fine = Buffer.from('Subject: fine\r\n\r\nfine\r\n');
    const appended = await client.command(Buffer.concat([Buffer.from(`APPEND INBOX {${fine.length}+}\r\n`), fine]));
    assert.match(appended.status, /^OK \[APPENDUID/);

    // a non-synchronising literal over the limit: BAD, then the connection closes
    const runaway = await open();
    const t = runaway.nextTag();
    runaway.write(`${t} APPEND INBOX {300000+}\r\n`);
    runaway.write(Buffer.alloc(300_000, 0x61));
    const bad = await runaway.reply(t);
    assert.match(bad.status, /^BAD/);
    await runaway.waitClosed();
    // the server still serves new connections
    const fresh = await open();
    assert.match((await fresh.command('NOOP')).status, /^OK/);
  });

  test('pipelined commands are answered in order; commands after STARTTLS in the same packet are dropped', async () => {
    const client = await open();
    client.write('p1 NOOP\r\np2 CAPABILITY\r\np3 LIST "" INBOX\r\n');
    assert.match((await client.reply('p1')).status, /^OK/);
    assert.match((await client.reply('p2')).status, /^OK/);
    assert.match((await client.reply('p3')).status, /^OK/);

    const { client: plain } = await RawImap.connect(env.ports.imap!, false);
    clients.push(plain);
    plain.write('s1 STARTTLS\r\ns2 NOOP\r\n');
    assert.match((await plain.reply('s1')).status, /^OK/);
    const socket = plain.socket;
    socket.removeAllListeners('data');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    // s2 was sent in plain text before the handshake: it must not be answered inside TLS
    const seen: string[] = [];
    secure.on('data', (d: Buffer) => seen.push(d.toString('latin1')));
    secure.write('s3 NOOP\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(seen.join('').startsWith('s3 OK'), seen.join(''));
    secure.destroy();
  });

  test('commands in the wrong state are BAD', async () => {
    const client = await open({ login: false });
    for (const command of ['SELECT INBOX', 'FETCH 1 FLAGS', 'LIST "" *', 'APPEND INBOX {1+}\r\nx']) {
      const reply = await client.command(command);
      assert.match(reply.status, /^BAD/, command);
    }
    await client.login();
    for (const command of ['FETCH 1 FLAGS', 'EXPUNGE', 'CLOSE', 'LOGIN a b', 'STARTTLS']) {
      const reply = await client.command(command);
      assert.match(reply.status, /^BAD/, command);
    }
    const logout = await client.command('LOGOUT');
    assert.deepEqual(texts(logout), ['* BYE Logging out']);
    assert.match(logout.status, /^OK/);
    await client.waitClosed();
  });

  test('no command failed inside the server (no SERVERBUG)', () => {
    const failures = env.server.find((l) => l.msg === 'imap command failed' || l.msg === 'imap session failed' || l.msg === 'imap connection failed');
    assert.deepEqual(failures, []);
  });
});

/** Refuses IMAP connections on the listener "blocked" and IMAP logins of bob (the `connect` and `auth` hooks). */
const POLICY_PLUGIN = `export default {
  name: 'imap-policy',
  setup(api) {
    api.tap('connect', (session) => (session.protocol === 'imap' && session.listener === 'blocked' ? { action: 'reject', message: 'Not on this port' } : undefined));
    api.tap('auth', (session, attempt) => (session.protocol === 'imap' && attempt.username === 'bob@example.test' ? { action: 'reject', message: 'No IMAP for bob' } : undefined));
  },
};
`;

describe('IMAP policy: hooks, connection limits, quota, timeouts', () => {
  let env: Env;
  const clients: RawImap[] = [];
  const cleanup = cleanupList();
  after(async () => {
    for (const c of clients) c.close();
    await cleanup.run();
  });

  before(async () => {
    env = await createEnv(
      cleanup,
      {
        domains: ['example.test'],
        users: [ANN, BOB, { address: 'carol@example.test', quota: '4K' }],
        mailListeners: { imap: [{ name: 'imaps', tls: 'implicit' }, { name: 'blocked', tls: 'implicit' }] },
        testPlugins: { 'imap-policy': POLICY_PLUGIN },
        plugins: { 'imap-policy': { enabled: true } },
        extra: { imap: { idleTimeoutMs: 1500, authFailureDelayMs: 0, limits: { connectionsPerIp: 3, authFailuresPerIp: 3 } } },
      },
    );
  });

  async function connect(listener = 'imaps'): Promise<{ client: RawImap; greeting: string }> {
    const opened = await RawImap.connect(env.ports[listener]!, true);
    clients.push(opened.client);
    return opened;
  }

  test('the connect hook refuses with BYE; the auth hook refuses a valid login', async () => {
    const { client, greeting } = await connect('blocked');
    assert.equal(greeting, '* BYE [UNAVAILABLE] Not on this port');
    await client.waitClosed();
    const { client: ok } = await connect();
    const bob = await ok.command(`LOGIN ${BOB} "${PASSWORD}"`);
    assert.match(bob.status, /^NO \[AUTHENTICATIONFAILED\] No IMAP for bob/);
    const ann = await ok.command(`LOGIN ${ANN} "${PASSWORD}"`);
    assert.match(ann.status, /^OK/);
    ok.close();
  });

  test('quota: STORAGE in KiB and APPEND over quota is NO [OVERQUOTA]', async () => {
    const { client } = await connect();
    await client.login('carol@example.test');
    const root = await client.command('GETQUOTAROOT INBOX');
    assert.deepEqual(texts(root), ['* QUOTAROOT "INBOX" ""', '* QUOTA "" (STORAGE 0 4)']);
    const big = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(5000)}\r\n`);
    const refused = await client.command(Buffer.concat([Buffer.from(`APPEND INBOX {${big.length}+}\r\n`), big]));
    assert.match(refused.status, /^NO \[OVERQUOTA\]/);
    const small = Buffer.from(`Subject: small\r\n\r\n${'x'.repeat(1500)}\r\n`);
    assert.match((await client.command(Buffer.concat([Buffer.from(`APPEND INBOX {${small.length}+}\r\n`), small]))).status, /^OK/);
    const after = await client.command('GETQUOTA ""');
    assert.deepEqual(texts(after), ['* QUOTA "" (STORAGE 2 4)']);
    const setquota = await client.command('SETQUOTA "" (STORAGE 100000)');
    assert.match(setquota.status, /^NO/);
    // CLOSE expunges \Deleted messages without EXPUNGE responses
    await client.command('SELECT INBOX');
    await client.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const close = await client.command('CLOSE');
    assert.deepEqual(texts(close), []);
    assert.match(close.status, /^OK/);
    const status = await client.command('STATUS INBOX (MESSAGES)');
    assert.deepEqual(texts(status), ['* STATUS "INBOX" (MESSAGES 0)']);
    client.close();
  });

  test('too many connections from one address get BYE [UNAVAILABLE]; a closed one frees its slot', async () => {
    await new Promise((resolve) => setTimeout(resolve, 100)); // earlier tests' connections are gone
    const held = [await connect(), await connect(), await connect()];
    const { client, greeting } = await connect();
    assert.match(greeting, /^\* BYE \[UNAVAILABLE\]/);
    await client.waitClosed();
    held[0]!.client.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { greeting: again } = await connect();
    assert.match(again, /^\* OK/);
    for (const h of held) h.client.close();
  });

  test('an idle connection is closed with BYE after imap.idleTimeoutMs', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { client } = await connect();
    await client.login();
    const started = Date.now();
    const bye = await client.nextLine(5000);
    assert.match(bye.text, /^\* BYE /);
    await client.waitClosed();
    const waited = Date.now() - started;
    assert.ok(waited >= 1200 && waited < 4000, `closed after ${waited} ms`);
  });

  test('after too many failed logins from one address, even a right password is refused', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { client } = await connect();
    // bob's refusal by the auth hook did not count; these do (authFailuresPerIp: 3)
    for (let i = 0; i < 3; i++) assert.match((await client.command(`LOGIN ${ANN} wrong${i}`)).status, /^NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await client.command(`LOGIN ${ANN} "${PASSWORD}"`)).status, /^NO \[LIMIT\]/);
    client.close();
  });
});

describe('IMAP wire pieces', () => {
  test('modified UTF-7: RFC 3501 examples, round trips, strict decoding', () => {
    assert.equal(encodeMailboxName('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(decodeMailboxName('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
    for (const name of ['INBOX', 'Entwürfe', 'a&b', '&', 'Ünïcödé/子', '😀 smile', 'Trash']) assert.equal(decodeMailboxName(encodeMailboxName(name)), name);
    assert.equal(encodeMailboxName('a&b'), 'a&-b');
    for (const bad of ['&Jjo!', '&U,BTFw-&ZeVnLIqe-', '&AGE-', '&2D0-', '&Jjo', 'a\u00e4', '&U,BTF-', '&-&']) {
      assert.throws(() => decodeMailboxName(Buffer.from(bad, 'latin1')), /modified UTF-7/, bad);
    }
  });

  test('sequence sets', () => {
    assert.deepEqual(resolveSequenceNumbers(parseSequenceSet('1:3,5,7:*'), 8), [1, 2, 3, 5, 7, 8]);
    assert.deepEqual(resolveSequenceNumbers(parseSequenceSet('5:*'), 3), [3]);
    assert.deepEqual(resolveSequenceNumbers(parseSequenceSet('1:*'), 0), []);
    assert.throws(() => resolveSequenceNumbers(parseSequenceSet('4'), 3));
    assert.throws(() => parseSequenceSet('0'));
    assert.throws(() => parseSequenceSet('1::2'));
    assert.deepEqual(resolveUidIndexes(parseSequenceSet('100:*'), [3, 7, 9]), [2]);
    assert.deepEqual(resolveUidIndexes(parseSequenceSet('4:8,1:3,3'), [3, 7, 9]), [0, 1]);
    assert.equal(formatSequenceSet([1, 2, 3, 5, 7, 8]), '1:3,5,7:8');
  });

  test('the command reader frames literals and enforces its limits without buffering', async () => {
    const socket = new PassThrough();
    let continuations = 0;
    const reader = new CommandReader(socket, { maxLineBytes: 100, maxDiscardBytes: 1000, literalLimit: (line) => (line.includes(Buffer.from('APPEND')) ? 50 : 10) }, () => continuations++);
    socket.write('a1 LOGIN {3}\r\nann {3+}\r\npw!\r\n');
    const first = await reader.next();
    assert.deepEqual(first, { kind: 'command', data: Buffer.from('a1 LOGIN {3}\r\nann {3+}\r\npw!') });
    assert.equal(continuations, 1);
    socket.write('a2 SELECT {11}\r\n');
    assert.deepEqual(await reader.next(), { kind: 'error', tag: 'a2', status: 'NO', code: 'TOOBIG', text: 'Literal too big', fatal: false });
    socket.write(`a3 NOOP ${'x'.repeat(300)}\r\na4 NOOP\r\n`);
    assert.equal(((await reader.next()) as { status: string }).status, 'BAD');
    assert.deepEqual(await reader.next(), { kind: 'command', data: Buffer.from('a4 NOOP') });
    const pending = reader.next();
    socket.write('a5 APPEND x {40}\r\n');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(continuations, 2);
    socket.write(`${'y'.repeat(40)}\r\n`);
    assert.deepEqual(await pending, { kind: 'command', data: Buffer.from(`a5 APPEND x {40}\r\n${'y'.repeat(40)}`) });
    socket.write('a6 APPEND x {60+}\r\n');
    assert.deepEqual(await reader.next(), { kind: 'error', tag: 'a6', status: 'BAD', code: 'TOOBIG', text: 'Non-synchronising literal too big', fatal: true });
    // continuation lines: no literals, a line over the limit is reported, not buffered
    socket.write('DONE {5}\r\n');
    assert.deepEqual(await reader.nextLine(), { kind: 'line', data: Buffer.from('DONE {5}') });
    socket.write(`${'z'.repeat(500)}\r\n`);
    assert.deepEqual(await reader.nextLine(), { kind: 'too-long', fatal: false });
    // more than maxDiscardBytes without a line end: the connection must go
    socket.write('z'.repeat(600));
    socket.write('z'.repeat(600));
    assert.deepEqual(await reader.nextLine(), { kind: 'too-long', fatal: true });
    socket.end();
    assert.deepEqual(await reader.next(), { kind: 'end' });
  });
});
