import type { Migration } from '../migrate.js';

/**
 * Domains, users, aliases and mailbox usage. Addresses are stored lower-cased, so plain `=`
 * comparisons are case-insensitive lookups. Deleting a domain cascades to its users and aliases,
 * deleting a user to its usage row (removeDomain checks for emptiness unless forced).
 */
export const directoryTables: Migration = {
  version: 1,
  name: 'directory tables',
  up(db) {
    db.exec(`
      CREATE TABLE domains (
        name        TEXT PRIMARY KEY,
        catch_all   TEXT,
        created_at  INTEGER NOT NULL
      );

      CREATE TABLE users (
        address         TEXT PRIMARY KEY,
        domain          TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
        password_hash   TEXT NOT NULL,
        quota_bytes     INTEGER,
        display_name    TEXT,
        title           TEXT,
        phone           TEXT,
        url             TEXT,
        postal_address  TEXT,
        notes           TEXT,
        created_at      INTEGER NOT NULL
      );
      CREATE INDEX users_by_domain ON users(domain);

      -- One row per target; rowid keeps the order targets were added in.
      CREATE TABLE aliases (
        source  TEXT NOT NULL,
        domain  TEXT NOT NULL REFERENCES domains(name) ON DELETE CASCADE,
        target  TEXT NOT NULL,
        PRIMARY KEY (source, target)
      );
      CREATE INDEX aliases_by_domain ON aliases(domain);

      CREATE TABLE mailbox_usage (
        address  TEXT PRIMARY KEY REFERENCES users(address) ON DELETE CASCADE,
        bytes    INTEGER NOT NULL DEFAULT 0
      );
    `);
  },
};
