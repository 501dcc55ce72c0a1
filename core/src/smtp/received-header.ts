import type { SmtpSessionState } from './session-state.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** RFC 5322 date-time in UTC: "Sun, 29 Nov 2026 14:03:07 +0000". */
export function rfc5322Date(date: Date): string {
  return (
    `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** A header-safe token: what a client says in HELO is not trusted to be clean. */
const clean = (value: string) => value.replace(/[^\x21-\x7e]/g, '?').slice(0, 255);

/**
 * The Received trace header (RFC 5321 §4.4) for one accepted message, with the queue id, so a
 * user's "why did this arrive late" starts with a grep of the log for that id.
 */
export function receivedHeader(session: SmtpSessionState, hostname: string, queueId: string, recipients: readonly string[], at: Date): string {
  const helo = clean(session.helo ?? 'unknown');
  const ip = session.remoteAddress.replace(/^::ffff:/i, '');
  const literal = ip.includes(':') ? `IPv6:${ip}` : ip;
  const forClause = recipients.length === 1 ? `\r\n\tfor <${clean(recipients[0] ?? '')}>` : '';
  return `Received: from ${helo} ([${literal}])\r\n\tby ${hostname} (Postern) with ${session.withProtocol} id ${queueId}${forClause};\r\n\t${rfc5322Date(at)}\r\n`;
}
