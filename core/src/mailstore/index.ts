import type { MailStore } from './mail-store.js';
import { SqliteMailStore, type MailStoreOptions } from './sqlite-mail-store.js';

export type { MailStoreOptions } from './sqlite-mail-store.js';

/** The embedded mail store (SQLite index over Maildir++). */
export function createMailStore(options: MailStoreOptions): MailStore {
  return new SqliteMailStore(options);
}
