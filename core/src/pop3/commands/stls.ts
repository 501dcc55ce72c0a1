import type { Pop3Command } from '../command.js';

/**
 * STLS (RFC 2595 §4): only before login on a STARTTLS listener. Anything the client pipelined
 * after STLS is thrown away unread (a man in the middle could have put it there), and so is a
 * pending USER.
 */
export const stls: Pop3Command = {
  name: 'STLS',
  states: ['authorization'],
  async run(conn, args) {
    if (args.trim() !== '') return conn.bad('STLS takes no arguments');
    if (!conn.canStartTls) return conn.bad(conn.session.secure ? 'TLS is already active' : 'STLS is not offered on this port');
    conn.pendingUser = undefined;
    await conn.startTls();
  },
};
