import { searchFolder } from '../search-runner.js';
import { no } from '../protocol/protocol-error.js';
import { parseSearch } from '../protocol/search-criteria.js';
import { SELECTED, ok, type CommandHandler } from './command.js';

const CHARSETS = new Set(['UTF-8', 'US-ASCII']);

/**
 * SEARCH / UID SEARCH (RFC 3501 6.4.4, MODSEQ from RFC 7162 3.1.5). CHARSET UTF-8 and US-ASCII
 * are understood; any other is NO [BADCHARSET].
 */
export const search: CommandHandler = {
  name: 'SEARCH',
  states: SELECTED,
  uid: true,
  holdsExpunges: true,
  async run({ session, args, uid }) {
    const folder = session.folder;
    const parsed = parseSearch(args, { exists: folder.exists, maxUid: folder.uids[folder.uids.length - 1] ?? 0 });
    args.end();
    if (parsed.charset !== undefined && !CHARSETS.has(parsed.charset)) throw no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
    if (parsed.usesModseq) session.condstore = true;
    const hits = await searchFolder(session, parsed.key);
    let line = '* SEARCH';
    let highest = 0;
    for (const k of hits) {
      const u = folder.uids[k]!;
      line += ` ${uid ? u : k + 1}`;
      highest = Math.max(highest, folder.message(u)?.modseq ?? 0);
    }
    if (parsed.usesModseq && hits.length > 0) line += ` (MODSEQ ${highest})`;
    session.conn.writer.line(line);
    return ok('SEARCH completed');
  },
};
