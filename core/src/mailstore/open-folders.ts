import { FolderState } from './folder-state.js';
import type { KeyedMutex } from './keyed-mutex.js';
import { MailStoreError } from './mail-store.js';
import { folderDir, isFolder } from './maildir-folders.js';
import type { SqliteMailIndex } from './sqlite-mail-index.js';

/** The lock key of a user's folder tree. */
export const userKey = (user: string) => `u:${user}`;
/** The lock key, and the cache key, of one folder. */
export const folderKey = (user: string, name: string) => `f:${user}\u0000${name}`;

/**
 * The folders this process has open: each one's index in memory (folder-state.ts), loaded from
 * SQLite on first use and kept for the most recently used `max` folders. Used under the folder's
 * lock; a folder whose lock is held is never dropped.
 */
export class OpenFolders {
  readonly #index: SqliteMailIndex;
  readonly #mutex: KeyedMutex;
  readonly #max: number;
  /** By folderKey, least recently used first. */
  readonly #states = new Map<string, FolderState>();

  constructor(index: SqliteMailIndex, mutex: KeyedMutex, max: number) {
    this.#index = index;
    this.#mutex = mutex;
    this.#max = max;
  }

  /** The folder if it is open (no checks, no loading): for reads without the lock. */
  peek(user: string, name: string): FolderState | undefined {
    return this.#states.get(folderKey(user, name));
  }

  /**
   * The open folder, else loaded from the index. A folder whose directory exists but whose row
   * does not (or no longer: lost while open) gets a new row, with a new UIDVALIDITY: its first
   * sync then indexes every file, which is how an index is rebuilt. NO_SUCH_FOLDER when the
   * directory is gone (its row goes too).
   */
  open(user: string, name: string, root: string): FolderState {
    const key = folderKey(user, name);
    const cached = this.#states.get(key);
    if (cached && this.#index.folderAlive(cached.id, cached.uidValidity)) {
      this.#states.delete(key);
      this.#states.set(key, cached);
      return cached;
    }
    this.#states.delete(key);
    const dir = folderDir(root, name);
    const row = this.#index.folder(user, name);
    if (!isFolder(dir)) {
      if (row) this.#index.deleteFolder(row.id);
      throw new MailStoreError('NO_SUCH_FOLDER', `no folder ${JSON.stringify(name)}`);
    }
    const ensured = row ?? this.#index.ensureFolder(user, name);
    const state = new FolderState(user, ensured, dir, this.#index.messages(ensured.id));
    this.#states.set(key, state);
    this.#evict();
    return state;
  }

  forget(user: string, name: string): void {
    this.#states.delete(folderKey(user, name));
  }

  #evict(): void {
    for (const [key] of this.#states) {
      if (this.#states.size <= this.#max) return;
      if (!this.#mutex.busy(key)) this.#states.delete(key);
    }
  }
}
