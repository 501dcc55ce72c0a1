import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/** One SMTP reply, possibly multi-line. */
export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code of the last line, when present ("5.1.1"). */
  enhanced: string | undefined;
  /** Text of every line, without code and separator. */
  lines: string[];
  /** The reply exactly as received, CRLFs included. */
  raw: string;
}

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/;

/**
 * A deliberately dumb SMTP client over node:net / node:tls: it writes exactly the bytes it is
 * given and parses replies as they arrive, so tests can pipeline, send bare LFs, or hold the
 * DATA terminator. Replies that arrive before they are asked for are queued, so an unexpected
 * extra reply is visible (`pending`, `expectSilence`).
 */
export class RawSmtp {
  socket: Socket | TLSSocket;
  #buffer = '';
  #replies: SmtpReply[] = [];
  #waiting: Array<(reply: SmtpReply | Error) => void> = [];
  #closed = false;
  #closedPromise: Promise<void>;
  #resolveClosed!: () => void;
  /** Every byte received, for debugging. */
  transcript = '';

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#attach(socket);
  }

  /** Connect and read the greeting (returned as `greeting`). */
  static async connect(port: number, options: { tls?: boolean; host?: string } = {}): Promise<{ client: RawSmtp; greeting: SmtpReply }> {
    const host = options.host ?? '127.0.0.1';
    const socket = await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const s: Socket | TLSSocket = options.tls
        ? tlsConnect({ host, port, rejectUnauthorized: false, servername: 'mx.example.test' }, () => resolve(s))
        : netConnect({ host, port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawSmtp(socket);
    const greeting = await client.read();
    return { client, greeting };
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.transcript += chunk;
      this.#buffer += chunk;
      this.#parse();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (socket !== this.socket) return;
      this.#closed = true;
      this.#resolveClosed();
      for (const waiter of this.#waiting.splice(0)) waiter(new Error(`connection closed; transcript:\n${this.transcript}`));
    });
  }

  #parse(): void {
    for (;;) {
      // A reply ends at a line "NNN text" (space, or nothing, after the code).
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(this.#buffer);
      if (!match) return;
      const raw = match[0];
      this.#buffer = this.#buffer.slice(raw.length);
      const lines = raw
        .split('\r\n')
        .filter((l) => l !== '')
        .map((l) => l.slice(4));
      const last = lines[lines.length - 1] ?? '';
      const reply: SmtpReply = { code: Number(match[1]), enhanced: ENHANCED.exec(last)?.[1], lines, raw };
      const waiter = this.#waiting.shift();
      if (waiter) waiter(reply);
      else this.#replies.push(reply);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Replies received that nobody has read yet. */
  get pending(): number {
    return this.#replies.length;
  }

  /** The next reply (queued or future). */
  read(timeoutMs = 10_000): Promise<SmtpReply> {
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(new Error(`connection closed; transcript:\n${this.transcript}`));
    return new Promise((resolve, reject) => {
      const waiter = (reply: SmtpReply | Error) => {
        clearTimeout(timer);
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      };
      const timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(new Error(`no SMTP reply within ${timeoutMs} ms; transcript:\n${this.transcript}`));
      }, timeoutMs);
      this.#waiting.push(waiter);
    });
  }

  /** Write bytes as they are. */
  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Send one command line (CRLF added) and read its reply. */
  async cmd(line: string, timeoutMs?: number): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** Wait `ms` and fail if any reply arrived meanwhile (or was already queued). */
  async expectSilence(ms = 300): Promise<SmtpReply[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.#replies.splice(0);
  }

  /** STARTTLS and the TLS handshake (certificate not verified). Returns the 220 reply. */
  async starttls(): Promise<SmtpReply> {
    const reply = await this.cmd('STARTTLS');
    if (reply.code !== 220) return reply;
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: 'mx.example.test' }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.#attach(secure);
    return reply;
  }

  /** EHLO; the reply's lines are the extensions. */
  ehlo(name = 'client.example.test'): Promise<SmtpReply> {
    return this.cmd(`EHLO ${name}`);
  }

  /** AUTH PLAIN with an initial response. */
  authPlain(user: string, password: string): Promise<SmtpReply> {
    return this.cmd(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
  }

  /**
   * MAIL, RCPT..., DATA, body, terminator, one command at a time. `body` must already use CRLF; it
   * is dot-stuffed unless `raw` (then it is sent exactly as given). The terminator `.\r\n` is
   * appended (after a CRLF if `body` does not end with one). Stops at the first refusal (or when
   * no recipient was accepted) and returns every reply so far.
   */
  async send(from: string, to: string[], body: string | Buffer, options: { raw?: boolean } = {}): Promise<{ ok: boolean; replies: SmtpReply[]; final: SmtpReply; queueId: string | undefined }> {
    const replies: SmtpReply[] = [];
    const step = async (reply: SmtpReply, want: number) => {
      replies.push(reply);
      return reply.code === want;
    };
    const done = (ok: boolean) => {
      const final = replies[replies.length - 1]!;
      return { ok, replies, final, queueId: ok ? queueIdOf(final) : undefined };
    };
    if (!(await step(await this.cmd(`MAIL FROM:<${from}>`), 250))) return done(false);
    let accepted = 0;
    for (const rcpt of to) if (await step(await this.cmd(`RCPT TO:<${rcpt}>`), 250)) accepted++;
    if (accepted === 0) return done(false);
    if (!(await step(await this.cmd('DATA'), 354))) return done(false);
    let bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
    if (!options.raw) bytes = Buffer.from(bytes.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1');
    const ends = bytes.length >= 2 && bytes[bytes.length - 2] === 0x0d && bytes[bytes.length - 1] === 0x0a;
    this.write(Buffer.concat([bytes, Buffer.from(ends ? '.\r\n' : '\r\n.\r\n')]));
    return done(await step(await this.read(), 250));
  }

  /** QUIT (if still open) and close. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.cmd('QUIT', 2000);
    } catch {
      // closed or silent: destroy below
    }
    this.close();
  }

  close(): void {
    this.socket.destroy();
  }

  whenClosed(): Promise<void> {
    return this.#closedPromise;
  }
}

/** The queue id from "250 2.0.0 Ok: queued as ID". */
export function queueIdOf(reply: SmtpReply | string): string | undefined {
  const text = typeof reply === 'string' ? reply : reply.lines.join(' ');
  return /queued as ([0-9A-Za-z]+)/.exec(text)?.[1];
}
