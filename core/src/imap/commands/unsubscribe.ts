import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** UNSUBSCRIBE (RFC 3501 6.3.7). */
export const unsubscribe: CommandHandler = {
  name: 'UNSUBSCRIBE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const name = args.mailbox();
    args.end();
    await session.store.setSubscribed(session.user, name, false);
    return ok('UNSUBSCRIBE completed');
  },
};
