/**
 * What the queue remembers about a message beyond its bytes (which stay in the spool): per
 * recipient status and last reply, attempts, when to try next, held or not. The interface is
 * async so a PostgreSQL backend can implement it later; sqlite-queue-store.ts is the embedded one.
 */

/** A recipient's state. `in-flight`: an attempt is running (after a crash: not known, tried again). */
export type RecipientStatus = 'scheduled' | 'in-flight' | 'delivered' | 'deferred' | 'failed';

export interface QueuedRecipient {
  address: string;
  /** The envelope recipient it came from (differs after alias expansion). */
  original: string;
  /** The recipient's domain, lower case: deliveries are grouped by it. */
  domain: string;
  folder?: string;
  status: RecipientStatus;
  attempts: number;
  lastAttemptAt?: number;
  /** The last reply: SMTP code, enhanced status code and text (the remote's or ours). */
  code?: number;
  enhanced?: string;
  reply?: string;
  /** The host (or mailbox) of the last attempt. */
  destination?: string;
}

export interface QueuedMessage {
  id: string;
  sender: string;
  /** Unix ms of the 250. */
  receivedAt: number;
  size: number;
  attempts: number;
  /** Unix ms; undefined while an attempt runs or when nothing is left to do. */
  nextAttemptAt?: number;
  held: boolean;
  /** A delay warning (DSN) went to the sender. */
  warned: boolean;
  /** Unix ms when every recipient was settled; kept a while so a spool replay does not resend. */
  doneAt?: number;
  recipients: QueuedRecipient[];
}

/** Which messages a bulk operation (`--all`) or a listing covers. */
export type QueueSelector = { id: string } | { all: true };

export interface QueueStore {
  get(id: string): Promise<QueuedMessage | undefined>;
  /** Messages not done, oldest first (with `includeDone`, finished ones too). */
  list(options?: { includeDone?: boolean }): Promise<QueuedMessage[]>;
  /**
   * Write a message's state, replacing what was stored, except `held`, which only setHeld
   * changes once the entry exists. With `onlyIfPresent`, nothing is written and false is returned
   * when the row is gone (an admin deleted the message meanwhile).
   */
  save(message: QueuedMessage, options?: { onlyIfPresent?: boolean }): Promise<boolean>;
  /** Ids of messages whose next attempt is due, not held, not done, oldest first. */
  due(now: number, limit: number): Promise<string[]>;
  /** The earliest next attempt of any waiting message, for the scheduler's timer. */
  nextDueAt(): Promise<number | undefined>;
  /** Hold or release; returns the ids changed. */
  setHeld(selector: QueueSelector, held: boolean): Promise<string[]>;
  /** Make messages due now (`queue retry`, `queue flush`); returns the ids changed. Held messages stay held. */
  retryNow(selector: QueueSelector, now: number): Promise<string[]>;
  /** Forget messages (their spool files are the caller's); returns the ids removed. */
  delete(selector: QueueSelector): Promise<string[]>;
  /** Drop finished messages older than `before` (unix ms). */
  purgeDone(before: number): Promise<number>;
}
