import type { ResultsStore } from './results.js';

/**
 * The plain in-memory ResultsStore the core and the test harness use.
 * @example
 * const results = new MapResults();
 * results.set('spf', { result: 'pass' });
 */
export class MapResults implements ResultsStore {
  readonly #values = new Map<string, unknown>();

  set(key: string, value: unknown): void {
    this.#values.set(key, value);
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#values.get(key) as T | undefined;
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.#values);
  }
}
