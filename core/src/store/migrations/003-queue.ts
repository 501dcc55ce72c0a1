import type { Migration } from '../migrate.js';

/**
 * The outbound queue's metadata (the message bytes stay in the spool). One row per message that
 * needed more than one attempt or went to a remote host, one row per recipient with its own
 * status and last reply. A finished message keeps its rows for a while (`done_at`), so a replay of
 * the spool after a crash knows which recipients were already delivered.
 */
export const queueTables: Migration = {
  version: 3,
  name: 'outbound queue',
  up(db) {
    db.exec(`
      CREATE TABLE queue_messages (
        id               TEXT PRIMARY KEY,
        sender           TEXT NOT NULL,
        received_at      INTEGER NOT NULL,
        size             INTEGER NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  INTEGER,
        held             INTEGER NOT NULL DEFAULT 0,
        warned           INTEGER NOT NULL DEFAULT 0,
        done_at          INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX queue_messages_due ON queue_messages (next_attempt_at) WHERE done_at IS NULL;
      CREATE INDEX queue_messages_done ON queue_messages (done_at) WHERE done_at IS NOT NULL;
      CREATE TABLE queue_recipients (
        message_id       TEXT NOT NULL REFERENCES queue_messages (id) ON DELETE CASCADE,
        position         INTEGER NOT NULL,
        address          TEXT NOT NULL,
        original         TEXT NOT NULL,
        domain           TEXT NOT NULL,
        folder           TEXT,
        status           TEXT NOT NULL CHECK (status IN ('scheduled', 'in-flight', 'delivered', 'deferred', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_attempt_at  INTEGER,
        code             INTEGER,
        enhanced         TEXT,
        reply            TEXT,
        destination      TEXT,
        PRIMARY KEY (message_id, address)
      ) WITHOUT ROWID;
    `);
  },
};
