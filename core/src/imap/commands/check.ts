import { SELECTED, ok, type CommandHandler } from './command.js';

/** CHECK (RFC 3501 6.4.1): nothing to checkpoint (every change is written at once); reports changes like NOOP. */
export const check: CommandHandler = {
  name: 'CHECK',
  states: SELECTED,
  async run({ session, args }) {
    args.end();
    await session.sendUpdates({ sync: true, expunge: true });
    return ok('CHECK completed');
  },
};
