import type { Db } from '../store/database.js';
import type { KvStore } from './sandbox/kv-store.js';

/** Expired rows are deleted this often (reads already ignore them). */
const SWEEP_EVERY_MS = 60_000;

/**
 * The plugins' key-value store in the server's SQLite database, so plugin state (a greylist's
 * triplets) survives reloads and restarts. Statements are prepared once; each call is one short
 * statement (SQLite in WAL mode: microseconds), so the async interface is honest enough and leaves
 * room for a networked backend (Redis) later.
 * @example
 * const kv = new SqliteKvStore(openDatabase(dataDir));
 * await kv.set('greylist', '192.0.2.0/24|a@b|c@d', '{"first":1700000000000}', 86_400_000);
 */
export class SqliteKvStore implements KvStore {
  readonly #get;
  readonly #set;
  readonly #delete;
  readonly #sweep;
  readonly #now: () => number;
  #sweptAt = 0;

  constructor(db: Db, now: () => number = Date.now) {
    this.#now = now;
    this.#get = db.prepare<[string, string, number], { value: string }>(
      'SELECT value FROM plugin_kv WHERE namespace = ? AND key = ? AND (expires_at IS NULL OR expires_at > ?)',
    );
    this.#set = db.prepare<[string, string, string, number | null]>(
      'INSERT INTO plugin_kv (namespace, key, value, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    );
    this.#delete = db.prepare<[string, string]>('DELETE FROM plugin_kv WHERE namespace = ? AND key = ?');
    this.#sweep = db.prepare<[number]>('DELETE FROM plugin_kv WHERE expires_at IS NOT NULL AND expires_at <= ?');
  }

  async get(namespace: string, key: string): Promise<string | undefined> {
    return this.#get.get(namespace, key, this.#now())?.value;
  }

  async set(namespace: string, key: string, value: string, ttlMs?: number): Promise<void> {
    const now = this.#now();
    this.#set.run(namespace, key, value, ttlMs === undefined ? null : now + ttlMs);
    if (now - this.#sweptAt >= SWEEP_EVERY_MS) {
      this.#sweptAt = now;
      this.#sweep.run(now);
    }
  }

  async delete(namespace: string, key: string): Promise<void> {
    this.#delete.run(namespace, key);
  }
}
