import type { Pop3Command } from '../command.js';
import { refusalText } from '../response-codes.js';

/**
 * USER name (RFC 1939 §7). Refused at once without TLS (unless allowInsecureAuth) so the client
 * does not go on to send the password in clear. Never says whether the user exists.
 */
export const user: Pop3Command = {
  name: 'USER',
  states: ['authorization'],
  async run(conn, args) {
    const name = args.trim();
    if (name === '') return conn.bad('USER needs a name');
    const allowed = conn.guard.mayLogin(conn.session);
    if (!allowed.ok) {
      conn.pendingUser = undefined;
      return conn.err(refusalText(allowed));
    }
    conn.pendingUser = name;
    return conn.ok('Send your password');
  },
};
