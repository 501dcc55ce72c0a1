import { SELECTED, ok, type CommandHandler } from './command.js';

/** CLOSE (RFC 3501 6.4.2): expunge \Deleted messages without EXPUNGE responses (not when read-only), deselect. */
export const close: CommandHandler = {
  name: 'CLOSE',
  states: SELECTED,
  async run({ session, args }) {
    args.end();
    const folder = session.folder;
    session.deselect();
    if (!folder.readOnly) await session.store.expunge(session.user, folder.name);
    return ok('CLOSE completed');
  },
};
