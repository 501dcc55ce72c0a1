import { ANY, ok, type CommandHandler } from './command.js';

/** CAPABILITY (RFC 3501 6.1.1). */
export const capability: CommandHandler = {
  name: 'CAPABILITY',
  states: ANY,
  async run({ session, args }) {
    args.end();
    session.conn.writer.line(`* CAPABILITY ${session.capabilities().join(' ')}`);
    return ok('CAPABILITY completed');
  },
};
