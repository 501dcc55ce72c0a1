import { ANY, ok, type CommandHandler } from './command.js';

/** LOGOUT (RFC 3501 6.1.3): BYE, then the tagged OK, then the connection closes. */
export const logout: CommandHandler = {
  name: 'LOGOUT',
  states: ANY,
  async run({ session, args }) {
    args.end();
    session.conn.writer.line('* BYE Logging out');
    session.deselect();
    session.state = 'logout';
    return ok('LOGOUT completed');
  },
};
