import type { PluginKv } from '../plugin.js';

/**
 * An in-memory `api.kv` for plugin tests (the harness gives one to every plugin unless
 * `HarnessInit.kv` is set). Values are stored as JSON, like the server's store, and `ttlMs` is
 * honoured against `now()`, which a test may move forward.
 * @example
 * let now = Date.now();
 * const kv = memoryKv(() => now);
 * const h = await createHarness(greylist, { kv });
 * now += 10 * 60_000; // ten minutes later
 */
export function memoryKv(now: () => number = Date.now): PluginKv {
  const entries = new Map<string, { json: string; expiresAt: number }>();
  return {
    async get<T>(key: string): Promise<T | undefined> {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        entries.delete(key);
        return undefined;
      }
      return JSON.parse(entry.json) as T;
    },
    async set(key: string, value: unknown, options: { ttlMs?: number } = {}): Promise<void> {
      const json = JSON.stringify(value);
      if (json === undefined) throw new TypeError('kv: the value must be JSON data');
      entries.set(key, { json, expiresAt: options.ttlMs === undefined ? Infinity : now() + options.ttlMs });
    },
    async delete(key: string): Promise<void> {
      entries.delete(key);
    },
  };
}
