/**
 * A small SPAMC/1.5 client over node:net. Our own rather than the npm `spamc` package (0.0.5, 2012),
 * which is broken against a real spamd: `symbols` drops the last symbol, `report` is undefined, a
 * Buffer input hangs, and ECONNREFUSED fires its callback twice.
 *
 * One exchange per connection, as spamd expects: connect, write the request, half-close (spamd
 * reads to the end of the body), read until the reply is complete or spamd closes, parse
 * (spamc-protocol.ts).
 */
import { connect } from 'node:net';
import { encodeRequest, parseReply, replyComplete, SpamcError } from './spamc-protocol.js';
import type { SpamcCommand, SpamcReply } from './spamc-protocol.js';

export { SPAMD_EXIT_CODES, SpamcError } from './spamc-protocol.js';
export type { SpamcCommand, SpamcErrorCode, SpamcReply } from './spamc-protocol.js';

/** Where spamd is and how long to wait for it. */
export interface SpamdTarget {
  host: string;
  port: number;
  /** Connecting may take this long. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** The whole exchange (connect, send, reply) may take this long. Default 10000 ms. */
  timeoutMs?: number;
  /** Scan with this user's preferences (spamc -u): the `User:` header. Default: none. */
  user?: string;
}

/** A reply larger than this is not spamd (its biggest, a REPORT, is a few KB). */
const MAX_REPLY_BYTES = 1024 * 1024;

/**
 * Send one raw exchange and resolve with spamd's whole reply (at its end, or when spamd closes,
 * whichever comes first; PING's one-line reply ends with the close). Settles exactly
 * once: a connection error, a timeout and the end of the reply race, the first one wins and the
 * socket is destroyed.
 */
function exchange(target: SpamdTarget, request: Buffer): Promise<Buffer> {
  const connectTimeoutMs = target.connectTimeoutMs ?? 2000;
  const timeoutMs = target.timeoutMs ?? 10_000;
  const where = `${target.host}:${target.port}`;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let connected = false;
    let settled = false;
    const socket = connect({ host: target.host, port: target.port });
    const finish = (error: SpamcError | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(overallTimer);
      socket.destroy();
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, received));
    };
    const connectTimer = setTimeout(
      () => finish(new SpamcError('SPAMC_TIMEOUT', `spamd at ${where}: no connection within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    const overallTimer = setTimeout(
      () => finish(new SpamcError('SPAMC_TIMEOUT', `spamd at ${where}: no complete reply within ${timeoutMs} ms`)),
      timeoutMs,
    );

    socket.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      // end() writes the request, then half-closes: spamd sees the end of the body and answers.
      socket.end(request);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_REPLY_BYTES) {
        finish(new SpamcError('SPAMC_BAD_REPLY', `spamd at ${where}: reply larger than ${MAX_REPLY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
      if (replyComplete(Buffer.concat(chunks, received))) finish(undefined);
    });
    socket.once('end', () => finish(undefined));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // spamd may answer an error and close before reading all of a large body: our write then
      // fails (EPIPE / ECONNRESET) although its status line has arrived. That reply is the answer.
      if (connected && received > 0) {
        finish(undefined);
        return;
      }
      finish(new SpamcError('SPAMC_CONNECT', `spamd at ${where}: ${err.code ?? err.message}${connected ? ' (connection lost before a reply)' : ''}`, { cause: err }));
    });
  });
}

/**
 * Ask spamd about `message` (headers and body, as received). Rejects with a {@link SpamcError}
 * (`code`: SPAMC_CONNECT, SPAMC_TIMEOUT, SPAMC_BAD_REPLY, SPAMC_SPAMD_ERROR).
 * @example
 * const reply = await spamcRequest({ host: '127.0.0.1', port: 783 }, 'SYMBOLS', message);
 * // { isSpam: true, score: 1000, threshold: 5, symbols: ['GTUBE', …], … }
 */
export async function spamcRequest(target: SpamdTarget, command: SpamcCommand, message: Buffer): Promise<SpamcReply> {
  const raw = await exchange(target, encodeRequest(command, message, target.user));
  return parseReply(command, raw);
}

/**
 * PING: resolves when spamd answers `SPAMD/1.x 0 PONG`.
 * @example
 * await spamdPing({ host: '127.0.0.1', port: 783, timeoutMs: 500 });
 */
export async function spamdPing(target: SpamdTarget): Promise<void> {
  const raw = await exchange(target, Buffer.from('PING SPAMC/1.5\r\n\r\n', 'latin1'));
  const line = raw.toString('latin1').split('\r\n')[0] ?? '';
  if (!/^SPAMD\/1\.\d+ 0 PONG$/.test(line)) throw new SpamcError('SPAMC_BAD_REPLY', `spamd PING: expected "SPAMD/1.x 0 PONG", got ${JSON.stringify(line.slice(0, 80))}`);
}
