import type { Alias, Directory, Domain, NewUser, Resolution, User } from './directory.js';

/** How stale a cached answer may be, at most, after another process (the CLI) changed the database. */
const RECHECK_MS = 25;
/** Usage deltas are written in one go this often, not once per message. */
const USAGE_FLUSH_MS = 1000;
const MAX_ENTRIES = 50_000;

/**
 * The directory as the SMTP path uses it: every RCPT and every delivery asks the same few
 * questions (resolve, getUser, getUsage), and every delivery adds to a mailbox's usage. Asked of
 * SQLite each time, that is a dozen statements and a write transaction per message.
 *
 * This wrapper answers reads from memory and forgets everything when the database changes under
 * it: `changeToken` (SQLite's data_version, which moves when another connection commits, e.g.
 * `postern user add` while the server runs) is checked at most every RECHECK_MS. Usage deltas are
 * summed in memory and written once a second (and on close); reads include the unwritten part.
 * A crash can lose up to a second of usage accounting, never mail.
 */
export class CachedDirectory implements Directory {
  readonly #inner: Directory;
  readonly #changeToken: () => number;
  readonly #resolutions = new Map<string, Promise<Resolution>>();
  readonly #users = new Map<string, Promise<User | undefined>>();
  readonly #usage = new Map<string, Promise<number>>();
  readonly #pendingUsage = new Map<string, number>();
  #token: number;
  #checkedAt = 0;
  #timer: NodeJS.Timeout;

  constructor(inner: Directory, changeToken: () => number) {
    this.#inner = inner;
    this.#changeToken = changeToken;
    this.#token = changeToken();
    this.#timer = setInterval(() => void this.flushUsage(), USAGE_FLUSH_MS);
    this.#timer.unref();
  }

  #fresh(): void {
    const now = Date.now();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    const token = this.#changeToken();
    if (token !== this.#token) {
      this.#token = token;
      this.#forget();
    }
  }

  #forget(): void {
    this.#resolutions.clear();
    this.#users.clear();
    this.#usage.clear();
  }

  #cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    this.#fresh();
    let hit = map.get(key);
    if (!hit) {
      if (map.size >= MAX_ENTRIES) map.clear();
      hit = load();
      map.set(key, hit);
      hit.catch(() => map.delete(key));
    }
    return hit;
  }

  resolve(address: string): Promise<Resolution> {
    return this.#cached(this.#resolutions, address.toLowerCase(), () => this.#inner.resolve(address));
  }

  getUser(address: string): Promise<User | undefined> {
    return this.#cached(this.#users, address.toLowerCase(), () => this.#inner.getUser(address));
  }

  async getUsage(address: string): Promise<number> {
    const key = address.toLowerCase();
    const stored = await this.#cached(this.#usage, key, () => this.#inner.getUsage(address));
    return stored + (this.#pendingUsage.get(key) ?? 0);
  }

  async addUsage(address: string, bytes: number): Promise<void> {
    const key = address.toLowerCase();
    this.#pendingUsage.set(key, (this.#pendingUsage.get(key) ?? 0) + bytes);
  }

  /** Write the summed usage deltas. */
  async flushUsage(): Promise<void> {
    const pending = [...this.#pendingUsage];
    this.#pendingUsage.clear();
    for (const [address, bytes] of pending) {
      try {
        await this.#inner.addUsage(address, bytes);
      } catch {
        // The user was removed meanwhile: there is no usage left to track.
      }
      this.#usage.delete(address);
    }
  }

  // Everything else goes straight through and drops the cache (it may change what we know).
  async #write<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.#forget();
    }
  }

  addDomain(name: string, options?: { catchAll?: string | null }): Promise<Domain> {
    return this.#write(() => this.#inner.addDomain(name, options));
  }
  getDomain(name: string): Promise<Domain | undefined> {
    return this.#inner.getDomain(name);
  }
  listDomains(): Promise<Domain[]> {
    return this.#inner.listDomains();
  }
  removeDomain(name: string, options?: { force?: boolean }): Promise<void> {
    return this.#write(() => this.#inner.removeDomain(name, options));
  }
  setCatchAll(domain: string, target: string | null): Promise<void> {
    return this.#write(() => this.#inner.setCatchAll(domain, target));
  }
  isLocalDomain(domain: string): Promise<boolean> {
    return this.#inner.isLocalDomain(domain);
  }
  addUser(address: string, password: string, fields?: NewUser): Promise<User> {
    return this.#write(() => this.#inner.addUser(address, password, fields));
  }
  listUsers(domain?: string): Promise<User[]> {
    return this.#inner.listUsers(domain);
  }
  setPassword(address: string, password: string): Promise<void> {
    return this.#inner.setPassword(address, password);
  }
  updateUser(address: string, fields: NewUser): Promise<User> {
    return this.#write(() => this.#inner.updateUser(address, fields));
  }
  removeUser(address: string): Promise<void> {
    return this.#write(() => this.#inner.removeUser(address));
  }
  verifyPassword(address: string, password: string): Promise<User | undefined> {
    return this.#inner.verifyPassword(address, password);
  }
  addAlias(source: string, targets: string[]): Promise<Alias> {
    return this.#write(() => this.#inner.addAlias(source, targets));
  }
  removeAlias(source: string, target?: string): Promise<void> {
    return this.#write(() => this.#inner.removeAlias(source, target));
  }
  listAliases(domain?: string): Promise<Alias[]> {
    return this.#inner.listAliases(domain);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flushUsage();
    await this.#inner.close();
  }
}
