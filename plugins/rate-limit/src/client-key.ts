import type { SessionView, TransactionView } from '@postern/sdk';
import type { KeyKind } from './options.js';

/** A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; count them as the IPv4 address. */
function ipOf(session: SessionView): string {
  return session.remoteAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/**
 * The counter a message is charged to. Prefixed by kind so the results and logs say what was
 * counted. The null sender (bounces) and unauthenticated sessions fall back to the client IP:
 * otherwise every bounce in the world, or every anonymous client, would share one counter.
 */
export function clientKey(kind: KeyKind, session: SessionView, tx: TransactionView): string {
  if (kind === 'sender' && tx.mailFrom.address !== '') return `sender:${tx.mailFrom.address.toLowerCase()}`;
  if (kind === 'user' && session.user !== undefined) return `user:${session.user.toLowerCase()}`;
  return `ip:${ipOf(session)}`;
}
