import { randomBytes } from 'node:crypto';
import { readdirSync, renameSync, statSync, type BigIntStats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inBatches, isMissing } from './fs-batches.js';
import { changedRecord, makeRecord, type FolderState, type MessageRecord } from './folder-state.js';
import { MailStoreError } from './mail-store.js';
import { bitsFromInfo } from './message-flags.js';
import { sizeOfBase, splitName, timeOfBase } from './maildir-names.js';
import type { SqliteMailIndex } from './sqlite-mail-index.js';

/**
 * Keeping a folder's index in step with its Maildir files (the rules, in docs/reference/mail-store.md):
 * - files in new/ move to cur/ with ":2," and get the next UIDs, with the files found in cur/ that
 *   the index does not know (put there by another program), in the order of their time;
 * - rows whose file vanished are removed (expunged);
 * - a file whose info (":2,FS") changed under another program's hand gives its flags to the row.
 *
 * Cheap when nothing changed: two stats. new/ and cur/ are only listed when their mtime moved
 * since the index last matched them, or when that mtime was too recent to prove anything (a
 * second change in the same clock tick leaves the mtime as it was).
 */

/** An mtime older than this proves that cur/ has not changed since. */
const STABLE_AFTER_MS = 2000;

export interface SyncChanges {
  added: number[];
  flagged: number[];
  expunged: number[];
  /** Bytes of the messages whose files vanished (the store takes them off the usage). */
  vanishedBytes: number;
}

const NONE: SyncChanges = Object.freeze({ added: [], flagged: [], expunged: [], vanishedBytes: 0 }) as SyncChanges;

interface Incoming {
  base: string;
  info: string;
  internalDate: number;
  size: number;
}

/**
 * cur/'s stat; NO_SUCH_FOLDER when the folder is gone. The probes of a sync are synchronous
 * calls: a few µs each, where a round trip through the thread pool costs ~0.1-0.2 ms.
 */
export function statCur(state: FolderState): BigIntStats {
  try {
    return statSync(join(state.dir, 'cur'), { bigint: true });
  } catch (err) {
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new MailStoreError('NO_SUCH_FOLDER', `no folder ${JSON.stringify(state.name)}`);
    throw err;
  }
}

/**
 * Wrap a change the store makes to cur/ itself (flags renames, APPEND, COPY, EXPUNGE), whose
 * result the caller puts in the index: when the index matched cur/ before, it still does after,
 * so the next sync stays cheap. When something else had changed cur/ meanwhile, the recorded
 * mtime is left behind and the next sync lists cur/; so it is when the change fails half-way.
 */
export async function ownCurChange<T>(state: FolderState, change: () => Promise<T>): Promise<T> {
  const before = statCur(state);
  const known = state.curMtime !== undefined && before.mtimeNs === state.curMtime;
  let result: T;
  try {
    result = await change();
  } catch (err) {
    state.curStable = false; // a change that failed half-way: the next sync looks at every file
    throw err;
  }
  if (known) state.curMtime = statSync(join(state.dir, 'cur'), { bigint: true, throwIfNoEntry: false })?.mtimeNs;
  return result;
}

/**
 * Bring the index of one folder up to date with its files. `full` lists cur/ whatever its mtime
 * says (a rebuild). The caller holds the folder's lock.
 */
