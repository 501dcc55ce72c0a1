import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { MailboxAccessConfig, MailboxListenerConfig } from '../config/types.js';
import type { MailStore } from '../mailstore/mail-store.js';
import type { MailboxSession, SessionGuard } from '../mailstore/session-guard.js';
import type { Pop3Command, Pop3Conn, Pop3State } from './command.js';
import { COMMANDS } from './commands/index.js';
import { LineReader, type LineEvent } from './line-reader.js';
import type { Maildrop, MaildropLocks } from './maildrop.js';
import { RespCode } from './response-codes.js';

/** Bad commands in a row (unknown, malformed, wrong state, too long) before the connection is closed. */
export const MAX_BAD_COMMANDS = 10;
/** Lines waiting to be handled (pipelining) before the socket stops reading. */
const MAX_QUEUED_LINES = 64;
/** After we end a connection, how long the client has to read the rest and close before the socket is cut. */
const CLOSE_GRACE_MS = 10_000;
/** Bytes per socket write of a multi-line response. */
const WRITE_BLOCK = 64 * 1024;
/** Responses are ASCII lines of at most 512 octets (RFC 2449 §4); keep text well inside that. */
const MAX_TEXT = 400;

/** What one connection needs from its listener. */
export interface Pop3ConnectionDeps {
  listener: MailboxListenerConfig;
  settings: MailboxAccessConfig;
  guard: SessionGuard;
  locks: MaildropLocks;
  store: MailStore;
  log: Logger;
  /** For STLS on a STARTTLS listener. */
  secureContext: SecureContext | undefined;
}

/**
 * One POP3 connection: the state machine around the wire. Bytes go through the LineReader; each
 * line is dispatched, in order and one at a time (PIPELINING), to its command in commands/; the
 * answers go out through the methods of Pop3Conn, with backpressure. Every handler runs inside a
 * try/catch: a bug answers -ERR [SYS/TEMP] and the connection goes on.
 */
export class Pop3Connection implements Pop3Conn {
  readonly session: MailboxSession;
  readonly settings: MailboxAccessConfig;
  readonly guard: SessionGuard;
  readonly locks: MaildropLocks;
  readonly store: MailStore;
  readonly log: Logger;
  pendingUser: string | undefined;
  #state: Pop3State = 'authorization';
  #maildrop: Maildrop | undefined;

  readonly #deps: Pop3ConnectionDeps;
  #socket: Socket;
  readonly #reader: LineReader;
  readonly #queue: LineEvent[] = [];
  #wake: (() => void) | undefined;
  #badInRow = 0;
  #closing = false;
  #closed = false;
  /** The client half-closed: finish the lines already received, then close. */
  #inputEnded = false;
  #closeTimer: NodeJS.Timeout | undefined;
  #busy = false;
  #shutdownAsked = false;
  readonly #onData = (chunk: Buffer) => this.#received(chunk);
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;

  constructor(socket: Socket, session: MailboxSession, deps: Pop3ConnectionDeps) {
    this.#socket = socket;
    this.session = session;
    this.#deps = deps;
    this.settings = deps.settings;
    this.guard = deps.guard;
    this.locks = deps.locks;
    this.store = deps.store;
    this.log = deps.log;
    this.#reader = new LineReader(deps.settings.maxLineBytes);
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#attach(socket);
  }

  get state(): Pop3State {
    return this.#state;
  }

  get maildrop(): Maildrop | undefined {
    return this.#maildrop;
  }

  get canStartTls(): boolean {
    return this.#deps.listener.tls === 'starttls' && !this.session.secure && this.#deps.secureContext !== undefined && this.#state === 'authorization';
  }

