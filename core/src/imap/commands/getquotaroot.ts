import { imapMailbox } from '../protocol/response-format.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';
import { quotaResponse } from './getquota.js';

/** GETQUOTAROOT (RFC 2087 4.3): every folder's root is "". */
export const getquotaroot: CommandHandler = {
  name: 'GETQUOTAROOT',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const name = args.mailbox();
    args.end();
    const { info } = await session.store.sync(session.user, name);
    const { writer } = session.conn;
    writer.line(`* QUOTAROOT ${imapMailbox(info.name)} ""`);
    writer.line(await quotaResponse(session));
    return ok('GETQUOTAROOT completed');
  },
};
