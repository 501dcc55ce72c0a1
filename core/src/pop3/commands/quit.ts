import type { Pop3Command } from '../command.js';
import { RespCode } from '../response-codes.js';

/**
 * QUIT (RFC 1939 §6). In TRANSACTION this is the UPDATE state: the messages marked deleted are
 * expunged from the store, then the connection closes. Only here are messages removed: a
 * connection that drops or times out removes nothing.
 */
export const quit: Pop3Command = {
  name: 'QUIT',
  states: ['authorization', 'transaction'],
  async run(conn) {
    const maildrop = conn.maildrop;
    if (!maildrop) {
      await conn.ok('Postern signing off');
      return conn.close();
    }
    const uids = maildrop.deletedUids();
    try {
      if (uids.length > 0) await conn.store.expunge(maildrop.user, 'INBOX', uids);
    } catch (err) {
      conn.log.error({ err, user: maildrop.user, uids }, 'pop3 could not remove the deleted messages');
      await conn.err(`[${RespCode.SYS_TEMP}] Some deleted messages were not removed`);
      return conn.close();
    }
    if (uids.length > 0) conn.log.info({ user: maildrop.user, removed: uids.length }, 'pop3 messages removed');
    const left = maildrop.stat().count;
    await conn.ok(`Postern signing off (${left} message${left === 1 ? '' : 's'} left)`);
    return conn.close();
  },
};
