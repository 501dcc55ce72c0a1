import type { Pop3Command } from '../command.js';
import { maildropOf } from './arguments.js';

/** RSET (RFC 1939 §5): unmark every message marked deleted. */
export const rset: Pop3Command = {
  name: 'RSET',
  states: ['transaction'],
  async run(conn, args) {
    if (args.trim() !== '') return conn.bad('RSET takes no arguments');
    const maildrop = maildropOf(conn);
    maildrop.unmarkAll();
    const { count, octets } = maildrop.stat();
    return conn.ok(`Maildrop has ${count} messages (${octets} octets)`);
  },
};
