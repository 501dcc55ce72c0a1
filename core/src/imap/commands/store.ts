import { selectIndexes } from '../message-set.js';
import { bad, no } from '../protocol/protocol-error.js';
import { flagList } from '../protocol/response-format.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import { SELECTED, ok, type CommandHandler } from './command.js';

const MODES = { FLAGS: 'set', '+FLAGS': 'add', '-FLAGS': 'remove' } as const;

/**
 * STORE / UID STORE (RFC 3501 6.4.6) with UNCHANGEDSINCE (RFC 7162 3.1.3): messages changed
 * since that mod-sequence are left alone and listed in `OK [MODIFIED set]`. Each message gets a
 * FETCH with its flags (and MODSEQ once CONDSTORE is on) unless .SILENT.
 */
export const store: CommandHandler = {
  name: 'STORE',
  states: SELECTED,
  uid: true,
  holdsExpunges: true,
  async run({ session, args, uid }) {
    const setText = args.sequenceSetText();
    args.sp();
    let unchangedSince: number | undefined;
    if (args.peek() === 0x28) {
      args.list(() => {
        if (!args.acceptWord('UNCHANGEDSINCE')) throw bad('Unknown STORE modifier');
        args.sp();
        unchangedSince = args.modseq();
      });
      args.sp();
      session.condstore = true;
    }
    const item = args.atom('FLAGS, +FLAGS or -FLAGS').toUpperCase();
    const silent = item.endsWith('.SILENT');
    const mode = MODES[(silent ? item.slice(0, -7) : item) as keyof typeof MODES];
    if (!mode) throw bad('Expected FLAGS, +FLAGS or -FLAGS');
    args.sp();
    const flags: string[] = [];
    if (args.peek() === 0x28) {
      flags.push(...args.list(() => args.flag()));
    } else {
      do flags.push(args.flag());
      while (args.more());
    }
    args.end();
    if (flags.includes('\\*')) throw bad('\\* is not a flag');
    const folder = session.folder;
    if (folder.readOnly) throw no('The mailbox is read-only', 'READ-ONLY');

    const indexes = selectIndexes(folder, setText, uid).filter((i) => !folder.isGone(folder.uids[i]!));
    const uids = indexes.map((i) => folder.uids[i]!);
    if (uids.length === 0) return ok('STORE completed');
    const result = await session.ownChange(
      () => session.store.setFlags(session.user, folder.name, uids, mode, flags, unchangedSince),
      (r) => r.updated.map((m) => m.uid),
    );
    folder.updateMessages(result.updated);
    const failed = new Set(result.failed);
    const changed = new Set(result.updated.map((m) => m.uid));
    const { writer } = session.conn;
    for (const i of indexes) {
      const u = folder.uids[i]!;
      if (failed.has(u)) continue;
      const message = folder.message(u);
      if (!message) continue;
      const uidItem = uid ? `UID ${u} ` : '';
      const modseq = session.condstore ? ` MODSEQ (${message.modseq})` : '';
      if (!silent) writer.line(`* ${i + 1} FETCH (${uidItem}FLAGS ${flagList(folder.flagsOf(u))}${modseq})`);
      else if (session.condstore && changed.has(u)) writer.line(`* ${i + 1} FETCH (${uidItem}MODSEQ (${message.modseq}))`);
      if (writer.full) await writer.flush();
    }
    if (result.failed.length > 0) {
      const set = uid ? result.failed : result.failed.map((u) => folder.seqOf(u)).filter((s) => s > 0);
      return ok('Some messages were modified since', `MODIFIED ${formatSequenceSet([...set].sort((a, b) => a - b))}`);
    }
    return ok('STORE completed');
  },
};
