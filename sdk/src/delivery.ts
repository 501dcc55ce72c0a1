import type { ResultsStore } from './results.js';

/** Final or temporary outcome for one recipient of a delivery. */
export interface DeliveryResult {
  status: 'delivered' | 'deferred' | 'failed';
  /** SMTP-style code for the record and a bounce, e.g. 250, 452, 550. */
  code?: number;
  enhanced?: string;
  message?: string;
  /** Which tap settled it (filled in by the pipeline). */
  by?: string;
  /** Where it went: a mailbox path or a remote host, for logs. */
  destination?: string;
}

export interface DeliveryRecipient {
  /** The envelope recipient as accepted at RCPT TO. */
  readonly original: string;
  /** Where to deliver now; a tap may rewrite it before local delivery (routing). */
  address: string;
  /** Folder to deliver into for local mailboxes (e.g. "Junk" after a quarantine verdict). */
  folder?: string;
  /** Set once settled. */
  result?: DeliveryResult;
}

/**
 * A spooled message on its way to its recipients. The `deliver` hook runs its taps in stage order;
 * each tap settles the recipients it handles. Once every recipient is settled the remaining taps
 * are skipped. Recipients left unsettled after every tap are deferred and retried.
 */
export interface Delivery {
  /** The queue id. */
  readonly id: string;
  readonly sender: string;
  /** Unix ms when the message was accepted. */
  readonly receivedAt: number;
  readonly recipients: readonly DeliveryRecipient[];
  /** Recipients not settled yet. */
  pending(): DeliveryRecipient[];
  /** Record the outcome for one recipient. */
  settle(recipient: DeliveryRecipient, result: DeliveryResult): void;
  /**
   * Add a recipient that a tap found along the way (an alias's remote target), pending, so later
   * taps (the outbound transport) deliver it. `original` is the envelope recipient it came from.
   */
  add(address: string, original: string): DeliveryRecipient;
  /** The full message (with the headers added at DATA). */
  readonly message: Buffer;
  /** Attempt number, 1 for the first. */
  readonly attempt: number;
  /** Results recorded during the SMTP transaction (read-only by convention). */
  readonly results: ResultsStore;
}

/** Payload of the delivery events (`queued`, `delivered`, `deferred`, `bounced`). */
export interface DeliveryEvent {
  readonly id: string;
  readonly sender: string;
  readonly recipients: ReadonlyArray<{ address: string; result?: DeliveryResult }>;
  readonly size: number;
  readonly attempt: number;
  /** `deferred` only: when the queue will try again (Unix ms), by its schedule. */
  readonly nextAttemptAt?: number;
  /**
   * `deferred` only: ask for the next attempt at `when` (Unix ms) instead. The queue keeps it
   * between `queue.minTimeInQueueSec` from now and the end of the message's life; the last call
   * of any tap wins.
   * @example
   * api.tap('deferred', (event) => {
   *   if (event.recipients.some((r) => r.result?.code === 421)) event.retryAt?.(Date.now() + 30 * 60_000);
   * });
   */
  retryAt?(when: number): void;
}
