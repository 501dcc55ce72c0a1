/**
 * One SMTP transaction to one remote address, on nodemailer's SMTPConnection (EHLO, STARTTLS,
 * AUTH, PIPELINING, SIZE, 8BITMIME, dot-stuffing are its job). This file turns what it reports
 * into per-recipient results.
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';

/** What is known about one recipient after a transaction. */
export interface RecipientReply {
  status: 'delivered' | 'deferred' | 'failed';
  code: number;
  enhanced: string;
  message: string;
  /** No reply at all: the connection broke (set on our own result only). */
  connectionLost?: boolean;
}

export interface SendTarget {
  /** The address to connect to (an IP, normally). */
  address: string;
  port: number;
  /** The host's name: TLS SNI and certificate checks, logs, DSNs. */
  name: string;
  /** TLS from the first byte (a smarthost on 465). */
  implicitTls: boolean;
  /** STARTTLS policy: when offered (opportunistic), or no delivery without it (required), or never. */
  starttls: 'opportunistic' | 'required' | 'none';
  verifyCertificate: boolean;
  auth?: { user: string; pass: string };
}

export interface SendSettings {
  /** Our name in EHLO. */
  hostname: string;
  localAddress?: string;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
}

/** An open SMTP session to one target, ready for a transaction (possibly after earlier ones). */
export interface SmtpSession {
  readonly connection: SMTPConnection;
  /** TLS is on (STARTTLS or implicit). */
  secure: boolean;
  /** Transactions run on it so far. */
  uses: number;
  /** The connection failed or was closed: never reuse it. */
  broken: boolean;
}

/** `ok: false`: no session could be set up (refused, timed out, a greeting refusal, TLS or AUTH failure): try the next host. */
export type OpenResult = { ok: true; session: SmtpSession } | { ok: false; reply: RecipientReply };

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; command?: string; recipient?: string; rejectedErrors?: SmtpError[] };

/** Connect, greet (EHLO, STARTTLS per policy) and log in when the target has credentials. Never throws. */
export async function openSession(target: SendTarget, settings: SendSettings): Promise<OpenResult> {
  const connection = new SMTPConnection({
    host: target.address,
    port: target.port,
    secure: target.implicitTls,
    name: settings.hostname,
    ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
    connectionTimeout: settings.connectTimeoutMs,
    greetingTimeout: settings.connectTimeoutMs,
    socketTimeout: settings.socketTimeoutMs,
    opportunisticTLS: target.starttls === 'opportunistic',
    requireTLS: target.starttls === 'required',
    ignoreTLS: target.starttls === 'none',
    tls: { servername: target.name.replace(/^\[|\]$/g, ''), rejectUnauthorized: target.verifyCertificate },
  });
  // A failure while connecting arrives as an 'error' event (a silent close as the connect
  // callback's error); during login and send, through their callbacks as well.
  let failed: ((err: Error) => void) | undefined;
  const session: SmtpSession = { connection, secure: false, uses: 0, broken: false };
  connection.on('error', (err: Error) => {
    session.broken = true;
    failed?.(err);
  });
  connection.on('end', () => (session.broken = true));
  const step = (run: (done: (err?: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      failed = reject;
      run((err) => (err ? reject(err) : resolve()));
    }).finally(() => (failed = undefined));
  try {
    await step((done) => connection.connect(done));
    if (target.auth) await step((done) => connection.login(target.auth!, done));
  } catch (err) {
    connection.close();
    return { ok: false, reply: setupFailure(err as SmtpError, target) };
  }
  session.secure = connection.secure;
  return { ok: true, session };
}

/**
 * One transaction on `session`: each recipient's reply. A reused session is reset (RSET) first.
 * Never throws; a failure of the connection itself marks the session broken.
 */
export async function sendOn(session: SmtpSession, sender: string, recipients: string[], message: Buffer): Promise<Map<string, RecipientReply>> {
  if (session.uses > 0) {
    const reset = await new Promise<Error | null>((resolve) => session.connection.reset((err) => resolve(err ?? null)));
    if (reset) {
      session.broken = true;
      const reply = replyOf(reset as SmtpError);
      return new Map(recipients.map((r) => [r, reply]));
    }
  }
  session.uses++;
  const replies = await transaction(session.connection, sender, recipients, message);
  if ([...replies.values()].some((r) => r.connectionLost)) session.broken = true;
  return replies;
}

/** End a session: QUIT when it is healthy, then make sure the socket goes. */
export function closeSession(session: SmtpSession): void {
  if (!session.broken) session.connection.quit();
  setTimeout(() => session.connection.close(), 1000).unref();
}

async function transaction(connection: SMTPConnection, sender: string, recipients: string[], message: Buffer): Promise<Map<string, RecipientReply>> {
  const replies = new Map<string, RecipientReply>();
  // A native scan (latin1 maps bytes 1:1); a per-byte callback costs more than the send itself.
  const eightBit = /[\x80-\xff]/.test(message.toString('latin1'));
  try {
    const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
      connection.send({ from: sender, to: recipients, size: message.length, use8BitMime: eightBit } as SMTPConnection.Envelope, message, (err, result) => (err ? reject(err) : resolve(result))),
    );
    for (const rejected of (info.rejectedErrors ?? []) as SmtpError[]) if (rejected.recipient) replies.set(rejected.recipient, replyOf(rejected));
    const done = parseReply(info.response ?? '250 OK');
    for (const address of recipients) if (!replies.has(address)) replies.set(address, { ...done, status: 'delivered' });
  } catch (err) {
    const failure = err as SmtpError;
    // Recipients refused at RCPT keep their own reply; nodemailer lists them on an all-refused
    // error, and keeps them on its envelope (not a public API) when DATA fails afterwards.
    const envelopeErrors = (connection as unknown as { _envelope?: { rejectedErrors?: SmtpError[] } })._envelope?.rejectedErrors;
    for (const rejected of failure.rejectedErrors ?? envelopeErrors ?? []) if (rejected.recipient) replies.set(rejected.recipient, replyOf(rejected));
    const rest = replyOf(failure);
    for (const address of recipients) if (!replies.has(address)) replies.set(address, rest);
  }
  return replies;
}

