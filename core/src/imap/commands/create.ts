import { no } from '../protocol/protocol-error.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** CREATE (RFC 3501 6.3.3): a trailing "/" only says children will follow; the store checks the name. */
export const create: CommandHandler = {
  name: 'CREATE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    let name = args.mailbox();
    args.end();
    if (name.endsWith('/') && name.length > 1) name = name.slice(0, -1);
    if (name.toUpperCase() === 'INBOX') throw no('INBOX always exists', 'ALREADYEXISTS');
    await session.store.createFolder(session.user, name);
    return ok('CREATE completed');
  },
};
