/**
 * A small async mutex per key: callers of `run` with the same key take turns, in the order they
 * came. Several keys are taken in sorted order, so two callers that need the same pair cannot
 * wait on each other. Keys nobody holds or waits for are forgotten.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const releases: Array<() => void> = [];
    try {
      for (const key of [...new Set(keys)].sort()) releases.push(await this.#acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Whether someone holds or waits for the key (tests). */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }

  async #acquire(key: string): Promise<() => void> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous ? previous.then(() => mine) : mine;
    this.#tails.set(key, tail);
    if (previous) await previous;
    return () => {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}
