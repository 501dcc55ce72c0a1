import { connect, type Socket } from 'node:net';
import { ErrorCode } from '../../errors.js';
import { netKey, parseNetGrant } from './grants.js';

/** An error as it crosses into the sandbox: two strings, turned back into an Error in there. */
export interface SandboxFailure {
  code: string;
  message: string;
}

/** Open sockets one plugin may hold at once (close() frees a slot). */
export const MAX_SOCKETS = 16;
/** Unread bytes buffered per socket before it is paused. */
const HIGH_WATER = 1024 * 1024;
/** A socket idle this long (connecting included) is closed with ETIMEDOUT. */
const IDLE_MS = 30_000;

interface Conn {
  socket: Socket;
  chunks: Buffer[];
  queued: number;
  ended: boolean;
  error: SandboxFailure | undefined;
  reader: ((failure: SandboxFailure | undefined, chunk: Buffer | null) => void) | undefined;
}

function failure(err: unknown): SandboxFailure {
  const e = err as { code?: unknown; message?: unknown };
  return { code: typeof e.code === 'string' ? e.code : 'ECONNRESET', message: typeof e.message === 'string' ? e.message : 'socket error' };
}

const CLOSED: SandboxFailure = { code: 'EBADF', message: 'the socket is closed' };

/**
 * The host side of a sandboxed plugin's `net` grant: it connects only to the granted host:port
 * pairs (exact match after lower-casing; "localhost" is not "127.0.0.1") and keeps the sockets on
 * this side, handing the sandbox a number. The sandbox never holds a Socket.
 */
export class NetGate {
  readonly #allowed: Set<string>;
  readonly #onDenied: (host: string, port: number) => void;
  readonly #conns = new Map<number, Conn>();
  #nextId = 1;

  constructor(grants: readonly string[], plugin: string, onDenied: (host: string, port: number) => void) {
    this.#allowed = new Set(grants.map((e) => { const t = parseNetGrant(e, plugin); return netKey(t.host, t.port); }));
    this.#onDenied = onDenied;
  }

  open(host: string, port: number, done: (failure: SandboxFailure | undefined, id: number) => void): void {
    if (!Number.isInteger(port) || !this.#allowed.has(netKey(host, port))) {
      this.#onDenied(host, port);
      done({ code: ErrorCode.PLUGIN_SANDBOX_DENIED, message: `net: ${host}:${port} is not granted to this plugin` }, 0);
      return;
    }
    if (this.#conns.size >= MAX_SOCKETS) {
      done({ code: ErrorCode.PLUGIN_SANDBOX_LIMIT, message: `net: at most ${MAX_SOCKETS} open sockets (close() the ones you are done with)` }, 0);
      return;
    }
    const bare = host.startsWith('[') ? host.slice(1, -1) : host;
    const socket = connect({ host: bare, port });
    const id = this.#nextId++;
    const conn: Conn = { socket, chunks: [], queued: 0, ended: false, error: undefined, reader: undefined };
    this.#conns.set(id, conn);
    socket.setTimeout(IDLE_MS, () => socket.destroy(Object.assign(new Error('socket idle timeout'), { code: 'ETIMEDOUT' })));
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      done(undefined, id);
    });
    socket.on('data', (chunk: Buffer) => {
      const reader = conn.reader;
      if (reader) {
        conn.reader = undefined;
        reader(undefined, chunk);
        return;
      }
      conn.chunks.push(chunk);
      conn.queued += chunk.length;
      if (conn.queued > HIGH_WATER) socket.pause();
    });
    socket.on('end', () => {
      conn.ended = true;
      const reader = conn.reader;
      conn.reader = undefined;
      reader?.(undefined, null);
    });
    socket.on('error', (err) => {
      conn.error = failure(err);
      if (!connected) {
        this.#conns.delete(id);
        done(conn.error, 0);
        return;
      }
      const reader = conn.reader;
      conn.reader = undefined;
      reader?.(conn.error, null);
    });
  }

  write(id: number, data: Buffer, done: (failure: SandboxFailure | undefined) => void): void {
    const conn = this.#conns.get(id);
    if (!conn || conn.socket.destroyed) return done(conn?.error ?? CLOSED);
    conn.socket.write(data, (err) => done(err ? failure(err) : undefined));
  }

  /** The next chunk, or null at the end of the stream. One read at a time. */
  read(id: number, done: (failure: SandboxFailure | undefined, chunk: Buffer | null) => void): void {
    const conn = this.#conns.get(id);
    if (!conn) return done(CLOSED, null);
    if (conn.reader) return done({ code: 'EBUSY', message: 'a read is already waiting on this socket' }, null);
    const chunk = conn.chunks.shift();
    if (chunk) {
      conn.queued -= chunk.length;
      if (conn.queued <= HIGH_WATER && conn.socket.isPaused()) conn.socket.resume();
      return done(undefined, chunk);
    }
    if (conn.error) return done(conn.error, null);
    if (conn.ended || conn.socket.destroyed) return done(undefined, null);
    conn.reader = done;
  }

  /** Half-close: send FIN once the written data is flushed. */
  end(id: number, done: (failure: SandboxFailure | undefined) => void): void {
    const conn = this.#conns.get(id);
    if (!conn || conn.socket.destroyed) return done(conn?.error ?? CLOSED);
    conn.socket.end(() => done(undefined));
  }

  close(id: number): void {
    const conn = this.#conns.get(id);
    if (!conn) return;
    this.#conns.delete(id);
    conn.socket.destroy();
    const reader = conn.reader;
    conn.reader = undefined;
    reader?.(undefined, null);
  }

  /** Close every socket (plugin shutdown / dispose). */
  closeAll(): void {
    for (const id of [...this.#conns.keys()]) this.close(id);
  }
}
