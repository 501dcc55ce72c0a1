/**
 * Answers per (client IP, zone), each kept as long as `lifetimeMs(answer)` says (the list's DNS
 * TTL within the configured floor and ceiling, or the negative TTL; 0: not kept). Bounded: past
 * `maxEntries` the oldest entry goes (Map keeps insertion order). Promises are stored, so two
 * connections from one IP at once share one lookup; a lookup that rejects is never kept.
 */
export class LookupCache<T> {
  readonly #entries = new Map<string, { value: Promise<T>; expires: number }>();

  constructor(
    private readonly lifetimeMs: (value: T) => number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /** The cached value for `key`, else `load()`'s, kept for `lifetimeMs` of it once it settles. */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.#entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    if (hit) this.#entries.delete(key);
    const value = load();
    // In flight: shared until it settles, then given its own lifetime.
    const entry = { value, expires: Number.POSITIVE_INFINITY };
    this.#entries.set(key, entry);
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value as string);
    value.then(
      (v) => {
        if (this.#entries.get(key) !== entry) return;
        const ms = this.lifetimeMs(v);
        if (ms > 0) entry.expires = this.now() + ms;
        else this.#entries.delete(key);
      },
      () => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
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
