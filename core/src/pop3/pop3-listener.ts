import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type SecureContext } from 'node:tls';
import type { MailboxListenerConfig } from '../config/types.js';
import { ErrorCode, PosternError } from '../errors.js';
import type { MailboxServerContext } from '../mailstore/mailbox-server-context.js';
import { SessionGuard } from '../mailstore/session-guard.js';
import type { RunningListener, TlsMaterial } from '../smtp/smtp-listener.js';
import { MaildropLocks } from './maildrop.js';
import { Pop3Connection } from './pop3-connection.js';
import { RespCode } from './response-codes.js';
import { listenOn } from '../util/listen.js';

/** How long a stopping listener lets a command in progress (a long RETR) finish before it cuts the connection. */
const SHUTDOWN_GRACE_MS = 5000;

/**
 * What every POP3 listener of one server shares: the connection limits and failed-login counts
 * (one SessionGuard), and the maildrop locks, so that [IN-USE] holds across pop3 and pop3s.
 * server.ts hands the same context to each listener, so the context is the key.
 */
interface Pop3Shared {
  guard: SessionGuard;
  locks: MaildropLocks;
}

const shared = new WeakMap<MailboxServerContext, Pop3Shared>();

function sharedFor(ctx: MailboxServerContext): Pop3Shared {
  let state = shared.get(ctx);
  if (!state) {
    state = { guard: new SessionGuard(ctx, 'pop3'), locks: new MaildropLocks() };
    shared.set(ctx, state);
  }
  return state;
}

/** Start one POP3 listener from its config entry (pop3.listeners[]): plain with STLS, implicit TLS (pop3s), or plain only. */
export async function startPop3Listener(ctx: MailboxServerContext, listener: MailboxListenerConfig, tls: TlsMaterial | undefined): Promise<RunningListener> {
  if (listener.tls !== 'none' && !tls) {
    throw new PosternError(ErrorCode.TLS_UNAVAILABLE, `listener ${listener.name} needs TLS (${listener.tls}) but no key/certificate is configured; run postern init or set tls.key and tls.cert`);
  }
  const { guard, locks } = sharedFor(ctx);
  const secureContext: SecureContext | undefined = tls ? createSecureContext({ key: tls.key, cert: tls.cert }) : undefined;
  const connections = new Set<Pop3Connection>();
  const secure = listener.tls === 'implicit';
  let stopping = false;

  const accept = (socket: Socket): void => {
    socket.on('error', () => undefined); // until the connection takes over the socket
    void admit(socket).catch((err: unknown) => {
      ctx.log.error({ err, listener: listener.name }, 'pop3 connection failed');
      socket.destroy();
    });
  };

  const admit = async (socket: Socket): Promise<void> => {
    const admitted = await guard.admit(listener.name, socket, secure);
    if (!admitted.ok) {
      socket.end(`-ERR [${RespCode.SYS_TEMP}] ${admitted.text.replace(/[\x00-\x1f\x7f]+/g, ' ')}\r\n`);
      return;
    }
    if (socket.destroyed || stopping) {
      guard.close(admitted.session);
      socket.end(`-ERR [${RespCode.SYS_TEMP}] Server shutting down\r\n`);
      return;
    }
    const connection = new Pop3Connection(socket, admitted.session, {
      listener,
      settings: ctx.config.pop3,
      guard,
      locks,
      store: ctx.store,
      log: ctx.log,
      secureContext,
    });
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
    await connection.serve();
  };

  // allowHalfOpen: a client may send "QUIT" and close its side at once; the QUIT is still handled.
  const server: Server = secure
    ? createTlsServer({ key: tls!.key, cert: tls!.cert, allowHalfOpen: true }, accept)
    : createNetServer({ allowHalfOpen: true }, accept);
  if (secure) server.on('tlsClientError', (err: Error, socket: Socket) => ctx.log.debug({ err: err.message, ip: socket.remoteAddress, listener: listener.name }, 'pop3 TLS handshake failed'));
  server.on('error', (err: Error) => ctx.log.warn({ err, listener: listener.name }, 'pop3 listener error'));

  const address = await listenOn(server, listener);
  ctx.log.info({ listener: listener.name, host: address.address, port: address.port, tls: listener.tls }, 'pop3 listener ready');

  return {
    name: listener.name,
    address,
    async close() {
      stopping = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of connections) connection.shutdown();
      const grace = setTimeout(() => {
        for (const connection of connections) connection.destroy();
      }, SHUTDOWN_GRACE_MS);
      await Promise.all([...connections].map((c) => c.closed));
      clearTimeout(grace);
      await stopped;
    },
  };
}
