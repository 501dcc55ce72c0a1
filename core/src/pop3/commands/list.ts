import type { Pop3Command } from '../command.js';
import { textBody } from '../multiline.js';
import { maildropOf, messageArg, words } from './arguments.js';

/** LIST [msg] (RFC 1939 §5): "number size" of one message, or of every message not marked deleted. */
export const list: Pop3Command = {
  name: 'LIST',
  states: ['transaction'],
  async run(conn, args) {
    const argv = words(args);
    if (argv.length > 1) return conn.bad('Too many arguments');
    if (argv.length === 1) {
      const message = await messageArg(conn, argv[0]);
      return message && conn.ok(`${message.number} ${message.size}`);
    }
    const maildrop = maildropOf(conn);
    const { count, octets } = maildrop.stat();
    return conn.multiline(`${count} messages (${octets} octets)`, textBody(maildrop.live().map((m) => `${m.number} ${m.size}`)));
  },
};
