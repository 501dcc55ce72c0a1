/**
 * Per-tap call counts and time spent, so an admin (and the benchmark) can see where the time of a
 * message goes. Cheap enough to stay on in production: two numbers per tap.
 */
export interface TapTiming {
  hook: string;
  plugin: string;
  calls: number;
  failures: number;
  totalMs: number;
}

export class TapTimings {
  readonly #byKey = new Map<string, TapTiming>();

  record(hook: string, plugin: string, ms: number, failed: boolean): void {
    const key = `${hook}\u0000${plugin}`;
    let entry = this.#byKey.get(key);
    if (!entry) {
      entry = { hook, plugin, calls: 0, failures: 0, totalMs: 0 };
      this.#byKey.set(key, entry);
    }
    entry.calls++;
    entry.totalMs += ms;
    if (failed) entry.failures++;
  }

  snapshot(): TapTiming[] {
    return [...this.#byKey.values()].map((t) => ({ ...t }));
  }
}
