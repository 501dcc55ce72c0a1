import type { Pop3Command } from '../command.js';
import { dotStuffed, topOf } from '../multiline.js';
import { messageArg, parseNumber, words } from './arguments.js';
import { readMessage } from './read-message.js';

/** TOP msg n (RFC 1939 §7): the header, the blank line, and the first n lines of the body. */
export const top: Pop3Command = {
  name: 'TOP',
  states: ['transaction'],
  async run(conn, args) {
    const argv = words(args);
    if (argv.length !== 2) return conn.bad('TOP needs a message number and a line count');
    const lines = parseNumber(argv[1]);
    if (lines === undefined) return conn.bad('Invalid line count');
    const message = await messageArg(conn, argv[0]);
    if (!message) return;
    const data = await readMessage(conn, message);
    if (!data) return;
    return conn.multiline('Top of message follows', dotStuffed(topOf(data, lines)));
  },
};
