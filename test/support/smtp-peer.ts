/**
 * A scriptable remote SMTP server, for what smtp-sink cannot do: a reply per recipient (one 250,
 * another 450, another 550), a chosen reply at the end of DATA, STARTTLS with a self-signed
 * certificate, AUTH required, a delay before a reply (to run a client into its timeout). It
 * records, for each message that reached the end of DATA (accepted or not), the envelope, the
 * bytes, the EHLO name, whether TLS was on, the AUTH user and the reply it gave.
 *
 * Built on smtp-server (the same package core uses), listening on 127.0.0.1 port 0. smtp-server
 * waits 100 ms before every greeting (see RECIPES), so it is no benchmark peer: use smtp-sink.
 * Reply texts go to the client verbatim (smtp-server adds no enhanced code): put one in `message`.
 *
 * @example
 *   const peer = await startSmtpPeer(t, {
 *     rcpt: (address) =>
 *       address.startsWith('later@') ? { code: 450, message: '4.2.1 Mailbox busy' }
 *       : address.startsWith('nobody@') ? { code: 550, message: '5.1.1 No such user' }
 *       : undefined, // 250 Accepted
 *     tls: true,
 *   });
 *   // ... deliver to 127.0.0.1:peer.port ...
 *   const [message] = await peer.waitForMessages(1);
 *   assert.deepEqual(message.to, ['ok@remote.test']);
 *   assert.equal(message.secure, true);
 */
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { testCertificate } from './tls.js';
import { waitFor, type Cleanup } from './tmp.js';

export interface PeerReply {
  code: number;
  /** The text after the code, verbatim, e.g. "5.1.1 No such user". */
  message: string;
}

/** What a reply function knows about the session so far. */
export interface PeerSessionInfo {
  id: string;
  /** The HELO/EHLO argument ('' before one). */
  helo: string;
  secure: boolean;
  user: string | undefined;
  /** The transaction's MAIL FROM ('' for the null sender) and the recipients accepted so far. */
  from: string | undefined;
  to: string[];
}

export interface PeerMessage {
  sessionId: string;
  from: string;
  /** Recipients this peer accepted (a refused RCPT is not here; see `commands`). */
  to: string[];
  /** MAIL FROM parameters, keys upper case (SIZE, BODY, SMTPUTF8, ...). */
  mailParams: Record<string, string | true>;
  /** The message bytes as received, CRLF, dot-unstuffed. */
  data: Buffer;
  helo: string;
  secure: boolean;
  user: string | undefined;
  /** The reply given at the end of DATA. */
  reply: PeerReply;
  accepted: boolean;
}

export interface PeerCommand {
  sessionId: string;
  command: 'MAIL' | 'RCPT';
  address: string;
  code: number;
}

/** Milliseconds to wait before a reply: one number for all of these, or per step. */
export type PeerDelays = number | { greeting?: number; mail?: number; rcpt?: number; data?: number };

export interface SmtpPeerOptions {
  /** Reply to MAIL FROM; undefined → "250 Accepted". */
  mail?: (address: string, session: PeerSessionInfo) => PeerReply | undefined;
  /** Reply to each RCPT TO; undefined → "250 Accepted". */
  rcpt?: (address: string, session: PeerSessionInfo) => PeerReply | undefined;
  /** Reply at the end of DATA; undefined → "250 OK: message queued". Called once per message. */
  dataReply?: (message: Omit<PeerMessage, 'reply' | 'accepted'>) => PeerReply | undefined;
  /** Offer STARTTLS (self-signed certificate for mx.example.test, see tls.ts). Default false. */
  tls?: boolean;
  /** Refuse MAIL with "530 5.7.0 Must issue a STARTTLS command first" until STARTTLS. */
  requireTls?: boolean;
  /** Require AUTH (PLAIN, LOGIN) with these credentials; with `tls`, AUTH is offered only after STARTTLS. */
  auth?: { user: string; pass: string };
  delayMs?: PeerDelays;
  /** Name in the greeting and EHLO reply; default "mx.example.test". */
  name?: string;
  /** Advertise SIZE with this limit (smtp-server then refuses larger MAIL FROM SIZE=). */
  size?: number;
  /** Passed to smtp-server as they are (after ours). */
  serverOptions?: SMTPServerOptions;
}

