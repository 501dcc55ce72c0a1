import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { TlsMaterial } from '../smtp/smtp-listener.js';
import { CommandReader, type ReaderLimits } from './protocol/command-reader.js';
import { ResponseWriter } from './protocol/response-writer.js';

/** How long a closing connection waits for the client to close its side, ms. */
const CLOSE_GRACE_MS = 3000;
/** What a closing connection reads and throws away before it resets instead, bytes. */
const CLOSE_DISCARD_BYTES = 1024 * 1024;

/**
 * The socket side of an IMAP session: the command reader and response writer on the current
 * socket (plain, or TLS after STARTTLS or on an implicit-TLS listener), the idle timeout, and
 * closing without losing the last responses.
 */
export class ImapConnection {
  readonly raw: Socket;
  socket: Socket;
  secure: boolean;
  readonly reader: CommandReader;
  readonly writer: ResponseWriter;
  #idleTimeoutMs: number;
  readonly #onTimeout: () => void;
  #closed = false;

  constructor(socket: Socket, secure: boolean, limits: ReaderLimits, idleTimeoutMs: number, onTimeout: () => void) {
    this.raw = socket;
    this.socket = socket;
    this.secure = secure;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#onTimeout = onTimeout;
    this.writer = new ResponseWriter(socket);
    this.reader = new CommandReader(socket, limits, () => {
      this.writer.line('+ Ready for literal data');
      void this.writer.flush();
    });
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, onTimeout);
  }

  /** Change the idle timeout (longer once logged in). */
  setIdleTimeout(ms: number): void {
    this.#idleTimeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /**
   * STARTTLS: from now on read and write through TLS. Whatever the client sent after the
   * STARTTLS command in plain text is dropped unread (RFC 3501 6.2.1, CVE-2011-0411-style injection).
   */
  startTls(tls: TlsMaterial): Promise<void> {
    this.raw.setTimeout(0);
    const secure = new TLSSocket(this.raw, { isServer: true, key: tls.key, cert: tls.cert });
    this.socket = secure;
    this.secure = true;
    this.reader.setSocket(secure);
    this.writer.setSocket(secure);
    secure.setTimeout(this.#idleTimeoutMs, this.#onTimeout);
    secure.on('error', () => secure.destroy());
    return new Promise((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('close', () => reject(new Error('TLS negotiation failed')));
    });
  }

  /**
   * Close after what was written: half-close, read and drop what the client still sends (so
   * the kernel does not reset the connection under our last responses), then destroy.
   */
  async end(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.reader.detach();
    await this.writer.flush();
    const socket = this.socket;
    if (socket.destroyed) return;
    let budget = CLOSE_DISCARD_BYTES;
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      budget -= chunk.length;
      if (budget < 0) socket.destroy();
    });
    socket.once('close', () => clearTimeout(timer));
    socket.resume();
    socket.end();
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
    this.raw.destroy();
  }
}
