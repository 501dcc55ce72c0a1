import type { Pop3Command } from '../command.js';
import { maildropOf } from './arguments.js';

/** STAT (RFC 1939 §5): count and octets of the messages not marked deleted. */
export const stat: Pop3Command = {
  name: 'STAT',
  states: ['transaction'],
  async run(conn, args) {
    if (args.trim() !== '') return conn.bad('STAT takes no arguments');
    const { count, octets } = maildropOf(conn).stat();
    return conn.ok(`${count} ${octets}`);
  },
};
