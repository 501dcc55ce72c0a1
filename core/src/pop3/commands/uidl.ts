import type { Pop3Command } from '../command.js';
import { textBody } from '../multiline.js';
import { maildropOf, messageArg, words } from './arguments.js';

/**
 * UIDL [msg] (RFC 1939 §7): "number unique-id". The id is `uidValidity.uid` of the INBOX, so it
 * stays the same across sessions and never names another message while the folder keeps its
 * UIDVALIDITY.
 */
export const uidl: Pop3Command = {
  name: 'UIDL',
  states: ['transaction'],
  async run(conn, args) {
    const argv = words(args);
    if (argv.length > 1) return conn.bad('Too many arguments');
    if (argv.length === 1) {
      const message = await messageArg(conn, argv[0]);
      return message && conn.ok(`${message.number} ${message.uniqueId}`);
    }
    return conn.multiline('Unique-id listing follows', textBody(maildropOf(conn).live().map((m) => `${m.number} ${m.uniqueId}`)));
  },
};
