import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { MapResults, type SessionView } from '@postern/sdk';
import type { MailboxAccessConfig } from '../config/types.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Lease } from '../plugin-host/plugin-host.js';
import { isRefusal } from '../smtp/verdict-reply.js';
import type { MailboxServerContext } from './mailbox-server-context.js';

/** How long failed logins from one address are remembered for `limits.authFailuresPerIp`. */
const FAILURE_WINDOW_MS = 10 * 60 * 1000;

/**
 * One IMAP or POP3 connection as plugins see it (SessionView, protocol "imap" or "pop3"), plus
 * the plugin generation it started with. `secure` and `user` change during the session (STARTTLS,
 * login); the protocol layer sets them.
 */
export class MailboxSession implements SessionView {
  readonly id = randomBytes(8).toString('hex');
  readonly protocol: 'imap' | 'pop3';
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly helo = undefined;
  readonly trusted = false;
  readonly results = new MapResults();
  secure: boolean;
  user: string | undefined;
  /** Released when the connection closes (SessionGuard.close). */
  readonly lease: Lease;

  constructor(protocol: 'imap' | 'pop3', listener: string, socket: Socket, secure: boolean, lease: Lease) {
    this.protocol = protocol;
    this.listener = listener;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = socket.localAddress ?? '';
    this.localPort = socket.localPort ?? 0;
    this.secure = secure;
    this.lease = lease;
  }

  get pipeline(): Pipeline {
    return this.lease.generation.pipeline;
  }
}

/** Why a connection or a login was refused: `text` may be shown to the client. */
export interface Refusal {
  ok: false;
  /** IMAP: BYE (connection) or NO [code]; POP3: -ERR [code]. */
  code: 'UNAVAILABLE' | 'AUTHENTICATIONFAILED' | 'PRIVACYREQUIRED' | 'LIMIT';
  text: string;
}

/**
 * What IMAP and POP3 share around a session: connection limits (per address and in total), the
 * `connect` hook, and logins: TLS required unless `allowInsecureAuth`, the directory's password
 * check, a delay after a failure, a limit of failures per address, then the `auth` hook, which may
 * still refuse a valid login. Every refusal is logged with the address and the listener.
 */
export class SessionGuard {
  readonly #ctx: MailboxServerContext;
  readonly #protocol: 'imap' | 'pop3';
  readonly #settings: MailboxAccessConfig;
  readonly #open = new Map<string, number>();
  readonly #failures = new Map<string, number[]>();
  #total = 0;

  constructor(ctx: MailboxServerContext, protocol: 'imap' | 'pop3') {
    this.#ctx = ctx;
    this.#protocol = protocol;
    this.#settings = ctx.config[protocol];
  }

