import { copyFileSync, constants as fsConstants, futimes, readFile, readFileSync, renameSync, unlinkSync, utimesSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fsClose, fsDatasync, fsOpen, fsRename, writeAll } from '../util/fs-ops.js';
import type { FolderState, MessageRecord } from './folder-state.js';
import { inBatches, isMissing } from './fs-batches.js';
import { MailStoreError } from './mail-store.js';
import { locateFile } from './maildir-sync.js';

/**
 * The message files the store itself writes, copies, renames and removes in cur/ (the sync's
 * moves from new/ are in maildir-sync.ts). Many files at once go through inBatches.
 */

const futimesAsync = promisify(futimes);
const readFileAsync = promisify(readFile);

/** Messages up to this size are read with one blocking call: 3-4x faster than through the thread pool. */
const SYNC_READ_MAX = 256 * 1024;

export function noMessage(uid: number): MailStoreError {
  return new MailStoreError('NO_SUCH_MESSAGE', `no message with UID ${uid}`);
}

export async function readMessage(path: string, size: number): Promise<Buffer> {
  return size <= SYNC_READ_MAX ? readFileSync(path) : readFileAsync(path);
}

/** APPEND: tmp/ → cur/ with the flags in the name; synced to disk (nothing else holds these bytes); mtime = internal date. */
export async function writeMessage(dir: string, base: string, info: string, data: Buffer, internalDate: number): Promise<void> {
  const tmp = join(dir, 'tmp', base);
  const fd = await fsOpen(tmp, 'wx', 0o600);
  try {
    try {
      await writeAll(fd, data);
      await futimesAsync(fd, internalDate / 1000, internalDate / 1000);
      await fsDatasync(fd);
    } finally {
      await fsClose(fd);
    }
    await fsRename(tmp, join(dir, 'cur', base + info));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** COPY: the bytes are copied (a reflink where the file system can) into tmp/, then moved into cur/. */
export async function copyFiles(src: FolderState, dst: FolderState, copies: ReadonlyArray<{ old: MessageRecord; base: string; info: string }>): Promise<void> {
  const written: string[] = [];
  try {
    let located: Map<string, string> | undefined;
    await inBatches(copies, (c) => {
      const tmp = join(dst.dir, 'tmp', c.base);
      try {
        copyFileSync(src.pathOf(c.old), tmp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      } catch (err) {
        if (!isMissing(err)) throw err;
        located ??= locateFile(src, new Set(copies.map((x) => x.old.base)));
        const file = located.get(c.old.base);
        if (!file) throw noMessage(c.old.uid);
        copyFileSync(join(src.dir, 'cur', file), tmp, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
      }
      written.push(tmp);
      utimesSync(tmp, c.old.internalDate / 1000, c.old.internalDate / 1000);
    });
  } catch (err) {
    for (const tmp of written) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await inBatches(copies, (c) => renameSync(join(dst.dir, 'tmp', c.base), join(dst.dir, 'cur', c.base + c.info)));
}

/** EXPUNGE: unlink the files; one another program renamed is looked up so it cannot come back. */
export async function unlinkFiles(state: FolderState, recs: readonly MessageRecord[]): Promise<void> {
  const missing: MessageRecord[] = [];
  await inBatches(recs, (rec) => {
    try {
      unlinkSync(state.pathOf(rec));
    } catch (err) {
      if (!isMissing(err)) throw err;
      missing.push(rec);
    }
  });
  if (missing.length === 0) return;
  state.curStable = false;
  for (const file of locateFile(state, new Set(missing.map((r) => r.base))).values()) unlinkSync(join(state.dir, 'cur', file));
}

/**
 * STORE: rename the files whose system flags change. A file another program renamed meanwhile is
 * looked up; one that vanished is left out (the next sync expunges it). Returns the changes done.
 */
export async function renameFlagFiles(state: FolderState, changes: Array<{ old: MessageRecord; rec: MessageRecord }>): Promise<typeof changes> {
  const missing: typeof changes = [];
  const done = await inBatches(changes, (c) => {
    if (c.old.info === c.rec.info) return true;
    try {
      renameSync(state.pathOf(c.old), state.pathOf(c.rec));
      return true;
    } catch (err) {
      if (!isMissing(err)) throw err;
      missing.push(c);
      return false;
    }
  });
  if (missing.length === 0) return done;
  state.curStable = false;
  const found = locateFile(state, new Set(missing.map((c) => c.old.base)));
  for (const c of missing) {
    const file = found.get(c.old.base);
    if (!file) continue;
    renameSync(join(state.dir, 'cur', file), state.pathOf(c.rec));
    done.push(c);
  }
  return done;
}
