import { MailStoreError } from '../../mailstore/mail-store.js';
import type { Pop3Conn } from '../command.js';
import { Maildrop } from '../maildrop.js';
import { RespCode, refusalText } from '../response-codes.js';

/**
 * The end of every login (PASS and AUTH PLAIN): check the credentials through the SessionGuard
 * (TLS rule, password, failure delay and limit, `auth` hook), lock the maildrop, take the INBOX
 * snapshot, enter TRANSACTION. On any refusal the session stays in AUTHORIZATION, logged out.
 */
export async function openMaildrop(conn: Pop3Conn, username: string, password: string, method: 'USER' | 'PLAIN'): Promise<void> {
  const result = await conn.guard.login(conn.session, username, password, method);
  if (!result.ok) return conn.err(refusalText(result));
  const user = result.user;
  if (!conn.locks.acquire(user, conn.session.id)) {
    conn.session.user = undefined;
    conn.log.info({ user, ip: conn.session.remoteAddress, listener: conn.session.listener }, 'pop3 maildrop in use');
    return conn.err(`[${RespCode.IN_USE}] Maildrop is in use by another POP3 session`);
  }
  let maildrop: Maildrop;
  try {
    maildrop = new Maildrop(user, await conn.store.sync(user, 'INBOX'));
  } catch (err) {
    conn.locks.release(user, conn.session.id);
    conn.session.user = undefined;
    conn.log.error({ err, user }, 'pop3 cannot open the maildrop');
    // A folder the store cannot name will not appear by retrying; anything else may pass.
    const permanent = err instanceof MailStoreError && (err.code === 'BAD_NAME' || err.code === 'NO_SUCH_FOLDER');
    return conn.err(`[${permanent ? RespCode.SYS_PERM : RespCode.SYS_TEMP}] Cannot open the maildrop`);
  }
  conn.enterTransaction(maildrop);
  const { count, octets } = maildrop.stat();
  return conn.ok(`Logged in, ${count} message${count === 1 ? '' : 's'} (${octets} octets)`);
}
