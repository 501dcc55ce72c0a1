import { SELECTED, ok, type CommandHandler } from './command.js';

/** UNSELECT (RFC 3691): deselect without expunging. */
export const unselect: CommandHandler = {
  name: 'UNSELECT',
  states: SELECTED,
  async run({ session, args }) {
    args.end();
    session.deselect();
    return ok('UNSELECT completed');
  },
};
