import type { Pop3Command } from '../command.js';
import { maildropOf, messageArg, words } from './arguments.js';

/** DELE msg (RFC 1939 §5): mark the message; it is removed only at QUIT (UPDATE state). */
export const dele: Pop3Command = {
  name: 'DELE',
  states: ['transaction'],
  async run(conn, args) {
    const argv = words(args);
    if (argv.length > 1) return conn.bad('Too many arguments');
    const message = await messageArg(conn, argv[0]);
    if (!message) return;
    maildropOf(conn).markDeleted(message.number);
    return conn.ok(`Message ${message.number} deleted`);
  },
};
