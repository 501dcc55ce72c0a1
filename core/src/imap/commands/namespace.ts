import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** NAMESPACE (RFC 2342): one personal namespace, no prefix, "/" as the delimiter. */
export const namespace: CommandHandler = {
  name: 'NAMESPACE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    args.end();
    session.conn.writer.line('* NAMESPACE (("" "/")) NIL NIL');
    return ok('NAMESPACE completed');
  },
};