export async function syncFolder(state: FolderState, index: SqliteMailIndex, full = false): Promise<SyncChanges> {
  const curDir = join(state.dir, 'cur');
  const newDir = join(state.dir, 'new');
  const before = statCur(state);
  const newBefore = statSync(newDir, { bigint: true, throwIfNoEntry: false });
  const listedAt = Date.now(); // the listings below see every change older than this
  const listNewDir = full || !state.newStable || newBefore?.mtimeNs !== state.newMtime;
  const newNames = listNewDir ? listNew(newDir) : [];
  const scan = full || !state.curStable || before.mtimeNs !== state.curMtime;
  // What new/ looked like when listed. Moving its files out changes its mtime again, so the next
  // sync lists it once more and then trusts it.
  const noteNew = () => {
    if (!listNewDir) return;
    state.newMtime = newBefore?.mtimeNs;
    state.newStable = newBefore !== undefined && isOld(newBefore, listedAt);
  };
  if (!scan && newNames.length === 0) {
    noteNew();
    return NONE;
  }

  const vanished: MessageRecord[] = [];
  const reflagged: Array<{ rec: MessageRecord; info: string }> = [];
  const unknown: Array<{ base: string; info: string }> = [];
  if (scan) {
    const present = new Set<string>();
    for (const name of await readdir(curDir)) {
      if (!visible(name)) continue;
      const { base, info } = splitName(name);
      if (present.has(base)) continue; // a second file of the same base: not a message of its own
      present.add(base);
      const rec = state.byBase(base);
      if (!rec) unknown.push({ base, info });
      else if (rec.info !== info) reflagged.push({ rec, info });
    }
    for (const rec of state.records()) if (!present.has(rec.base)) vanished.push(rec);
  }

  // new/ → cur/ with an empty info (or the one the file came with).
  const taken = new Set(unknown.map((u) => u.base));
  const gone = new Set(vanished.map((v) => v.base));
  const moves = newNames.map((name) => {
    let { base, info } = splitName(name);
    // Never two files of one base in cur/: a file copied back into new/ gets a base of its own.
    if (taken.has(base) || (state.byBase(base) && !gone.has(base))) base = `${base},U=${randomBytes(4).toString('hex')}`;
    taken.add(base);
    return { name, base, info: info.startsWith(':2,') ? info : ':2,' };
  });
  const moved = await inBatches(moves, (m) => {
    try {
      renameSync(join(newDir, m.name), join(curDir, m.base + m.info));
      return true;
    } catch (err) {
      if (isMissing(err)) return false; // taken by another program meanwhile
      throw err;
    }
  });

  const incoming = (await describe(curDir, [...unknown, ...moved])).sort((a, b) => a.internalDate - b.internalDate || (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  const changes = apply(state, index, vanished, reflagged, incoming);

  noteNew();
  if (scan) state.curStable = isOld(before, listedAt);
  state.curMtime = moved.length > 0 ? statCur(state).mtimeNs : before.mtimeNs;
  return changes;
}

/**
 * Whether a directory's mtime was old enough, when it was listed, to prove that a later change
 * will move it (see STABLE_AFTER_MS).
 */
function isOld(st: BigIntStats, listedAt: number): boolean {
  return listedAt - Number(st.mtimeNs / 1_000_000n) > STABLE_AFTER_MS;
}

function listNew(newDir: string): string[] {
  try {
    return readdirSync(newDir).filter(visible);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** Files whose names start with a dot are not messages (Maildir rule; tools keep state in them). */
function visible(name: string): boolean {
  return !name.startsWith('.');
}

/** Internal date and size of new files: from the name when it has them, else from a stat. */
async function describe(curDir: string, files: ReadonlyArray<{ base: string; info: string }>): Promise<Incoming[]> {
  const out: Incoming[] = [];
  await inBatches(files, ({ base, info }) => {
    let internalDate = timeOfBase(base);
    let size = sizeOfBase(base);
    if (internalDate === undefined || size === undefined) {
      try {
        const st = statSync(join(curDir, base + info));
        internalDate ??= Math.floor(st.mtimeMs);
        size ??= st.size;
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
    }
    out.push({ base, info, internalDate, size });
    return true;
  });
  return out;
}

/** Write the changes in one transaction, then to the in-memory state; one MODSEQ for all. */
function apply(
  state: FolderState,
  index: SqliteMailIndex,
  vanished: readonly MessageRecord[],
  reflagged: ReadonlyArray<{ rec: MessageRecord; info: string }>,
  incoming: readonly Incoming[],
): SyncChanges {
  if (vanished.length === 0 && reflagged.length === 0 && incoming.length === 0) return NONE;
  const modseq = state.highestModseq + 1;
  let uidNext = state.uidNext;
  const updates = reflagged.map(({ rec, info }) => {
    const bits = bitsFromInfo(info);
    return changedRecord(rec, { info, bits, modseq: bits === rec.bits ? rec.modseq : modseq });
  });
  const added = incoming.map((m) => makeRecord({ uid: uidNext++, base: m.base, info: m.info, bits: bitsFromInfo(m.info), keywords: [], internalDate: m.internalDate, size: m.size, modseq }));
  const flagged = updates.filter((u) => u.modseq === modseq).map((u) => u.uid);
  const bumped = vanished.length > 0 || added.length > 0 || flagged.length > 0;
  const highestModseq = bumped ? modseq : state.highestModseq;
  index.transaction(() => {
    for (const rec of vanished) index.deleteMessage(state.id, rec.uid);
    for (const rec of updates) index.updateMessage(state.id, rec.uid, rec.info, rec.bits, rec.keywords.join(' '), rec.modseq);
    for (const rec of added) {
      index.insertMessage(state.id, rec.uid, { base: rec.base, info: rec.info, flags: rec.bits, keywords: '', internal_date: rec.internalDate, size: rec.size, modseq });
    }
    index.setCounters(state.id, uidNext, highestModseq);
  });
  for (const rec of vanished) state.remove(rec);
  for (const rec of updates) state.put(rec);
  for (const rec of added) state.put(rec);
  state.uidNext = uidNext;
  state.highestModseq = highestModseq;
  return {
    added: added.map((r) => r.uid),
    flagged,
    expunged: vanished.map((r) => r.uid),
    vanishedBytes: vanished.reduce((sum, r) => sum + r.size, 0),
  };
}

/**
 * Find a message's file when its expected name is gone (another program renamed it to change
 * its flags): its current name in cur/, or undefined when it vanished. Lists cur/, so only for
 * the rare miss. The caller marks the folder for a full scan.
 */
export function locateFile(state: FolderState, bases: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(join(state.dir, 'cur'));
  } catch (err) {
    if (isMissing(err)) return found;
    throw err;
  }
  for (const name of names) {
    const { base } = splitName(name);
    if (bases.has(base) && !found.has(base)) found.set(base, name);
  }
  return found;
}
