import type { Pop3Command } from '../command.js';
import { dotStuffed } from '../multiline.js';
import { messageArg, words } from './arguments.js';
import { readMessage } from './read-message.js';

/** RETR msg (RFC 1939 §7): the whole message as stored, dot-stuffed. */
export const retr: Pop3Command = {
  name: 'RETR',
  states: ['transaction'],
  async run(conn, args) {
    const argv = words(args);
    if (argv.length > 1) return conn.bad('Too many arguments');
    const message = await messageArg(conn, argv[0]);
    if (!message) return;
    const data = await readMessage(conn, message);
    if (!data) return;
    return conn.multiline(`${data.length} octets`, dotStuffed(data));
  },
};
