import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** DELETE (RFC 3501 6.3.4): INBOX cannot be deleted (the store says CANNOT). */
export const deleteCommand: CommandHandler = {
  name: 'DELETE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const name = args.mailbox();
    args.end();
    await session.store.deleteFolder(session.user, name);
    return ok('DELETE completed');
  },
};