export interface SmtpPeer {
  port: number;
  /** "127.0.0.1:PORT" */
  address: string;
  /** Every message that reached the end of DATA, in order (accepted or refused: see `accepted`). */
  received: PeerMessage[];
  /** Every MAIL and RCPT with the code given. */
  commands: PeerCommand[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Failed AUTH attempts (username given). */
  authFailures: string[];
  /** Resolves with `received` once it holds `n` messages (refused ones count too). */
  waitForMessages(n: number, timeoutMs?: number): Promise<PeerMessage[]>;
  stop(): Promise<void>;
}

function replyError(reply: PeerReply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

function delayOf(delays: PeerDelays | undefined, step: 'greeting' | 'mail' | 'rcpt' | 'data'): number {
  if (delays === undefined) return 0;
  return typeof delays === 'number' ? delays : (delays[step] ?? 0);
}

/** Run `fn` after `ms` (now if 0). */
function later(ms: number, fn: () => void): void {
  if (ms > 0) setTimeout(fn, ms).unref();
  else fn();
}

function sessionInfo(session: SMTPServerSession): PeerSessionInfo {
  const mailFrom = session.envelope.mailFrom;
  return {
    id: session.id,
    helo: session.hostNameAppearsAs || '',
    secure: session.secure,
    user: session.user as string | undefined,
    from: mailFrom ? mailFrom.address : undefined,
    to: session.envelope.rcptTo.map((r) => r.address),
  };
}

/** Start the peer on 127.0.0.1 (port 0); closed after the test. */
export async function startSmtpPeer(t: Cleanup, options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const received: PeerMessage[] = [];
  const commands: PeerCommand[] = [];
  const authFailures: string[] = [];
  let connections = 0;
  const disabled: string[] = [];
  if (!options.tls) disabled.push('STARTTLS');
  if (!options.auth) disabled.push('AUTH');

  const server = new SMTPServer({
    name: options.name ?? 'mx.example.test',
    logger: false,
    disableReverseLookup: true,
    disabledCommands: disabled,
    authOptional: !options.auth,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: !options.tls,
    closeTimeout: 100,
    ...(options.size ? { size: options.size } : {}),
    ...(options.tls ? testCertificate() : {}),
    onConnect(_session, callback) {
      connections++;
      later(delayOf(options.delayMs, 'greeting'), () => callback());
    },
    onAuth(auth, _session, callback) {
      const want = options.auth;
      if (want && auth.username === want.user && auth.password === want.pass) return callback(null, { user: auth.username });
      authFailures.push(auth.username ?? '');
      callback(replyError({ code: 535, message: '5.7.8 Authentication credentials invalid' }));
    },
    onMailFrom(address, session, callback) {
      let reply: PeerReply | undefined;
      if (options.requireTls && !session.secure) reply = { code: 530, message: '5.7.0 Must issue a STARTTLS command first' };
      else reply = options.mail?.(address.address, sessionInfo(session));
      commands.push({ sessionId: session.id, command: 'MAIL', address: address.address, code: reply?.code ?? 250 });
      later(delayOf(options.delayMs, 'mail'), () => callback(reply && reply.code >= 400 ? replyError(reply) : null));
    },
    onRcptTo(address, session, callback) {
      const reply = options.rcpt?.(address.address, sessionInfo(session));
      commands.push({ sessionId: session.id, command: 'RCPT', address: address.address, code: reply?.code ?? 250 });
      later(delayOf(options.delayMs, 'rcpt'), () => callback(reply && reply.code >= 400 ? replyError(reply) : null));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.once('end', () => {
        const info = sessionInfo(session);
        const mailFrom = session.envelope.mailFrom;
        const message = {
          sessionId: session.id,
          from: info.from ?? '',
          to: info.to,
          mailParams: (mailFrom && mailFrom.args) || {},
          data: Buffer.concat(chunks),
          helo: info.helo,
          secure: info.secure,
          user: info.user,
        };
        const reply = options.dataReply?.(message) ?? { code: 250, message: 'OK: message queued' };
        received.push({ ...message, reply, accepted: reply.code < 400 });
        later(delayOf(options.delayMs, 'data'), () => (reply.code >= 400 ? callback(replyError(reply)) : callback(null, reply.message)));
      });
    },
    ...options.serverOptions,
  });
  server.on('error', () => {
    // a client that hangs up mid-command; nothing to do
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.server.address() as { port: number }).port));
  });
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= new Promise<void>((resolve) => server.close(() => resolve())));
  t.after(stop);

  return {
    port,
    address: `127.0.0.1:${port}`,
    received,
    commands,
    authFailures,
    get connections() {
      return connections;
    },
    waitForMessages(n, timeoutMs = 5000) {
      return waitFor(() => (received.length >= n ? received : undefined), `${n} message(s) at smtp peer :${port}`, timeoutMs);
    },
    stop,
  };
}
