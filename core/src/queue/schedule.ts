import type { QueueConfig } from '../config/types.js';

/**
 * The retry schedule (config `queue`). After the n-th failed attempt a message waits
 * `retryIntervalSec × backoff^(n-1)`, at most `maxRetryIntervalSec` and at least
 * `minTimeInQueueSec`; a message older than `maxTimeInQueueSec` bounces instead.
 * @example
 * // retryIntervalSec 300, backoff 2: waits of 5, 10, 20, 40, 60, 60 ... minutes (max 3600 s)
 * nextAttemptAt(now, 3, config.queue) === now + 1_200_000
 */
export function nextAttemptAt(now: number, attempts: number, schedule: QueueConfig): number {
  const waitSec = schedule.retryIntervalSec * schedule.backoff ** Math.max(0, attempts - 1);
  return now + clampWaitSec(waitSec, schedule) * 1000;
}

/** A retry time a `deferred` tap asked for, kept between the minimum wait and the end of the message's life. */
export function clampRetryAt(requested: number, now: number, receivedAt: number, schedule: QueueConfig): number {
  const earliest = now + schedule.minTimeInQueueSec * 1000;
  const latest = receivedAt + schedule.maxTimeInQueueSec * 1000;
  return Math.max(earliest, Math.min(requested, Math.max(latest, earliest)));
}

/** The message has been queued for longer than `maxTimeInQueueSec`: it bounces. */
export function isExpired(now: number, receivedAt: number, schedule: QueueConfig): boolean {
  return now - receivedAt >= schedule.maxTimeInQueueSec * 1000;
}

/** A delay warning is due: enabled, not sent yet, and the message has waited `delayWarningSec`. */
export function isDelayWarningDue(now: number, receivedAt: number, warned: boolean, schedule: QueueConfig): boolean {
  return schedule.delayWarningSec > 0 && !warned && now - receivedAt >= schedule.delayWarningSec * 1000;
}

function clampWaitSec(waitSec: number, schedule: QueueConfig): number {
  return Math.max(schedule.minTimeInQueueSec, Math.min(waitSec, schedule.maxRetryIntervalSec));
}
