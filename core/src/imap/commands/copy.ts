import type { ImapSession } from '../imap-session.js';
import { selectUids } from '../message-set.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import type { ArgReader } from '../protocol/arg-reader.js';
import { folderKey } from '../recent-tracker.js';
import { tryCreate } from '../store-errors.js';
import { SELECTED, ok, type CommandHandler } from './command.js';

/** What COPY and MOVE share: read `set SP mailbox`, copy, and the COPYUID code (RFC 4315). */
export async function copyMessages(session: ImapSession, args: ArgReader, uid: boolean): Promise<{ source: number[]; code: string | undefined }> {
  const setText = args.sequenceSetText();
  args.sp();
  const target = args.mailbox();
  args.end();
  const folder = session.folder;
  const uids = selectUids(folder, setText, uid);
  if (uids.length === 0) {
    // Nothing to copy; the target must still exist.
    await session.store.sync(session.user, target).catch((err: unknown) => {
      throw tryCreate(err);
    });
    return { source: [], code: undefined };
  }
  let result: { uidValidity: number; mapping: Array<[number, number]> };
  try {
    result = await session.store.copy(session.user, folder.name, uids, target);
  } catch (err) {
    throw tryCreate(err);
  }
  if (folderKey(target) === folderKey(folder.name)) folder.dirty = true;
  const source = result.mapping.map(([from]) => from);
  const code = `COPYUID ${result.uidValidity} ${formatSequenceSet(source)} ${formatSequenceSet(result.mapping.map(([, to]) => to))}`;
  return { source, code };
}

/** COPY / UID COPY (RFC 3501 6.4.7, COPYUID from RFC 4315). A missing target is NO [TRYCREATE]. */
export const copy: CommandHandler = {
  name: 'COPY',
  states: SELECTED,
  uid: true,
  async run({ session, args, uid }) {
    const { code } = await copyMessages(session, args, uid);
    return ok('COPY completed', code);
  },
};
