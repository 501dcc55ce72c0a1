import type { Pop3Command } from '../command.js';

/** NOOP (RFC 1939 §5). */
export const noop: Pop3Command = {
  name: 'NOOP',
  states: ['transaction'],
  async run(conn, args) {
    if (args.trim() !== '') return conn.bad('NOOP takes no arguments');
    return conn.ok('');
  },
};
