import type { Pop3Command } from '../command.js';
import { openMaildrop } from './open-maildrop.js';

/** PASS string (RFC 1939 §7): the rest of the line is the password, spaces included. */
export const pass: Pop3Command = {
  name: 'PASS',
  states: ['authorization'],
  async run(conn, args) {
    const username = conn.pendingUser;
    // RFC 1939: PASS may only follow a successful USER; either way the USER is used up.
    conn.pendingUser = undefined;
    if (username === undefined) return conn.bad('Send USER first');
    return openMaildrop(conn, username, args, 'USER');
  },
};
