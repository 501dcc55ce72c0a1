import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** SUBSCRIBE (RFC 3501 6.3.6). */
export const subscribe: CommandHandler = {
  name: 'SUBSCRIBE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const name = args.mailbox();
    args.end();
    await session.store.setSubscribed(session.user, name, true);
    return ok('SUBSCRIBE completed');
  },
};
