import type { Pop3Conn } from '../command.js';
import type { Maildrop, MaildropMessage } from '../maildrop.js';

/** The space-separated arguments of a command line (extra spaces tolerated). */
export function words(args: string): string[] {
  const trimmed = args.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

/** A decimal number without sign, or undefined. Guards against "1e3", "0x10", huge values. */
export function parseNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return undefined;
  return Number(text);
}

/** The maildrop of a TRANSACTION command (the dispatcher only calls these in that state). */
export function maildropOf(conn: Pop3Conn): Maildrop {
  if (!conn.maildrop) throw new Error('no maildrop outside the TRANSACTION state');
  return conn.maildrop;
}

/**
 * The message a "msg" argument names (RFC 1939: "may NOT refer to a message marked as deleted").
 * Answers the -ERR itself and returns undefined when there is no such message.
 */
export async function messageArg(conn: Pop3Conn, arg: string | undefined): Promise<MaildropMessage | undefined> {
  const number = parseNumber(arg);
  if (number === undefined || number === 0) {
    await conn.bad(arg === undefined ? 'Message number required' : 'Invalid message number');
    return undefined;
  }
  const maildrop = maildropOf(conn);
  const message = maildrop.get(number);
  if (!message) await conn.err(maildrop.isDeleted(number) ? `Message ${number} already deleted` : 'No such message');
  return message;
}
