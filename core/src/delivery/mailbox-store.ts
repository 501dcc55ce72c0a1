import { join } from 'node:path';
import { Maildir } from './maildir.js';

/**
 * Where each user's Maildir lives: <dataDir>/mail/<domain>/<local part>. Addresses reach here
 * only from the directory, which allows a safe charset in local parts and domains, so the path
 * cannot escape; the check below is a second line of defence.
 */
export class MailboxStore {
  readonly #root: string;
  readonly #folders: readonly string[];
  readonly #ready = new Map<string, Promise<Maildir>>();

  constructor(dataDir: string, folders: readonly string[]) {
    this.#root = join(dataDir, 'mail');
    this.#folders = folders;
  }

  pathOf(address: string): string {
    const at = address.lastIndexOf('@');
    const local = address.slice(0, at).toLowerCase();
    const domain = address.slice(at + 1).toLowerCase();
    const safe = /^[a-z0-9][a-z0-9._+-]*$/;
    if (at <= 0 || !safe.test(local) || !safe.test(domain) || local.includes('..') || domain.includes('..')) {
      throw new Error(`unsafe mailbox address ${JSON.stringify(address)}`);
    }
    return join(this.#root, domain, local);
  }

  /** The user's Maildir with its default folders created (once per process). */
  open(address: string): Promise<Maildir> {
    const path = this.pathOf(address);
    let ready = this.#ready.get(path);
    if (!ready) {
      const maildir = new Maildir(path);
      ready = maildir.ensure(this.#folders).then(() => maildir);
      ready.catch(() => this.#ready.delete(path));
      this.#ready.set(path, ready);
    }
    return ready;
  }
}
