/**
 * The mail index in SQLite (tables in store/migrations/004-mail-index.ts): every statement the
 * store runs, prepared once. Synchronous like better-sqlite3; the store calls it inside its
 * per-folder locks and keeps a copy of each open folder in memory (folder-state.ts), so a folder
 * is read from here once per process, not on every command.
 */
import type { Db } from '../store/database.js';

export interface FolderRow {
  id: number;
  name: string;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
}

export interface MessageRow {
  uid: number;
  base: string;
  info: string;
  flags: number;
  /** Space-separated. */
  keywords: string;
  internal_date: number;
  size: number;
  modseq: number;
}

export interface FolderCounts {
  messages: number;
  unseen: number;
}

const FOLDER_COLUMNS = 'id, name, uidvalidity, uidnext, highestmodseq';
const MESSAGE_COLUMNS = 'uid, base, info, flags, keywords, internal_date, size, modseq';

function prepare(db: Db) {
  return {
    addUser: db.prepare<[string]>('INSERT OR IGNORE INTO mail_users (user, last_uidvalidity) VALUES (?, 0)'),
    // Never below the last value handed out, so never reused, even within one second.
    nextUidValidity: db.prepare<[string, number], { last_uidvalidity: number }>(
      `INSERT INTO mail_users (user, last_uidvalidity) VALUES (?, ?)
       ON CONFLICT (user) DO UPDATE SET last_uidvalidity = max(last_uidvalidity + 1, excluded.last_uidvalidity)
       RETURNING last_uidvalidity`,
    ),

    folder: db.prepare<[string, string], FolderRow>(`SELECT ${FOLDER_COLUMNS} FROM mail_folders WHERE user = ? AND name = ?`),
    folderAlive: db.prepare<[number, number], { one: number }>('SELECT 1 AS one FROM mail_folders WHERE id = ? AND uidvalidity = ?'),
    folders: db.prepare<[string], FolderRow>(`SELECT ${FOLDER_COLUMNS} FROM mail_folders WHERE user = ? ORDER BY name`),
    insertFolder: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO mail_folders (user, name, uidvalidity, uidnext, highestmodseq) VALUES (?, ?, ?, 1, 1)'),
    deleteFolder: db.prepare<[number]>('DELETE FROM mail_folders WHERE id = ?'),
    renameFolder: db.prepare<[string, number, number]>('UPDATE mail_folders SET name = ?, uidvalidity = ? WHERE id = ?'),
    setCounters: db.prepare<[number, number, number]>('UPDATE mail_folders SET uidnext = ?, highestmodseq = ? WHERE id = ?'),
    // Names below "A/" sort between "A/" and "A0" ("0" follows "/" in byte order).
    hasChildren: db.prepare<[string, string, string], { one: number }>('SELECT 1 AS one FROM mail_folders WHERE user = ? AND name > ? AND name < ? LIMIT 1'),
    counts: db.prepare<[string], { id: number; messages: number; unseen: number }>(
      `SELECT f.id AS id, count(m.uid) AS messages, coalesce(sum((m.flags & 1) = 0), 0) AS unseen
       FROM mail_folders f LEFT JOIN mail_messages m ON m.folder_id = f.id WHERE f.user = ? GROUP BY f.id`,
    ),

    messages: db.prepare<[number], MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM mail_messages WHERE folder_id = ? ORDER BY uid`),
    insertMessage: db.prepare<[number, number, string, string, number, string, number, number, number]>(
      `INSERT INTO mail_messages (folder_id, ${MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateMessage: db.prepare<[string, number, string, number, number, number]>(
      'UPDATE mail_messages SET info = ?, flags = ?, keywords = ?, modseq = ? WHERE folder_id = ? AND uid = ?',
    ),
    deleteMessage: db.prepare<[number, number]>('DELETE FROM mail_messages WHERE folder_id = ? AND uid = ?'),
    moveMessages: db.prepare<[number, number]>('UPDATE mail_messages SET folder_id = ? WHERE folder_id = ?'),

    subscriptions: db.prepare<[string], { name: string }>('SELECT name FROM mail_subscriptions WHERE user = ? ORDER BY name'),
    subscribed: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM mail_subscriptions WHERE user = ? AND name = ?'),
    subscribe: db.prepare<[string, string]>('INSERT OR IGNORE INTO mail_subscriptions (user, name) VALUES (?, ?)'),
    unsubscribe: db.prepare<[string, string]>('DELETE FROM mail_subscriptions WHERE user = ? AND name = ?'),
  };
}

/** A message as it is inserted (the folder and UID come from the caller). */
export type NewMessageRow = Omit<MessageRow, 'uid'>;

export class SqliteMailIndex {
  readonly #db: Db;
  readonly #sql: ReturnType<typeof prepare>;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = prepare(db);
  }

  /** Run `fn` in one transaction (IMMEDIATE: the write lock is taken up front). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** Record the user; true the first time ever (the store subscribes the default folders then). */
  addUser(user: string): boolean {
    return this.#sql.addUser.run(user).changes === 1;
  }

  /** A fresh UIDVALIDITY: the current time in seconds, or one more than the last one given out. */
  nextUidValidity(user: string): number {
    return this.#sql.nextUidValidity.get(user, Math.floor(Date.now() / 1000))!.last_uidvalidity;
  }

  folder(user: string, name: string): FolderRow | undefined {
    return this.#sql.folder.get(user, name);
  }

  /** Whether the row a folder was loaded from is still there (not deleted behind the store's back). */
  folderAlive(id: number, uidValidity: number): boolean {
    return this.#sql.folderAlive.get(id, uidValidity) !== undefined;
  }

  folders(user: string): FolderRow[] {
    return this.#sql.folders.all(user);
  }

  /** The folder's row, created with a new UIDVALIDITY if it has none. */
  ensureFolder(user: string, name: string): FolderRow {
    return this.transaction(() => {
      const existing = this.#sql.folder.get(user, name);
      if (existing) return existing;
      this.#sql.insertFolder.run(user, name, this.nextUidValidity(user));
      return this.#sql.folder.get(user, name)!;
    });
  }

  deleteFolder(id: number): void {
    this.#sql.deleteFolder.run(id);
  }

  /** Give a folder a new name and a new UIDVALIDITY (its messages and UIDs stay). */
  renameFolder(user: string, id: number, name: string): void {
    this.transaction(() => this.#sql.renameFolder.run(name, this.nextUidValidity(user), id));
  }

  setCounters(id: number, uidNext: number, highestModseq: number): void {
    this.#sql.setCounters.run(uidNext, highestModseq, id);
  }

  hasChildren(user: string, name: string): boolean {
    return this.#sql.hasChildren.get(user, `${name}/`, `${name}0`) !== undefined;
  }

  /** Message and unseen counts of every folder of the user, by folder id. */
  counts(user: string): Map<number, FolderCounts> {
    return new Map(this.#sql.counts.all(user).map((r) => [r.id, { messages: r.messages, unseen: r.unseen }]));
  }

  messages(folderId: number): MessageRow[] {
    return this.#sql.messages.all(folderId);
  }

  insertMessage(folderId: number, uid: number, m: NewMessageRow): void {
    this.#sql.insertMessage.run(folderId, uid, m.base, m.info, m.flags, m.keywords, m.internal_date, m.size, m.modseq);
  }

  updateMessage(folderId: number, uid: number, info: string, flags: number, keywords: string, modseq: number): void {
    this.#sql.updateMessage.run(info, flags, keywords, modseq, folderId, uid);
  }

  deleteMessage(folderId: number, uid: number): void {
    this.#sql.deleteMessage.run(folderId, uid);
  }

  /** Move every message row of one folder to another (renaming INBOX). */
  moveMessages(fromId: number, toId: number): void {
    this.#sql.moveMessages.run(toId, fromId);
  }

  subscriptions(user: string): string[] {
    return this.#sql.subscriptions.all(user).map((r) => r.name);
  }

  isSubscribed(user: string, name: string): boolean {
    return this.#sql.subscribed.get(user, name) !== undefined;
  }

  setSubscribed(user: string, name: string, subscribed: boolean): void {
    if (subscribed) this.#sql.subscribe.run(user, name);
    else this.#sql.unsubscribe.run(user, name);
  }
}
