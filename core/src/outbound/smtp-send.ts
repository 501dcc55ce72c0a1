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

/**
 * `connected: false`: no SMTP session could be set up with this address (refused, timed out, a
 * greeting refusal, TLS or AUTH failure): the caller tries the next host. Otherwise each
 * recipient has its reply.
 */
export type SendOutcome =
  | { connected: false; reply: RecipientReply }
  | { connected: true; replies: Map<string, RecipientReply>; secure: boolean };

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; command?: string; recipient?: string; rejectedErrors?: SmtpError[] };

/** Send `message` from `sender` to `recipients` over one connection to `target`. Never throws. */
export async function sendOnce(target: SendTarget, settings: SendSettings, sender: string, recipients: string[], message: Buffer): Promise<SendOutcome> {
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
  connection.on('error', (err: Error) => failed?.(err));
  const step = (run: (done: (err?: Error | null) => void) => void) =>
    new Promise<void>((resolve, reject) => {
      failed = reject;
      run((err) => (err ? reject(err) : resolve()));
    }).finally(() => (failed = undefined));
  try {
    try {
      await step((done) => connection.connect(done));
      if (target.auth) await step((done) => connection.login(target.auth!, done));
    } catch (err) {
      return { connected: false, reply: setupFailure(err as SmtpError, target) };
    }
    const replies = await transaction(connection, sender, recipients, message);
    connection.quit();
    return { connected: true, replies, secure: connection.secure };
  } finally {
    // quit() above ends a good session politely; close() makes sure nothing is left open.
    setTimeout(() => connection.close(), 1000).unref();
  }
}

async function transaction(connection: SMTPConnection, sender: string, recipients: string[], message: Buffer): Promise<Map<string, RecipientReply>> {
  const replies = new Map<string, RecipientReply>();
  const eightBit = message.some((byte) => byte > 0x7f);
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
  if (!err.responseCode) return { status: 'deferred', code: 451, enhanced: '4.4.2', message: `Connection lost: ${err.message}` };
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
