import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissing } from './fs-batches.js';
import { folderDirName, folderNameFromDir, INBOX } from './folder-names.js';

/**
 * The folders of a Maildir++ mailbox on disk: which exist, creating one, removing one. A folder
 * exists when its directory has a cur/; names are canonical IMAP names (folder-names.ts).
 */

export function folderDir(root: string, canonical: string): string {
  return join(root, folderDirName(canonical));
}

const TRASH_PREFIX = '..deleted-';

/**
 * Every folder of the mailbox, INBOX included. Removes what a crash left of a deleted folder.
 * A few small directories: listed and checked with synchronous calls, which cost µs where a trip
 * through the thread pool costs a tenth of a ms, more on a busy host.
 */
export async function diskFolders(root: string): Promise<Set<string>> {
  const entries = readdirSync(root, { withFileTypes: true });
  const leftovers = entries.filter((e) => e.isDirectory() && e.name.startsWith(TRASH_PREFIX));
  await Promise.all(leftovers.map((e) => rm(join(root, e.name), { recursive: true, force: true })));
  const names = new Set([INBOX]);
  for (const entry of entries) {
    const name = entry.isDirectory() ? folderNameFromDir(entry.name) : undefined;
    if (name !== undefined && isFolder(folderDir(root, name))) names.add(name);
  }
  return names;
}

export function isFolder(dir: string): boolean {
  try {
    return statSync(join(dir, 'cur')).isDirectory();
  } catch (err) {
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}

/**
 * Create a folder's directory with cur/ new/ tmp/ and the `maildirfolder` marker (Maildir++).
 * False when it already existed as a folder.
 */
export async function makeFolder(root: string, canonical: string): Promise<boolean> {
  const dir = folderDir(root, canonical);
  if (isFolder(dir)) return false;
  await Promise.all(['cur', 'new', 'tmp'].map((sub) => mkdir(join(dir, sub), { recursive: true, mode: 0o700 })));
  await writeFile(join(dir, 'maildirfolder'), '', { flag: 'a', mode: 0o600 });
  return true;
}

/**
 * Remove a folder's directory: first renamed to a "..deleted-*" name (no folder name maps to
 * it), so the folder disappears at once and a crash half-way leaves no half folder, then removed.
 */
export async function removeFolder(root: string, canonical: string): Promise<void> {
  const trash = join(root, `${TRASH_PREFIX}${randomBytes(6).toString('hex')}`);
  await rename(folderDir(root, canonical), trash);
  await rm(trash, { recursive: true, force: true });
}

export async function renameFolderDir(root: string, from: string, to: string): Promise<void> {
  await rename(folderDir(root, from), folderDir(root, to));
}
