import { access, mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsClose, fsOpen, fsRename, writeAll } from '../util/fs-ops.js';

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
   * Deliver one message: write tmp/<name>, rename into new/. No fsync here: the spool journal
   * keeps the message until a file-system sync has made this copy durable (spool.ts). With
   * `idempotent`, first look for a complete file of the same base name in new/ or cur/ (cur/ names
   * gain ":2,flags"), so a retry after a crash never delivers twice; a file of the wrong size (cut
   * short by a power loss) is replaced. Returns the path, or undefined when it was already there.
   */
  async deliver(folder: string, name: string, data: Buffer, idempotent: boolean): Promise<string | undefined> {
    const dir = this.folderPath(folder);
    const target = join(dir, 'new', name);
    if (idempotent && (await this.#alreadyDelivered(dir, name, data.length))) return undefined;
    const tmp = join(dir, 'tmp', name);
    try {
      const fd = await fsOpen(tmp, 'w', 0o600);
      try {
        await writeAll(fd, data);
      } finally {
        await fsClose(fd);
      }
      await fsRename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return target;
  }

  async #alreadyDelivered(dir: string, name: string, size: number): Promise<boolean> {
    const complete = async (path: string) => {
      const info = await stat(path).catch(() => undefined);
      if (!info) return false;
      if (info.size === size) return true;
      await unlink(path).catch(() => undefined);
      return false;
    };
    if (await complete(join(dir, 'new', name))) return true;
    const cur = await readdir(join(dir, 'cur')).catch(() => [] as string[]);
    const found = cur.find((entry) => entry === name || entry.startsWith(`${name}:`));
    return found !== undefined && (await complete(join(dir, 'cur', found)));
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
