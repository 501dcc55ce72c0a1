import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { MailboxListenerConfig } from '../config/types.js';
import { ErrorCode, PosternError } from '../errors.js';
import type { MailboxServerContext } from '../mailstore/mailbox-server-context.js';
import { SessionGuard } from '../mailstore/session-guard.js';
import type { RunningListener, TlsMaterial } from '../smtp/smtp-listener.js';
import { ImapConnection } from './imap-connection.js';
import type { ImapContext } from './imap-context.js';
import { ImapSession } from './imap-session.js';
import { tagOf } from './protocol/command-reader.js';
import { MessageCache } from './message-cache.js';
import { RecentTracker } from './recent-tracker.js';
import { listenOn } from '../util/listen.js';

type Shared = Pick<ImapContext, 'guard' | 'recent' | 'cache'>;

/** The idle timeout before login (imap.idleTimeoutMs applies once logged in, when it is longer). */
const PRE_AUTH_TIMEOUT_MS = 60_000;

/** What all IMAP listeners of one server share: the guard (limits count across listeners), \\Recent, the message cache. */
const shared = new WeakMap<MailboxServerContext, Shared>();

function sharedOf(ctx: MailboxServerContext): Shared {
  let state = shared.get(ctx);
  if (!state) {
    state = { guard: new SessionGuard(ctx, 'imap'), recent: new RecentTracker(), cache: new MessageCache() };
    shared.set(ctx, state);
  }
  return state;
}

/**
 * Start one IMAP listener from its config entry (imap.listeners[]): plain with STARTTLS, or
 * implicit TLS. Each connection is admitted by the SessionGuard (connection limits, `connect`
 * hook: a refusal is `* BYE`), then served by an ImapSession.
 */
export async function startImapListener(ctx: MailboxServerContext, listener: MailboxListenerConfig, tls: TlsMaterial | undefined): Promise<RunningListener> {
  if (listener.tls !== 'none' && !tls) {
    throw new PosternError(ErrorCode.TLS_UNAVAILABLE, `listener ${listener.name} needs TLS (${listener.tls}) but no key/certificate is configured; run postern init or set tls.key and tls.cert`);
  }
  const imap: ImapContext = { mail: ctx, ...sharedOf(ctx), listener, tls };
  const { guard } = imap;
  const { imap: settings } = ctx.config;
  const sessions = new Set<ImapSession>();
  const sockets = new Set<Socket>();

  const serve = async (socket: Socket, secure: boolean): Promise<void> => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', (err) => ctx.log.debug({ err, listener: listener.name }, 'imap connection error'));
    let admitted: Awaited<ReturnType<SessionGuard['admit']>>;
    try {
      admitted = await guard.admit(listener.name, socket, secure);
    } catch (err) {
      ctx.log.error({ err, listener: listener.name }, 'imap admission failed');
      admitted = { ok: false, code: 'UNAVAILABLE', text: 'Temporary local problem, try again later' };
    }
    if (!admitted.ok) {
      socket.end(`* BYE [${admitted.code}] ${admitted.text.replace(/[\r\n]/g, ' ')}\r\n`);
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    const mailbox = admitted.session;
    let session: ImapSession | undefined;
    const conn = new ImapConnection(
      socket,
      secure,
      {
        maxLineBytes: settings.maxLineBytes,
        maxDiscardBytes: Math.max(settings.maxLiteralBytes, settings.maxLineBytes * 16),
        // APPEND carries a message; every other literal (a password, a search string) is small.
        literalLimit: (line) => (session && session.state !== 'not-authenticated' && isAppend(line) ? settings.maxLiteralBytes : settings.maxLineBytes),
      },
      // Before login a quiet client is dropped sooner (it holds a slot and has no mail to wait for).
      Math.min(settings.idleTimeoutMs, PRE_AUTH_TIMEOUT_MS),
      () => session?.bye('Idle timeout, closing the connection'),
    );
    session = new ImapSession(imap, conn, mailbox);
    sessions.add(session);
    try {
      await session.run();
    } finally {
      sessions.delete(session);
      guard.close(mailbox);
    }
  };

  const onConnection = (secure: boolean) => (socket: Socket) => {
    serve(socket, secure).catch((err: unknown) => {
      ctx.log.error({ err, listener: listener.name }, 'imap connection failed');
      socket.destroy();
    });
  };
  let server: Server;
  if (listener.tls === 'implicit') {
    const tlsServer = createTlsServer({ key: tls!.key, cert: tls!.cert, handshakeTimeout: 30_000 }, onConnection(true));
    tlsServer.on('tlsClientError', (err) => ctx.log.debug({ err, listener: listener.name }, 'imap TLS handshake failed'));
    server = tlsServer;
  } else {
    server = createNetServer(onConnection(false));
  }

  const address = await listenOn(server, listener);
  server.on('error', (err) => ctx.log.warn({ err, listener: listener.name }, 'imap listener error'));
  ctx.log.info({ listener: listener.name, host: address.address, port: address.port, tls: listener.tls }, 'imap listener ready');
  return {
    name: listener.name,
    address,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.bye('Server shutting down');
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 2000);
      deadline.unref();
      await closed;
      clearTimeout(deadline);
    },
  };
}

/** Whether a command's first line is an APPEND (`tag APPEND ...`). */
function isAppend(line: Buffer): boolean {
  const tag = tagOf(line);
  return line.subarray(tag.length + 1, tag.length + 8).toString('latin1').toUpperCase() === 'APPEND ';
}
