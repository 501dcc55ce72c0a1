import { folderKey } from '../recent-tracker.js';
import { parseDateTime } from '../protocol/date-time.js';
import { bad, no } from '../protocol/protocol-error.js';
import { tryCreate } from '../store-errors.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/**
 * APPEND (RFC 3501 6.3.11) with APPENDUID (RFC 4315). The message arrives as a literal (its
 * size limit, imap.maxLiteralBytes, was checked before it was read); the store checks the quota.
 */
export const append: CommandHandler = {
  name: 'APPEND',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const name = args.mailbox();
    args.sp();
    let flags: string[] = [];
    if (args.peek() === 0x28) {
      flags = args.list(() => args.flag());
      args.sp();
    }
    let internalDate: number | undefined;
    if (args.peek() === 0x22) {
      internalDate = parseDateTime(args.string('a date-time').toString('latin1'));
      args.sp();
    }
    if (args.peek() !== 0x7b) throw bad('Expected a literal');
    const message = args.string('a message');
    args.end();
    if (message.length === 0) throw no('Cannot store an empty message');
    if (flags.includes('\\*')) throw bad('\\* is not a flag');
    let result: { uidValidity: number; uid: number };
    try {
      result = await session.store.append(session.user, name, message, flags, internalDate);
    } catch (err) {
      throw tryCreate(err);
    }
    const selected = session.selected;
    if (selected && folderKey(selected.name) === folderKey(name)) selected.dirty = true;
    return ok('APPEND completed', `APPENDUID ${result.uidValidity} ${result.uid}`);
  },
};
