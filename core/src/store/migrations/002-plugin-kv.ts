import type { Migration } from '../migrate.js';

/**
 * Plugin key-value state (greylist triplets, counters) that must survive restarts. One table for
 * every plugin: `namespace` is the plugin's name, chosen by the host. `expires_at` is Unix ms or
 * NULL for no expiry; expired rows are ignored on read and swept in batches.
 */
export const pluginKvTable: Migration = {
  version: 2,
  name: 'plugin key-value store',
  up(db) {
    db.exec(`
      CREATE TABLE plugin_kv (
        namespace   TEXT NOT NULL,
        key         TEXT NOT NULL,
        value       TEXT NOT NULL,
        expires_at  INTEGER,
        PRIMARY KEY (namespace, key)
      ) WITHOUT ROWID;
      CREATE INDEX plugin_kv_expiry ON plugin_kv (expires_at) WHERE expires_at IS NOT NULL;
    `);
  },
};