/** The reply that ended a failed connection or login: always temporary for the message (another host may do). */
function setupFailure(err: SmtpError, target: SendTarget): RecipientReply {
  const where = `${target.name} [${target.address}]:${target.port}`;
  if (err.responseCode) {
    const parsed = parseReply(err.response ?? String(err.responseCode));
    const stage = err.code === 'EAUTH' ? 'refused our login' : err.command === 'CONN' || !err.command ? 'refused the session' : `answered ${err.command}`;
    return { status: 'deferred', code: parsed.code < 400 ? 451 : parsed.code, enhanced: parsed.enhanced.replace(/^5/, '4'), message: `${where} ${stage}: ${parsed.message}` };
  }
  const reasons: Record<string, string> = {
    ETIMEDOUT: 'timed out',
    ECONNECTION: 'connection failed',
    ESOCKET: 'connection failed',
    ETLS: 'TLS failed',
    EDNS: 'name not resolved',
  };
  const enhanced = err.code === 'ETLS' ? '4.7.5' : '4.4.1';
  return { status: 'deferred', code: 451, enhanced, message: `${where}: ${reasons[err.code ?? ''] ?? 'error'} (${err.message})` };
}

/** A recipient's or the message's failure as a result: 4xx deferred, 5xx failed, no reply = deferred. */
function replyOf(err: SmtpError): RecipientReply {
  if (!err.responseCode) return { status: 'deferred', code: 451, enhanced: '4.4.2', message: `Connection lost: ${err.message}`, connectionLost: true };
  const parsed = parseReply(err.response ?? String(err.responseCode));
  return { ...parsed, status: parsed.code >= 500 ? 'failed' : 'deferred' };
}

/** "550 5.1.1 <bob@x>: User unknown" → code, enhanced status code (or the class default), text. */
export function parseReply(reply: string): Omit<RecipientReply, 'status'> {
  const flat = reply.replace(/\r?\n(\d{3})[- ]/g, ' ').trim();
  const match = /^(\d{3})[ -]?(?:(\d\.\d{1,3}\.\d{1,3})\s+)?(.*)$/s.exec(flat);
  if (!match) return { code: 451, enhanced: '4.0.0', message: flat };
  const code = Number(match[1]);
  return { code, enhanced: match[2] ?? `${String(code)[0]}.0.0`, message: match[3]!.trim() };
}
