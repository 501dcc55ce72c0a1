import { bad } from '../protocol/protocol-error.js';
import { imapMailbox } from '../protocol/response-format.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

const ITEMS = new Set(['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ']);

/** STATUS (RFC 3501 6.3.10; HIGHESTMODSEQ from RFC 7162, which also enables CONDSTORE). */
export const status: CommandHandler = {
  name: 'STATUS',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const name = args.mailbox();
    args.sp();
    const items = args.list(() => args.atom('a status item').toUpperCase(), false);
    args.end();
    for (const item of items) if (!ITEMS.has(item)) throw bad(`Unknown status item ${item}`);
    if (items.includes('HIGHESTMODSEQ')) session.condstore = true;
    const snapshot = await session.store.sync(session.user, name);
    const { info, messages } = snapshot;
    const values: Record<string, () => number> = {
      MESSAGES: () => messages.length,
      RECENT: () => session.ctx.recent.count(session.user, info.name, info.uidValidity, messages.map((m) => m.uid)),
      UIDNEXT: () => info.uidNext,
      UIDVALIDITY: () => info.uidValidity,
      UNSEEN: () => messages.reduce((n, m) => (m.flags.includes('\\Seen') ? n : n + 1), 0),
      HIGHESTMODSEQ: () => info.highestModseq,
    };
    const out = [...new Set(items)].map((item) => `${item} ${values[item]!()}`);
    session.conn.writer.line(`* STATUS ${imapMailbox(info.name)} (${out.join(' ')})`);
    return ok('STATUS completed');
  },
};
