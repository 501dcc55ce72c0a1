/** The FETCH items the cache keeps: they depend only on the message's bytes. */
export type CachedItem = 'ENVELOPE' | 'BODYSTRUCTURE' | 'BODY';

interface Entry {
  ENVELOPE?: string;
  BODYSTRUCTURE?: string;
  BODY?: string;
  /** The header block (with its blank line), for SEARCH on header fields. */
  header?: Buffer;
}

interface FolderEntries {
  entries: Map<number, Entry>;
  size: number;
}

/**
 * What IMAP computes from a message's bytes and clients ask for again and again — ENVELOPE,
 * BODYSTRUCTURE, BODY, and the header block that SEARCH FROM/SUBJECT/... read — kept in memory
 * so that a client opening or searching a big folder again reads no files. A message's bytes
 * never change under its UID (a folder whose index is rebuilt gets a new UIDVALIDITY, hence
 * new keys), so entries are never stale. The budget (characters and bytes held) is shared by all
 * users; the folders used least recently go first. One cache per process.
 */
export class MessageCache {
  /** user \n folder \n uidValidity → entries; Map order = least recently used first. */
  readonly #folders = new Map<string, FolderEntries>();
  readonly #budget: number;
  #size = 0;

  constructor(budget = 64 * 1024 * 1024) {
    this.#budget = budget;
  }

  /** The cache of one folder (marked as the most recently used). */
  folder(user: string, folder: string, uidValidity: number): FolderCache {
    const key = `${user}\n${folder}\n${uidValidity}`;
    let entries = this.#folders.get(key);
    if (entries) this.#folders.delete(key);
    else entries = { entries: new Map(), size: 0 };
    this.#folders.set(key, entries);
    return new FolderCache(this, entries);
  }

  /** Room for `cost` more in `current`: drop other folders, least recently used first. */
  reserve(current: FolderEntries, cost: number): boolean {
    for (const [key, entries] of this.#folders) {
      if (this.#size + cost <= this.#budget) break;
      if (entries === current) continue;
      this.#folders.delete(key);
      this.#size -= entries.size;
    }
    if (this.#size + cost > this.#budget) return false;
    this.#size += cost;
    current.size += cost;
    return true;
  }

  get size(): number {
    return this.#size;
  }
}

/** One folder's cached items. */
export class FolderCache {
  readonly #cache: MessageCache;
  readonly #folder: FolderEntries;

  constructor(cache: MessageCache, folder: FolderEntries) {
    this.#cache = cache;
    this.#folder = folder;
  }

  get(uid: number, item: CachedItem): string | undefined {
    return this.#folder.entries.get(uid)?.[item];
  }

  set(uid: number, item: CachedItem, value: string): void {
    if (!this.#cache.reserve(this.#folder, value.length + 16)) return;
    // Flatten the string once (it was built by concatenation) so writing it later is a copy.
    Number(value);
    this.#entry(uid)[item] = value;
  }

  header(uid: number): Buffer | undefined {
    return this.#folder.entries.get(uid)?.header;
  }

  /** Keep a copy of the header block `raw[0, end)` (never a view that would hold the whole message). */
  setHeader(uid: number, raw: Buffer, end: number): void {
    if (this.#folder.entries.get(uid)?.header) return;
    if (!this.#cache.reserve(this.#folder, end + 16)) return;
    this.#entry(uid).header = Buffer.from(raw.subarray(0, end));
  }

  #entry(uid: number): Entry {
    let entry = this.#folder.entries.get(uid);
    if (!entry) {
      entry = {};
      this.#folder.entries.set(uid, entry);
    }
    return entry;
  }
}
