import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** RENAME (RFC 3501 6.3.5): renaming INBOX moves its messages into the new folder (the store does it). */
export const rename: CommandHandler = {
  name: 'RENAME',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const from = args.mailbox();
    args.sp();
    const to = args.mailbox();
    args.end();
    await session.store.renameFolder(session.user, from, to);
    return ok('RENAME completed');
  },
};
