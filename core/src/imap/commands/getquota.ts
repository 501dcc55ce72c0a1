import type { ImapSession } from '../imap-session.js';
import { no } from '../protocol/protocol-error.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/**
 * The one quota root, "" (the user's whole mailbox): `* QUOTA "" (STORAGE used limit)` in KiB
 * (RFC 2087/9208), `()` when the user has no quota.
 */
export async function quotaResponse(session: ImapSession): Promise<string> {
  const { usage, limit } = await session.store.quota(session.user);
  if (limit === undefined) return '* QUOTA "" ()';
  return `* QUOTA "" (STORAGE ${Math.ceil(usage / 1024)} ${Math.floor(limit / 1024)})`;
}

/** GETQUOTA (RFC 2087 4.2). */
export const getquota: CommandHandler = {
  name: 'GETQUOTA',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const root = args.astringText('a quota root');
    args.end();
    if (root !== '') throw no('No such quota root', 'NONEXISTENT');
    session.conn.writer.line(await quotaResponse(session));
    return ok('GETQUOTA completed');
  },
};
