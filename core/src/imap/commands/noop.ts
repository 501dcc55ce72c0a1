import { ANY, ok, type CommandHandler } from './command.js';

/** NOOP (RFC 3501 6.1.2): a chance for the server to report changes to the selected folder. */
export const noop: CommandHandler = {
  name: 'NOOP',
  states: ANY,
  async run({ session, args }) {
    args.end();
    if (session.selected) await session.sendUpdates({ sync: true, expunge: true });
    return ok('NOOP completed');
  },
};