  /** Resolves when the socket has closed and the session's resources are released. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Greet the client and serve its commands until the connection ends. */
  async serve(): Promise<void> {
    await this.#writeLine('+OK Postern ready');
    for (;;) {
      const event = await this.#next();
      if (!event) break;
      this.#busy = true;
      try {
        if (event.kind === 'too-long') await this.bad(`Line too long (limit ${this.settings.maxLineBytes} octets)`);
        else await this.#dispatch(event.line);
      } finally {
        this.#busy = false;
      }
      if (this.#shutdownAsked && !this.#closing) await this.#refuseAndClose(`[${RespCode.SYS_TEMP}] Server shutting down`);
    }
    this.close();
  }

  /** The server is stopping: close now when idle, else right after the command in progress. */
  shutdown(): void {
    this.#shutdownAsked = true;
    if (!this.#busy && !this.#closing) void this.#refuseAndClose(`[${RespCode.SYS_TEMP}] Server shutting down`);
  }

  /** Close at once, without waiting for writes (end of a grace period). */
  destroy(): void {
    this.#socket.destroy();
  }

  // ---- Pop3Conn: answers

  async ok(text: string): Promise<void> {
    this.#badInRow = 0;
    await this.#writeLine(text === '' ? '+OK' : `+OK ${clean(text)}`);
  }

  async err(text: string): Promise<void> {
    this.#badInRow = 0;
    await this.#writeLine(`-ERR ${clean(text)}`);
  }

  async bad(text: string): Promise<void> {
    this.#badInRow++;
    if (this.#badInRow > MAX_BAD_COMMANDS) {
      this.log.warn({ ip: this.session.remoteAddress, listener: this.session.listener }, 'pop3 connection closed: too many bad commands');
      return this.#refuseAndClose('Too many bad commands, closing connection');
    }
    await this.#writeLine(`-ERR ${clean(text)}`);
  }

  async multiline(first: string, body: Buffer | Buffer[]): Promise<void> {
    this.#badInRow = 0;
    const chunks = Array.isArray(body) ? body : [body];
    await this.#write([Buffer.from(`+OK ${clean(first)}\r\n`), ...chunks]);
  }

  async challenge(text: string): Promise<void> {
    await this.#writeLine(`+ ${clean(text)}`);
  }

  async readLine(): Promise<string | undefined> {
    const event = await this.#next();
    return event?.kind === 'line' ? event.line : undefined;
  }

  // ---- Pop3Conn: state changes

  enterTransaction(maildrop: Maildrop): void {
    this.#maildrop = maildrop;
    this.#state = 'transaction';
    this.pendingUser = undefined;
  }

  async startTls(): Promise<void> {
    const raw = this.#socket;
    const secureContext = this.#deps.secureContext;
    if (!secureContext) throw new Error('STLS without a TLS context');
    // Stop reading and forget whatever was pipelined after STLS: only the handshake may follow.
    raw.off('data', this.#onData);
    raw.pause();
    // The TLS socket takes over reads and writes; the idle timer of the plain one would no longer see them.
    raw.setTimeout(0);
    this.#queue.length = 0;
    this.#reader.clear();
    this.#badInRow = 0;
    await this.#writeLine('+OK Begin TLS negotiation', true);
    if (this.#closed) return;
    const secure = new TLSSocket(raw, { isServer: true, secureContext });
    this.#socket = secure;
    const handshake = new Promise<boolean>((resolve) => {
      secure.once('secure', () => resolve(true));
      secure.once('error', () => resolve(false));
      secure.once('close', () => resolve(false));
    });
    this.#attach(secure);
    if (!(await handshake)) {
      secure.destroy();
      return;
    }
    this.session.secure = true;
    this.log.debug({ ip: this.session.remoteAddress, listener: this.session.listener, protocol: secure.getProtocol() }, 'pop3 STLS done');
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    // Free the maildrop now, not when the socket has closed: a client that reconnects right after
    // QUIT must not find its own old session holding the lock.
    if (this.#maildrop) this.locks.release(this.#maildrop.user, this.session.id);
    // A client that stopped reading would hold the socket (and its buffers) until the grace ends.
    if (this.#socket.writableNeedDrain) {
      this.#socket.destroy();
      return;
    }
    this.#socket.end();
    // A client that neither reads what is left nor closes its side must not keep the socket.
    this.#closeTimer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    this.#closeTimer.unref();
    this.#wakeUp();
  }

  // ---- internals

  #attach(socket: Socket): void {
    socket.on('data', this.#onData);
    socket.on('error', (err: NodeJS.ErrnoException) => this.log.debug({ err: err.message, code: err.code, ip: this.session.remoteAddress }, 'pop3 socket error'));
    socket.once('close', () => this.#cleanup());
    socket.once('end', () => {
      this.#inputEnded = true;
      this.#wakeUp();
    });
    socket.setTimeout(this.settings.idleTimeoutMs, () => {
      this.log.info({ ip: this.session.remoteAddress, listener: this.session.listener, user: this.session.user }, 'pop3 connection idle, closing');
      void this.#refuseAndClose('Idle timeout, closing connection');
    });
  }

  #received(chunk: Buffer): void {
    if (this.#closing) return;
    for (const event of this.#reader.push(chunk)) this.#queue.push(event);
    if (this.#queue.length >= MAX_QUEUED_LINES) this.#socket.pause();
    this.#wakeUp();
  }

  /** The next line event; undefined once the connection is closing, or the client sent its last line. */
  async #next(): Promise<LineEvent | undefined> {
    for (;;) {
      if (this.#closing) return undefined;
      const event = this.#queue.shift();
      if (event) {
        if (this.#queue.length < MAX_QUEUED_LINES / 2 && this.#socket.isPaused() && !this.#socket.destroyed) this.#socket.resume();
        return event;
      }
      if (this.#inputEnded) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #dispatch(line: string): Promise<void> {
    const space = line.indexOf(' ');
    const keyword = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const args = space < 0 ? '' : line.slice(space + 1);
    const command = COMMANDS.get(keyword);
    this.log.debug({ ip: this.session.remoteAddress, user: this.session.user, command: command ? keyword : keyword.slice(0, 16) }, 'pop3 command');
    if (!command) return this.bad(keyword === '' ? 'Empty command' : 'Unknown command');
    if (!command.states.includes(this.#state)) return this.bad(this.#state === 'authorization' ? `${keyword} needs a login first` : `${keyword} is not allowed after login`);
    await this.#run(command, args);
  }

  async #run(command: Pop3Command, args: string): Promise<void> {
    try {
      await command.run(this, args);
    } catch (err) {
      this.log.error({ err, command: command.name, ip: this.session.remoteAddress, user: this.session.user }, 'pop3 command failed');
      if (!this.#closing) await this.err(`[${RespCode.SYS_TEMP}] Internal error, try again`);
    }
  }

  /**
   * A last -ERR, then close. Not awaited: the client may have stopped reading (that may be why
   * we are closing), and close() cuts the socket if it does not go away by itself.
   */
  async #refuseAndClose(text: string): Promise<void> {
    if (this.#closing) return;
    if (!this.#socket.destroyed) this.#socket.write(`-ERR ${clean(text)}\r\n`);
    this.close();
  }

  #writeLine(line: string, flushed = false): Promise<void> {
    return this.#write([Buffer.from(`${line}\r\n`)], flushed);
  }

  /**
   * Write the chunks in order, small ones gathered into blocks of WRITE_BLOCK bytes (on TLS each
   * write becomes a record: thousands of tiny ones would cost more than the copy), and wait for
   * 'drain' whenever the socket's buffer is full, so a slow client never makes the server hold
   * more than a block besides the message itself. `flushed`: also wait until the kernel has the bytes.
   */
  async #write(chunks: Buffer[], flushed = false): Promise<void> {
    const socket = this.#socket;
    for (const block of blocks(chunks)) {
      if (this.#closing || socket.destroyed) return;
      if (!socket.write(block)) await this.#drained(socket);
    }
    if (flushed && !socket.destroyed) await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => resolve()));
  }

  #drained(socket: Socket): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /** The socket closed: nothing is expunged here (only QUIT does that); the lock and the slot are freed. */
  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#closeTimer);
    if (this.#maildrop) this.locks.release(this.#maildrop.user, this.session.id);
    this.guard.close(this.session);
    this.#wakeUp();
    this.#resolveClosed();
  }
}

/** Consecutive chunks joined into blocks of about WRITE_BLOCK bytes; a chunk that big already goes alone, uncopied. */
function* blocks(chunks: Buffer[]): Generator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for (const chunk of chunks) {
    if (chunk.length >= WRITE_BLOCK) {
      if (length > 0) yield Buffer.concat(pending, length);
      pending = [];
      length = 0;
      yield chunk;
      continue;
    }
    pending.push(chunk);
    length += chunk.length;
    if (length >= WRITE_BLOCK) {
      yield Buffer.concat(pending, length);
      pending = [];
      length = 0;
    }
  }
  if (length > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, length);
}

/** Response text on one line, short: no CR, LF or other control characters from anywhere. */
function clean(text: string): string {
  const line = text.replace(/[\x00-\x1f\x7f]+/g, ' ');
  return line.length > MAX_TEXT ? `${line.slice(0, MAX_TEXT)}...` : line;
}
