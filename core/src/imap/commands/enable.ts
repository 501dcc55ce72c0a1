import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/** ENABLE (RFC 5161): CONDSTORE is the one extension that needs enabling; others are ignored. */
export const enable: CommandHandler = {
  name: 'ENABLE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const enabled: string[] = [];
    do {
      const capability = args.atom('a capability').toUpperCase();
      if (capability === 'CONDSTORE' && !enabled.includes('CONDSTORE')) {
        session.condstore = true;
        enabled.push('CONDSTORE');
      }
    } while (args.more());
    args.end();
    session.conn.writer.line(`* ENABLED${enabled.map((c) => ` ${c}`).join('')}`);
    return ok('ENABLE completed');
  },
};
