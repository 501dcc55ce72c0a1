import { ErrorCode, PosternError } from '../../errors.js';

/**
 * Plugin key-value state behind one interface, so the embedded default (memory now, SQLite later)
 * and a shared backend (Redis, for several nodes) are interchangeable. Values are JSON text: every
 * backend can store a string, and the sandbox copies values across as text anyway.
 *
 * `namespace` is chosen by the host (the plugin's name), never by the plugin.
 */
export interface KvStore {
  /** The value's JSON text, or undefined when absent or expired. */
  get(namespace: string, key: string): Promise<string | undefined>;
  /** Store JSON text; with `ttlMs`, the entry expires that many milliseconds from now. */
  set(namespace: string, key: string, value: string, ttlMs?: number): Promise<void>;
  /** Remove the entry (no error when absent). */
  delete(namespace: string, key: string): Promise<void>;
}

interface Entry {
  value: string;
  /** Unix ms, or Infinity. */
  expiresAt: number;
}

export interface MemoryKvStoreOptions {
  /** Entries one namespace may hold; a set beyond it fails with PLUGIN_SANDBOX_LIMIT. Default 100 000. */
  maxEntriesPerNamespace?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The in-memory KvStore: per-process, lost on restart. Expired entries are dropped when read and
 * swept when a namespace reaches its cap, so a plugin that writes with a TTL stays bounded.
 * @example
 * const kv = new MemoryKvStore();
 * await kv.set('greylist', 'triplet', '1', 60_000);
 */
export class MemoryKvStore implements KvStore {
  readonly #spaces = new Map<string, Map<string, Entry>>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: MemoryKvStoreOptions = {}) {
    this.#max = options.maxEntriesPerNamespace ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async get(namespace: string, key: string): Promise<string | undefined> {
    const space = this.#spaces.get(namespace);
    const entry = space?.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      space!.delete(key);
      return undefined;
    }
    return entry.value;
  }

  async set(namespace: string, key: string, value: string, ttlMs?: number): Promise<void> {
    let space = this.#spaces.get(namespace);
    if (!space) this.#spaces.set(namespace, (space = new Map()));
    if (!space.has(key) && space.size >= this.#max) {
      this.#sweep(space);
      if (space.size >= this.#max) {
        throw new PosternError(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv namespace ${namespace} is full (${this.#max} entries)`, { namespace });
      }
    }
    space.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.#now() + ttlMs });
  }

  async delete(namespace: string, key: string): Promise<void> {
    this.#spaces.get(namespace)?.delete(key);
  }

  #sweep(space: Map<string, Entry>): void {
    const now = this.#now();
    for (const [key, entry] of space) if (entry.expiresAt <= now) space.delete(key);
  }
}
