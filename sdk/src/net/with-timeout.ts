/**
 * `promise`, or a rejection with `onTimeout()` when it has not settled within `ms` milliseconds.
 * The timer is cleared as soon as either happens; the promise itself is not cancelled (its late
 * result is ignored).
 * @example
 * const txt = await withTimeout(dns.resolveTxt(name), 2000, () => dnsError('ETIMEOUT', name, 'TXT'));
 * const verdict = await withTimeout(scan(message), 5000, () => new Error('no verdict within 5000 ms'));
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
