import { bad } from '../protocol/protocol-error.js';
import { flagList } from '../protocol/response-format.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

/**
 * SELECT and EXAMINE (RFC 3501 6.3.1-2, RFC 7162 3.1.8 for the CONDSTORE parameter and
 * HIGHESTMODSEQ). A failed SELECT leaves no folder selected.
 */
export function selectCommand(name: 'SELECT' | 'EXAMINE', readOnly: boolean): CommandHandler {
  return {
    name,
    states: AUTHENTICATED,
    async run({ session, args }) {
      const mailbox = args.mailbox();
      let condstore = false;
      if (args.more()) {
        for (const param of args.list(() => args.atom('a parameter').toUpperCase())) {
          if (param !== 'CONDSTORE') throw bad(`Unknown ${name} parameter`);
          condstore = true;
        }
      }
      args.end();
      session.deselect();
      if (condstore) session.condstore = true;
      const folder = await session.select(mailbox, readOnly);
      const { writer } = session.conn;
      writer.line(`* FLAGS ${flagList([...SYSTEM_FLAGS, ...folder.keywords()])}`);
      writer.line(`* OK [PERMANENTFLAGS ${flagList(readOnly ? [] : [...SYSTEM_FLAGS, '\\*'])}] Flags permitted`);
      writer.line(`* ${folder.exists} EXISTS`);
      writer.line(`* ${folder.recentCount} RECENT`);
      const unseen = folder.firstUnseen();
      if (unseen > 0) writer.line(`* OK [UNSEEN ${unseen}] First unseen`);
      writer.line(`* OK [UIDVALIDITY ${folder.info.uidValidity}] UIDs valid`);
      writer.line(`* OK [UIDNEXT ${folder.info.uidNext}] Predicted next UID`);
      writer.line(`* OK [HIGHESTMODSEQ ${folder.info.highestModseq}] Highest`);
      return ok(`${name} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
    },
  };
}

export const select = selectCommand('SELECT', false);
