import { randomBytes } from 'node:crypto';

let counter = 0;
/** Fixed per process: two processes (or a restart) in the same millisecond still differ. */
const PROCESS_TAG = randomBytes(3).toString('hex').toUpperCase();

/**
 * A queue id: sortable by time, unique across restarts and processes, safe in file names and
 * Maildir names. 10 base-36 time digits (ms), then 4 hex of a per-process counter and 6 hex of a
 * random tag drawn once per process (no entropy call per message).
 * @example newQueueId() // "0MIK3Q5Z1A00F3B9C2E17"
 */
export function newQueueId(now = Date.now()): string {
  counter = (counter + 1) & 0xffff;
  return (
    now.toString(36).toUpperCase().padStart(10, '0') +
    counter.toString(16).toUpperCase().padStart(4, '0') +
    PROCESS_TAG
  );
}

export function isQueueId(value: string): boolean {
  return /^[0-9A-Z]{10}[0-9A-F]{10}$/.test(value);
}
