import { MailStoreError } from '../../mailstore/mail-store.js';
import type { Pop3Conn } from '../command.js';
import type { MaildropMessage } from '../maildrop.js';
import { RespCode } from '../response-codes.js';

/**
 * The bytes of a maildrop message from the store. A message another session (IMAP) expunged
 * since the snapshot answers -ERR; a store failure -ERR [SYS/TEMP]. Undefined after such an answer.
 */
export async function readMessage(conn: Pop3Conn, message: MaildropMessage): Promise<Buffer | undefined> {
  const user = conn.session.user!;
  try {
    return await conn.store.read(user, 'INBOX', message.uid);
  } catch (err) {
    if (err instanceof MailStoreError && err.code === 'NO_SUCH_MESSAGE') {
      await conn.err(`Message ${message.number} was removed by another session`);
      return undefined;
    }
    conn.log.error({ err, user, uid: message.uid }, 'pop3 cannot read a message');
    await conn.err(`[${RespCode.SYS_TEMP}] Cannot read the message now`);
    return undefined;
  }
}
