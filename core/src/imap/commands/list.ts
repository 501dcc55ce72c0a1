import type { FolderInfo } from '../../mailstore/mail-store.js';
import { listMatcher, withAncestors } from '../list-pattern.js';
import { decodeMailboxName } from '../protocol/mutf7.js';
import { bad } from '../protocol/protocol-error.js';
import { imapMailbox } from '../protocol/response-format.js';
import type { ImapSession } from '../imap-session.js';
import type { ArgReader } from '../protocol/arg-reader.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

interface ListOptions {
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  returnSubscribed: boolean;
}

/** reference SP pattern, or a parenthesised list of patterns (RFC 5258). */
export function readReferenceAndPatterns(args: ArgReader): { reference: string; patterns: string[] } {
  const reference = decodeMailboxName(args.astring('a reference name'));
  args.sp();
  const patterns = args.peek() === 0x28 ? args.list(() => args.listMailbox(), false) : [args.listMailbox()];
  return { reference, patterns: patterns.map((p) => decodeMailboxName(p)) };
}

/**
 * LIST (RFC 3501 6.3.8) with the LIST-EXTENDED options clients use (RFC 5258: selection
 * SUBSCRIBED, SPECIAL-USE; RETURN SUBSCRIBED, CHILDREN, SPECIAL-USE). Every folder carries
 * \HasChildren or \HasNoChildren and its special-use attribute (RFC 6154).
 */
export const list: CommandHandler = {
  name: 'LIST',
  states: AUTHENTICATED,
  async run({ session, args }) {
    const options: ListOptions = { subscribedOnly: false, specialUseOnly: false, returnSubscribed: false };
    if (args.peek() === 0x28) {
      for (const opt of args.list(() => args.atom('a selection option').toUpperCase())) {
        if (opt === 'SUBSCRIBED') options.subscribedOnly = options.returnSubscribed = true;
        else if (opt === 'SPECIAL-USE') options.specialUseOnly = true;
        else if (opt !== 'REMOTE' && opt !== 'RECURSIVEMATCH') throw bad('Unknown LIST selection option');
      }
      args.sp();
    }
    const { reference, patterns } = readReferenceAndPatterns(args);
    if (args.more()) {
      if (!args.acceptWord('RETURN')) throw bad('Expected RETURN');
      args.sp();
      for (const opt of args.list(() => args.atom('a return option').toUpperCase())) {
        if (opt === 'SUBSCRIBED') options.returnSubscribed = true;
        else if (opt !== 'CHILDREN' && opt !== 'SPECIAL-USE') throw bad('Unknown LIST return option');
      }
    }
    args.end();
    await listFolders(session, 'LIST', reference, patterns, options);
    return ok('LIST completed');
  },
};

/** Write the LIST or LSUB responses for the folders matching any of the patterns. */
export async function listFolders(session: ImapSession, verb: 'LIST' | 'LSUB', reference: string, patterns: string[], options: ListOptions): Promise<void> {
  const { writer } = session.conn;
  if (patterns.length === 1 && patterns[0] === '') {
    // The hierarchy delimiter and the root of the reference (RFC 3501 6.3.8).
    writer.line(`* ${verb} (\\Noselect) "/" ${reference.includes('/') ? imapMailbox(reference.slice(0, reference.indexOf('/') + 1)) : '""'}`);
    return;
  }
  const folders = await session.store.listFolders(session.user);
  const byName = new Map<string, FolderInfo>(folders.map((f) => [f.name, f]));
  const candidates = verb === 'LSUB' || options.subscribedOnly ? folders.filter((f) => f.subscribed) : folders;
  const matchers = patterns.map((p) => listMatcher(reference + p));
  for (const { name, implied } of withAncestors(candidates.map((f) => f.name))) {
    if (!matchers.some((m) => m(name))) continue;
    const info = byName.get(name);
    if (options.specialUseOnly && !info?.specialUse) continue;
    const attributes: string[] = [];
    if (implied || !info) {
      // A level of hierarchy that is no folder itself.
      attributes.push('\\Noselect');
      if (verb === 'LIST') attributes.push('\\HasChildren');
    } else if (verb === 'LIST') {
      attributes.push(info.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (info.specialUse) attributes.push(info.specialUse);
      if (options.returnSubscribed && info.subscribed) attributes.push('\\Subscribed');
    }
    writer.line(`* ${verb} (${attributes.join(' ')}) "/" ${imapMailbox(name)}`);
  }
}