  /**
   * A client connected: count it against the limits, fix its plugin generation, run the
   * `connect` hook. On a refusal nothing stays counted; otherwise call `close(session)` when the
   * connection ends.
   */
  async admit(listener: string, socket: Socket, secure: boolean): Promise<{ ok: true; session: MailboxSession } | Refusal> {
    const ip = socket.remoteAddress ?? '';
    const { connectionsPerIp, maxConnections } = this.#settings.limits;
    const open = this.#open.get(ip) ?? 0;
    if ((connectionsPerIp > 0 && open >= connectionsPerIp) || (maxConnections > 0 && this.#total >= maxConnections)) {
      this.#ctx.log.warn({ ip, listener, protocol: this.#protocol, open }, 'connection refused: too many connections');
      return { ok: false, code: 'UNAVAILABLE', text: 'Too many connections, try again later' };
    }
    const session = new MailboxSession(this.#protocol, listener, socket, secure, this.#ctx.plugins.acquire());
    this.#open.set(ip, open + 1);
    this.#total++;
    try {
      const verdict = await session.pipeline.decide('connect', session);
      if (isRefusal(verdict)) {
        this.#ctx.log.info({ ip, listener, protocol: this.#protocol, verdict }, 'connection refused by policy');
        this.close(session);
        return { ok: false, code: 'UNAVAILABLE', text: verdict.message ?? 'Connection refused' };
      }
    } catch (err) {
      this.#ctx.log.error({ err, ip, protocol: this.#protocol }, 'connect hook failed');
      this.close(session);
      return { ok: false, code: 'UNAVAILABLE', text: 'Temporary local problem, try again later' };
    }
    return { ok: true, session };
  }

  /** The connection ended: release its slot and its plugin generation (safe to call twice). */
  close(session: MailboxSession): void {
    if ((session as { closed?: boolean }).closed) return;
    (session as { closed?: boolean }).closed = true;
    session.lease.release();
    this.#total--;
    const open = (this.#open.get(session.remoteAddress) ?? 1) - 1;
    if (open <= 0) this.#open.delete(session.remoteAddress);
    else this.#open.set(session.remoteAddress, open);
  }

  /** Whether a login may even be tried on this connection now (TLS rule); the client is told why not. */
  mayLogin(session: MailboxSession): { ok: true } | Refusal {
    if (!session.secure && !this.#settings.allowInsecureAuth) return { ok: false, code: 'PRIVACYREQUIRED', text: 'Use TLS before logging in (STARTTLS, STLS or the TLS port)' };
    return { ok: true };
  }

  /**
   * Check a login (`method`: LOGIN, PLAIN, USER for POP3's USER/PASS). On success `session.user`
   * is set. A failure waits `authFailureDelayMs` before it resolves.
   */
  async login(session: MailboxSession, username: string, password: string, method: string): Promise<{ ok: true; user: string } | Refusal> {
    const allowed = this.mayLogin(session);
    if (!allowed.ok) return allowed;
    const ip = session.remoteAddress;
    const { log, directory } = this.#ctx;
    const recent = this.#recentFailures(ip);
    const limit = this.#settings.limits.authFailuresPerIp;
    if (limit > 0 && recent >= limit) {
      log.warn({ ip, username, protocol: this.#protocol, failures: recent }, 'login refused: too many failed logins from this address');
      await this.#delay();
      return { ok: false, code: 'LIMIT', text: 'Too many failed logins, try again later' };
    }
    const user = username && password ? await directory.verifyPassword(username, password) : undefined;
    if (!user) {
      this.#noteFailure(ip);
      log.warn({ ip, username, method, protocol: this.#protocol, listener: session.listener }, 'authentication failed');
      await this.#delay();
      return { ok: false, code: 'AUTHENTICATIONFAILED', text: 'Authentication failed' };
    }
    try {
      const verdict = await session.pipeline.decide('auth', session, { username: user.address, method });
      if (isRefusal(verdict)) {
        log.warn({ ip, username: user.address, protocol: this.#protocol, verdict }, 'authentication refused by policy');
        return { ok: false, code: verdict.action === 'tempfail' ? 'UNAVAILABLE' : 'AUTHENTICATIONFAILED', text: verdict.message ?? 'Login refused' };
      }
    } catch (err) {
      log.error({ err, ip, protocol: this.#protocol }, 'auth hook failed');
      return { ok: false, code: 'UNAVAILABLE', text: 'Temporary authentication failure' };
    }
    session.user = user.address;
    log.info({ ip, username: user.address, method, protocol: this.#protocol, listener: session.listener }, 'authenticated');
    return { ok: true, user: user.address };
  }

  #recentFailures(ip: string): number {
    const now = Date.now();
    const kept = (this.#failures.get(ip) ?? []).filter((at) => now - at < FAILURE_WINDOW_MS);
    if (kept.length === 0) this.#failures.delete(ip);
    else this.#failures.set(ip, kept);
    return kept.length;
  }

  #noteFailure(ip: string): void {
    const list = this.#failures.get(ip) ?? [];
    list.push(Date.now());
    this.#failures.set(ip, list);
  }

  #delay(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.#settings.authFailureDelayMs));
  }
}
