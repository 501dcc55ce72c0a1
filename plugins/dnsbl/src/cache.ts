/**
 * Answers per (client IP, zone), kept `ttlMs`. PluginDns gives no TTLs, so one fixed lifetime
 * stands in for the list's. Bounded: past `maxEntries` the oldest entry goes (Map keeps insertion order).
 * Promises are stored, so two connections from one IP at once share one lookup.
 */
export class LookupCache<T> {
  readonly #entries = new Map<string, { value: Promise<T>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /** The cached value for `key`, else `load()`'s (cached unless `load` or `keep` says otherwise). */
  get(key: string, load: () => Promise<T>, keep: (value: T) => boolean): Promise<T> {
    if (this.ttlMs <= 0) return load();
    const hit = this.#entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    if (hit) this.#entries.delete(key);
    const value = load();
    this.#entries.set(key, { value, expires: this.now() + this.ttlMs });
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    // A failed lookup (timeout, SERVFAIL) is not an answer: ask again next time.
    value.then(
      (v) => {
        if (!keep(v) && this.#entries.get(key)?.value === value) this.#entries.delete(key);
      },
      () => {
        if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
      },
    );
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
