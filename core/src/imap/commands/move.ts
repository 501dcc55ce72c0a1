import { no } from '../protocol/protocol-error.js';
import { SELECTED, ok, type CommandHandler } from './command.js';
import { copyMessages } from './copy.js';

/**
 * MOVE / UID MOVE (RFC 6851): copy, then expunge the originals; the client gets the COPYUID
 * code in an untagged OK first, then an EXPUNGE for each moved message.
 */
export const move: CommandHandler = {
  name: 'MOVE',
  states: SELECTED,
  uid: true,
  async run({ session, args, uid }) {
    const folder = session.folder;
    if (folder.readOnly) throw no('The mailbox is read-only', 'READ-ONLY');
    const { source, code } = await copyMessages(session, args, uid);
    if (source.length === 0) return ok('MOVE completed');
    const { writer } = session.conn;
    writer.line(`* OK [${code}] Moved`);
    const removed = await session.ownChange(() => session.store.expunge(session.user, folder.name, source), (r) => r);
    folder.removeUids(removed.filter((u) => folder.seqOf(u) > 0), writer);
    return ok('MOVE completed');
  },
};
