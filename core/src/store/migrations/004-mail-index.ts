import type { Migration } from '../migrate.js';

/**
 * The mail index over the users' Maildir++ folders (core/src/mailstore/). The message files stay
 * the truth for what exists and for the system flags (in their names); these tables add what a
 * Maildir cannot hold: UIDs, UIDVALIDITY, MODSEQs, keywords and subscriptions.
 *
 * - mail_users: the last UIDVALIDITY handed out per user, so a folder that is deleted and created
 *   again (or rebuilt) never gets a value it had before, even within the same second.
 * - mail_folders: one row per folder (IMAP name, "INBOX" for the root); deleting it drops its
 *   messages, which is how an index is rebuilt.
 * - mail_messages: one row per message, keyed by UID; `base` is the Maildir name without its
 *   ":2,flags" info, `info` that suffix as it is on disk, `flags` the system flags as bits
 *   (message-flags.ts), `keywords` space-separated. Only the primary key is indexed: a folder is
 *   read whole into memory when opened, so the store never looks a row up by its file name here.
 * - mail_subscriptions: kept apart from folders because a subscription outlives its folder
 *   (RFC 3501 6.3.6: the server must not remove a name from the subscription list by itself).
 */
export const mailIndexTables: Migration = {
  version: 4,
  name: 'mail index',
  up(db) {
    db.exec(`
      CREATE TABLE mail_users (
        user              TEXT PRIMARY KEY,
        last_uidvalidity  INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE mail_folders (
        id             INTEGER PRIMARY KEY,
        user           TEXT NOT NULL,
        name           TEXT NOT NULL,
        uidvalidity    INTEGER NOT NULL,
        uidnext        INTEGER NOT NULL,
        highestmodseq  INTEGER NOT NULL,
        UNIQUE (user, name)
      );

      CREATE TABLE mail_messages (
        folder_id      INTEGER NOT NULL REFERENCES mail_folders (id) ON DELETE CASCADE,
        uid            INTEGER NOT NULL,
        base           TEXT NOT NULL,
        info           TEXT NOT NULL,
        flags          INTEGER NOT NULL,
        keywords       TEXT NOT NULL,
        internal_date  INTEGER NOT NULL,
        size           INTEGER NOT NULL,
        modseq         INTEGER NOT NULL,
        PRIMARY KEY (folder_id, uid)
      ) WITHOUT ROWID;

      CREATE TABLE mail_subscriptions (
        user  TEXT NOT NULL,
        name  TEXT NOT NULL,
        PRIMARY KEY (user, name)
      ) WITHOUT ROWID;
    `);
  },
};
