/**
 * A per-session or per-transaction store where a plugin records what it found, so later plugins
 * can read it (greylist reads the `spf` and `access` results). Keys are plugin names by convention.
 * @example
 * tx.results.set('spf', { result: 'pass', domain: 'example.com' });
 * const spf = tx.results.get<{ result: string }>('spf');
 */
export interface ResultsStore {
  set(key: string, value: unknown): void;
  get<T = unknown>(key: string): T | undefined;
  has(key: string): boolean;
  /** Everything recorded, for logs. */
  toJSON(): Record<string, unknown>;
}
