import { AUTHENTICATED, ok, type CommandHandler } from './command.js';
import { listFolders, readReferenceAndPatterns } from './list.js';

/** LSUB (RFC 3501 6.3.9): the subscribed folders matching a pattern. */
export const lsub: CommandHandler = {
  name: 'LSUB',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const { reference, patterns } = readReferenceAndPatterns(args);
    args.end();
    await listFolders(session, 'LSUB', reference, patterns, { subscribedOnly: true, specialUseOnly: false, returnSubscribed: false });
    return ok('LSUB completed');
  },
};
