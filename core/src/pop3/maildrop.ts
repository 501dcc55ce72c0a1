import type { FolderSnapshot } from '../mailstore/mail-store.js';

/** One message of the maildrop, numbered from 1 in the order of the snapshot (UID order). */
export interface MaildropMessage {
  number: number;
  uid: number;
  size: number;
  /** The unique-id listing of UIDL: `uidValidity.uid`, stable for as long as the folder's UIDVALIDITY. */
  uniqueId: string;
  deleted: boolean;
}

/**
 * A user's INBOX as one POP3 session sees it: the snapshot taken at login (RFC 1939 §8: messages
 * that arrive during the session are not shown until the next one), and the messages marked
 * deleted, which are only removed at QUIT (the UPDATE state).
 */
export class Maildrop {
  readonly user: string;
  readonly #messages: MaildropMessage[];

  constructor(user: string, snapshot: FolderSnapshot) {
    this.user = user;
    const validity = snapshot.info.uidValidity;
    this.#messages = snapshot.messages.map((m, i) => ({ number: i + 1, uid: m.uid, size: m.size, uniqueId: `${validity}.${m.uid}`, deleted: false }));
  }

  /** The message with this number unless it does not exist or is marked deleted. */
  get(number: number): MaildropMessage | undefined {
    const message = this.#messages[number - 1];
    return message && !message.deleted ? message : undefined;
  }

  /** Whether the number names a message that is marked deleted (for a precise -ERR). */
  isDeleted(number: number): boolean {
    return this.#messages[number - 1]?.deleted === true;
  }

  /** The messages not marked deleted, in order. */
  live(): MaildropMessage[] {
    return this.#messages.filter((m) => !m.deleted);
  }

  /** Count and total octets of the messages not marked deleted (STAT). */
  stat(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.#messages) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  markDeleted(number: number): boolean {
    const message = this.get(number);
    if (!message) return false;
    message.deleted = true;
    return true;
  }

  /** RSET: unmark every message. */
  unmarkAll(): void {
    for (const m of this.#messages) m.deleted = false;
  }

  /** The UIDs to expunge at QUIT. */
  deletedUids(): number[] {
    return this.#messages.filter((m) => m.deleted).map((m) => m.uid);
  }
}

/**
 * One maildrop lock per user (RFC 1939 §8: the server acquires an exclusive-access lock on the
 * maildrop); a second session for the same user is refused with [IN-USE] (RFC 2449 §8.1.1).
 * Shared by every POP3 listener of the server; IMAP sessions do not take it.
 */
export class MaildropLocks {
  readonly #holders = new Map<string, string>();

  /** Take the lock for `user` for the session `holder`; false when another session has it. */
  acquire(user: string, holder: string): boolean {
    const key = user.toLowerCase();
    const current = this.#holders.get(key);
    if (current !== undefined && current !== holder) return false;
    this.#holders.set(key, holder);
    return true;
  }

  release(user: string, holder: string): void {
    const key = user.toLowerCase();
    if (this.#holders.get(key) === holder) this.#holders.delete(key);
  }
}
