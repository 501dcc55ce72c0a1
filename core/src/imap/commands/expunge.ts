import { selectIndexes } from '../message-set.js';
import { no } from '../protocol/protocol-error.js';
import { SELECTED, ok, type CommandHandler } from './command.js';

/**
 * EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1: only the named messages that are
 * flagged \Deleted). Each removed message gets an EXPUNGE response.
 */
export const expunge: CommandHandler = {
  name: 'EXPUNGE',
  states: SELECTED,
  uid: true,
  async run({ session, args, uid }) {
    const setText = uid ? args.sequenceSetText() : undefined;
    args.end();
    const folder = session.folder;
    if (folder.readOnly) throw no('The mailbox is read-only', 'READ-ONLY');
    let removed: number[];
    if (setText === undefined) {
      removed = await session.ownChange(() => session.store.expunge(session.user, folder.name), (r) => r);
    } else {
      // Flags as they are now: bring the view up to date first (EXPUNGE responses may be sent).
      await session.sendUpdates({ sync: true, expunge: true });
      const uids = selectIndexes(folder, setText, true)
        .map((i) => folder.uids[i]!)
        .filter((u) => folder.message(u)?.flags.includes('\\Deleted'));
      removed = uids.length === 0 ? [] : await session.ownChange(() => session.store.expunge(session.user, folder.name, uids), (r) => r);
    }
    folder.removeUids(removed.filter((u) => folder.seqOf(u) > 0), session.conn.writer);
    return ok('EXPUNGE completed');
  },
};
