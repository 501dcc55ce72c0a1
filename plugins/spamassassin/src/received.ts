import type { SessionView, TransactionView } from '@postern/sdk';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');
const clean = (value: string) => value.replace(/[^\x21-\x7e]/g, '?').slice(0, 255);

/**
 * A Received header describing the current SMTP hop, put on top of the copy sent to spamd only
 * (not on the stored message: the core adds its own Received after the data hook). Without it
 * spamd would see no relay at all (NO_RELAYS) and could not tell which client handed the message
 * over: its trust path, ALL_TRUSTED and the DNSBL tests of the connecting IP all read it. Same
 * shape as the core's own Received, which SpamAssassin parses (as spamass-milter does for
 * sendmail).
 */
export function receivedForSpamd(session: SessionView, tx: TransactionView, hostname: string, at = new Date()): string {
  const ip = session.remoteAddress.replace(/^::ffff:/i, '');
  const literal = ip.includes(':') ? `IPv6:${ip}` : ip;
  const withProtocol = `ESMTP${session.secure ? 'S' : ''}${session.user !== undefined ? 'A' : ''}`;
  const forClause = tx.recipients.length === 1 ? `\r\n\tfor <${clean(tx.recipients[0]?.address ?? '')}>` : '';
  const date =
    `${DAYS[at.getUTCDay()]}, ${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()} ` +
    `${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())} +0000`;
  return `Received: from ${clean(session.helo ?? 'unknown')} ([${literal}])\r\n\tby ${clean(hostname)} (Postern) with ${withProtocol} id ${clean(tx.id)}${forClause};\r\n\t${date}\r\n`;
}
