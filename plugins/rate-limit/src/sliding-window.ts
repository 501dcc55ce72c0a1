/** The outcome of counting one event. */
export interface Hit {
  /** False when the key already had `limit` events inside the window; the event was not counted. */
  allowed: boolean;
  /** Events inside the window including this one (so `limit + 1` when refused). */
  count: number;
}

export interface Limiter {
  /** Count one event for `key` now, unless that would exceed the limit. */
  hit(key: string): Hit;
  /** Forget keys with no event inside the window; returns how many were dropped. */
  prune(): number;
  /** Keys currently tracked. */
  readonly size: number;
}

/**
 * An exact sliding window: per key, the timestamps of its last `limit` accepted events, oldest
 * first. An event is refused when `limit` of them are younger than `windowMs`. Memory is bounded
 * twice: at most `limit` numbers per key (a refused event is not stored, which is also why a client
 * that keeps retrying gets through again as soon as its oldest message leaves the window), and at
 * most `maxKeys` keys, the least recently seen dropped first (forgetting a key errs on the side of
 * accepting mail, never of refusing it).
 *
 * `now` is injectable so tests can move the clock.
 * @example
 * let t = 0;
 * const limiter = createLimiter(2, 60_000, () => t);
 * limiter.hit('ip:192.0.2.1'); // { allowed: true, count: 1 }
 * limiter.hit('ip:192.0.2.1'); // { allowed: true, count: 2 }
 * limiter.hit('ip:192.0.2.1'); // { allowed: false, count: 3 }
 * t += 60_000;
 * limiter.hit('ip:192.0.2.1'); // { allowed: true, count: 1 }
 */
export function createLimiter(limit: number, windowMs: number, now: () => number = Date.now, maxKeys = 100_000): Limiter {
  // Map iteration follows insertion order; re-inserting on every hit keeps it least-recent-first.
  const keys = new Map<string, number[]>();

  function expire(times: number[], t: number): void {
    let old = 0;
    while (old < times.length && (times[old] as number) <= t - windowMs) old++;
    if (old > 0) times.splice(0, old);
  }

  return {
    hit(key: string): Hit {
      const t = now();
      const times = keys.get(key) ?? [];
      expire(times, t);
      keys.delete(key);
      keys.set(key, times);
      if (times.length >= limit) return { allowed: false, count: times.length + 1 };
      times.push(t);
      if (keys.size > maxKeys) {
        const oldest = keys.keys().next().value;
        if (oldest !== undefined) keys.delete(oldest);
      }
      return { allowed: true, count: times.length };
    },
    prune(): number {
      const t = now();
      let dropped = 0;
      for (const [key, times] of keys) {
        const last = times[times.length - 1];
        if (last === undefined || last <= t - windowMs) {
          keys.delete(key);
          dropped++;
        }
      }
      return dropped;
    },
    get size(): number {
      return keys.size;
    },
  };
}
