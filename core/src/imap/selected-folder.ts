import type { FolderInfo, FolderSnapshot, StoredMessage } from '../mailstore/mail-store.js';
import { flagList } from './protocol/response-format.js';
import { lowerBound } from './protocol/sequence-set.js';

/** Where untagged responses go. */
export interface LineSink {
  line(text: string): void;
}

/**
 * The folder a session has selected, as the session has told the client about it: message
 * sequence numbers are positions in `uids`. Changes made elsewhere (deliveries, other sessions)
 * are applied from a fresh snapshot at points where the client may hear of them; expunged
 * messages stay (as "gone") until an EXPUNGE response may be sent (RFC 3501 7.4.1: not during
 * FETCH, STORE or SEARCH), so sequence numbers never shift under a command.
 */
export class SelectedFolder {
  /** The folder's name in the store. */
  readonly name: string;
  readonly readOnly: boolean;
  info: FolderInfo;
  /** UIDs in sequence order (ascending). */
  uids: number[];
  readonly #messages = new Map<number, StoredMessage>();
  readonly #recent = new Set<number>();
  readonly #gone = new Set<number>();
  /** Set by the store's watch: something changed, refresh at the next chance. */
  dirty = false;

  constructor(name: string, readOnly: boolean, snapshot: FolderSnapshot, recent: readonly number[]) {
    this.name = name;
    this.readOnly = readOnly;
    this.info = snapshot.info;
    this.uids = snapshot.messages.map((m) => m.uid);
    for (const m of snapshot.messages) this.#messages.set(m.uid, m);
    for (const uid of recent) this.#recent.add(uid);
  }

  get exists(): number {
    return this.uids.length;
  }

  get recentCount(): number {
    return this.#recent.size;
  }

  /** Whether there are expunges the client has not been told of. */
  get hasPendingExpunges(): boolean {
    return this.#gone.size > 0;
  }

  message(uid: number): StoredMessage | undefined {
    return this.#messages.get(uid);
  }

  isRecent(uid: number): boolean {
    return this.#recent.has(uid);
  }

  /** Expunged elsewhere, still numbered here. */
  isGone(uid: number): boolean {
    return this.#gone.has(uid);
  }

  /** 1-based sequence number of a UID, 0 when it is not in the view. */
  seqOf(uid: number): number {
    const i = lowerBound(this.uids, uid);
    return this.uids[i] === uid ? i + 1 : 0;
  }

  /** The FLAGS of a message as the client sees them (with \Recent). */
  flagsOf(uid: number): string[] {
    const flags = this.#messages.get(uid)?.flags ?? [];
    return this.#recent.has(uid) ? [...flags, '\\Recent'] : flags;
  }

  /** Every flag and keyword in use, for the FLAGS response. */
  keywords(): string[] {
    const seen = new Map<string, string>();
    for (const m of this.#messages.values()) for (const f of m.flags) if (!f.startsWith('\\')) seen.set(f.toLowerCase(), f);
    return [...seen.values()];
  }

  /** The first unseen message's sequence number (0: none). */
  firstUnseen(): number {
    for (let i = 0; i < this.uids.length; i++) if (!this.#messages.get(this.uids[i]!)?.flags.includes('\\Seen')) return i + 1;
    return 0;
  }

  /** Our own STORE (or \Seen by FETCH) changed these: update silently (the caller answers). */
  updateMessages(updated: readonly StoredMessage[]): void {
    for (const m of updated) if (this.#messages.has(m.uid)) this.#messages.set(m.uid, m);
    this.#raiseModseq(updated);
  }

  #raiseModseq(messages: readonly StoredMessage[]): void {
    for (const m of messages) if (m.modseq > this.info.highestModseq) this.info = { ...this.info, highestModseq: m.modseq };
  }

  /**
   * Bring the view up to `snapshot`, telling the client what changed: EXPUNGE (when `expunge`),
   * FETCH FLAGS of changed messages, EXISTS and RECENT. `claimRecent` decides which new UIDs
   * are \Recent here.
   */
  apply(snapshot: FolderSnapshot, options: { expunge: boolean; condstore: boolean; claimRecent: (uids: number[]) => number[] }, out: LineSink): void {
    const fresh = new Map<number, StoredMessage>();
    for (const m of snapshot.messages) fresh.set(m.uid, m);
    for (const uid of this.uids) if (!fresh.has(uid)) this.#gone.add(uid);
    if (options.expunge) this.reportExpunges(out);

    for (let i = 0; i < this.uids.length; i++) {
      const uid = this.uids[i]!;
      const now = fresh.get(uid);
      const before = this.#messages.get(uid);
      if (!now || !before || (now.modseq === before.modseq && sameFlags(now.flags, before.flags))) continue;
      this.#messages.set(uid, now);
      if (sameFlags(now.flags, before.flags)) continue;
      out.line(`* ${i + 1} FETCH (UID ${uid} FLAGS ${flagList(this.flagsOf(uid))}${options.condstore ? ` MODSEQ (${now.modseq})` : ''})`);
    }

    const last = this.uids.length > 0 ? this.uids[this.uids.length - 1]! : 0;
    const added: number[] = [];
    for (const m of snapshot.messages) {
      if (m.uid <= last) continue;
      added.push(m.uid);
      this.uids.push(m.uid);
      this.#messages.set(m.uid, m);
    }
    const before = this.info;
    this.info = snapshot.info;
    if (this.info.highestModseq < before.highestModseq) this.info = { ...this.info, highestModseq: before.highestModseq };
    if (added.length > 0) {
      for (const uid of options.claimRecent(added)) this.#recent.add(uid);
      out.line(`* ${this.uids.length} EXISTS`);
      out.line(`* ${this.#recent.size} RECENT`);
    }
  }

  /** Send the EXPUNGE responses of messages expunged elsewhere and drop them from the view. */
  reportExpunges(out: LineSink): void {
    if (this.#gone.size === 0) return;
    this.removeUids([...this.#gone], out);
  }

  /**
   * Drop these UIDs from the view with an EXPUNGE response each (highest sequence number first,
   * so every number is right when the client reads it).
   */
  removeUids(uids: readonly number[], out: LineSink): void {
    const drop = new Set(uids);
    for (let i = this.uids.length - 1; i >= 0; i--) {
      const uid = this.uids[i]!;
      if (!drop.has(uid)) continue;
      out.line(`* ${i + 1} EXPUNGE`);
    }
    this.uids = this.uids.filter((uid) => !drop.has(uid));
    for (const uid of drop) {
      this.#messages.delete(uid);
      this.#recent.delete(uid);
      this.#gone.delete(uid);
    }
  }
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
