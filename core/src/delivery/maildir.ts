import { access, mkdir, open, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DirSync } from '../util/dir-sync.js';

/**
 * A Maildir++ mailbox: INBOX is the root (cur/new/tmp), every other folder a dot-directory
 * (`.Sent`, `.Archive.2026`) with its own cur/new/tmp and a `maildirfolder` marker, as Dovecot and
 * Courier lay them out, so either can read a Postern mailbox.
 */
export class Maildir {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** The directory of a folder: "INBOX" → root; "Sent" → root/.Sent; "A/B" → root/.A.B. */
  folderPath(folder: string): string {
    if (folder.toUpperCase() === 'INBOX') return this.root;
    const name = folder.split('/').join('.');
    if (!/^[^./\x00-\x1f][^/\x00-\x1f]*$/.test(name) || name.includes('..')) throw new Error(`invalid folder name ${JSON.stringify(folder)}`);
    return join(this.root, `.${name}`);
  }

  /** Create the root and the given folders (idempotent). */
  async ensure(folders: readonly string[]): Promise<void> {
    for (const folder of ['INBOX', ...folders]) {
      const dir = this.folderPath(folder);
      await Promise.all(['cur', 'new', 'tmp'].map((sub) => mkdir(join(dir, sub), { recursive: true })));
      if (dir !== this.root) await writeFile(join(dir, 'maildirfolder'), '', { flag: 'a' });
    }
  }

  async hasFolder(folder: string): Promise<boolean> {
    try {
      await access(join(this.folderPath(folder), 'new'));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Deliver one message durably: write tmp/<name>, fdatasync, rename into new/, fsync new/
   * (group-committed across concurrent deliveries). With `idempotent`, first look for a file of
   * the same base name in new/ or cur/ (cur/ names gain ":2,flags"), so a retry after a crash
   * never delivers twice. Returns the path, or undefined when it was already there.
   */
  async deliver(folder: string, name: string, data: Buffer, dirSync: DirSync, idempotent: boolean): Promise<string | undefined> {
    const dir = this.folderPath(folder);
    const target = join(dir, 'new', name);
    if (idempotent && (await this.#alreadyDelivered(dir, name))) return undefined;
    const tmp = join(dir, 'tmp', name);
    try {
      const handle = await open(tmp, 'w');
      try {
        await handle.write(data);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await dirSync.sync(join(dir, 'new'));
    return target;
  }

  async #alreadyDelivered(dir: string, name: string): Promise<boolean> {
    try {
      await access(join(dir, 'new', name));
      return true;
    } catch {
      // not in new/; it may have been read (moved to cur/ with flags)
    }
    const cur = await readdir(join(dir, 'cur')).catch(() => [] as string[]);
    return cur.some((entry) => entry === name || entry.startsWith(`${name}:`));
  }
}

/**
 * The Maildir file name of a message for one mailbox: "<sec>.M<usec>Q<queueId>.<host>,S=<size>".
 * It is derived from the queue id and arrival time only, so redelivering the same spooled message
 * yields the same name (see `idempotent` above). The host part follows the Maildir rules: no '/'
 * or ':'.
 */
export function maildirName(receivedAt: number, queueId: string, hostname: string, size: number): string {
  const sec = Math.floor(receivedAt / 1000);
  const usec = (receivedAt % 1000) * 1000;
  const host = hostname.replace(/\//g, '\\057').replace(/:/g, '\\072');
  return `${sec}.M${usec}Q${queueId}.${host},S=${size}`;
}
