import { join } from 'node:path';
import type { StoredMessage } from './mail-store.js';
import { flagList, SEEN } from './message-flags.js';
import type { FolderRow, MessageRow } from './sqlite-mail-index.js';

/** One message of the index, with what the store needs beyond StoredMessage (its file name). */
export interface MessageRecord {
  readonly uid: number;
  readonly base: string;
  /** The info part of the file name in cur/ (":2,FS"), or "" when the file has none. */
  readonly info: string;
  readonly bits: number;
  readonly keywords: readonly string[];
  readonly internalDate: number;
  readonly size: number;
  readonly modseq: number;
  /** What sessions get: frozen, replaced (never changed) when the message changes. */
  readonly view: StoredMessage;
}

/** The frozen flag lists of keyword-less messages, shared: 32 combinations of system flags. */
const SHARED_FLAGS = Array.from({ length: 32 }, (_, bits) => Object.freeze(flagList(bits, [])) as string[]);

/** Built field by field (not by spreading): 10,000 of these are made in one sync. */
export function makeRecord(f: Omit<MessageRecord, 'view'>): MessageRecord {
  const flags = f.keywords.length === 0 ? SHARED_FLAGS[f.bits & 31]! : (Object.freeze(flagList(f.bits, f.keywords)) as string[]);
  const view: StoredMessage = Object.freeze({ uid: f.uid, flags, internalDate: f.internalDate, size: f.size, modseq: f.modseq });
  return { uid: f.uid, base: f.base, info: f.info, bits: f.bits, keywords: f.keywords, internalDate: f.internalDate, size: f.size, modseq: f.modseq, view };
}

/** A record like `rec` with some fields changed (a new object; `rec` stays as sessions saw it). */
export function changedRecord(rec: MessageRecord, patch: Partial<Pick<MessageRecord, 'uid' | 'base' | 'info' | 'bits' | 'keywords' | 'modseq'>>): MessageRecord {
  return makeRecord({
    uid: patch.uid ?? rec.uid,
    base: patch.base ?? rec.base,
    info: patch.info ?? rec.info,
    bits: patch.bits ?? rec.bits,
    keywords: patch.keywords ?? rec.keywords,
    internalDate: rec.internalDate,
    size: rec.size,
    modseq: patch.modseq ?? rec.modseq,
  });
}

export function recordFromRow(row: MessageRow): MessageRecord {
  return makeRecord({
    uid: row.uid,
    base: row.base,
    info: row.info,
    bits: row.flags,
    keywords: row.keywords === '' ? [] : row.keywords.split(' '),
    internalDate: row.internal_date,
    size: row.size,
    modseq: row.modseq,
  });
}

/**
 * A folder's index held in memory while the process uses it: the SQLite rows (written first,
 * always in the same synchronous step) plus what makes `sync` cheap, the cur/ directory's mtime
 * as of the last time the index was known to match the files.
 */
export class FolderState {
  readonly id: number;
  readonly user: string;
  readonly name: string;
  /** The folder's Maildir directory (with cur/ new/ tmp/). */
  readonly dir: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** cur/'s mtime (ns) when the index last matched it; undefined: never scanned. */
  curMtime: bigint | undefined;
  /**
   * Whether an unchanged `curMtime` proves nothing changed. Not when the scan saw an mtime of
   * the last seconds: a later change within the same clock tick would leave it as it was.
   */
  curStable = false;
  /** The same for new/: an emptied new/ still costs a listing of all its old slots. */
  newMtime: bigint | undefined;
  newStable = false;
  /** Insertion order is UID order: UIDs only grow, and the rows are loaded sorted. */
  readonly #byUid = new Map<number, MessageRecord>();
  readonly #byBase = new Map<string, MessageRecord>();
  #views: StoredMessage[] | undefined;
  #unseen = 0;

  constructor(user: string, row: FolderRow, dir: string, rows: readonly MessageRow[]) {
    this.id = row.id;
    this.user = user;
    this.name = row.name;
    this.dir = dir;
    this.uidValidity = row.uidvalidity;
    this.uidNext = row.uidnext;
    this.highestModseq = row.highestmodseq;
    for (const r of rows) this.put(recordFromRow(r));
  }

  get size(): number {
    return this.#byUid.size;
  }

  byUid(uid: number): MessageRecord | undefined {
    return this.#byUid.get(uid);
  }

  byBase(base: string): MessageRecord | undefined {
    return this.#byBase.get(base);
  }

  records(): IterableIterator<MessageRecord> {
    return this.#byUid.values();
  }

  /** Add a message, or replace the one with the same UID (keeping its place). */
  put(rec: MessageRecord): void {
    const old = this.#byUid.get(rec.uid);
    if (old && old.base !== rec.base) this.#byBase.delete(old.base);
    this.#byUid.set(rec.uid, rec);
    this.#byBase.set(rec.base, rec);
    this.#views = undefined;
  }

  remove(rec: MessageRecord): void {
    this.#byUid.delete(rec.uid);
    if (this.#byBase.get(rec.base) === rec) this.#byBase.delete(rec.base);
    this.#views = undefined;
  }

  clear(): void {
    this.#byUid.clear();
    this.#byBase.clear();
    this.#views = undefined;
  }

  /** The messages in UID order (a new array each time; the elements are shared and frozen). */
  messages(): StoredMessage[] {
    return this.#list().slice();
  }

  unseen(): number {
    this.#list();
    return this.#unseen;
  }

  /** The path of a message's file in cur/. */
  pathOf(rec: Pick<MessageRecord, 'base' | 'info'>): string {
    return join(this.dir, 'cur', rec.base + rec.info);
  }

  #list(): StoredMessage[] {
    if (!this.#views) {
      const views: StoredMessage[] = [];
      let unseen = 0;
      for (const rec of this.#byUid.values()) {
        views.push(rec.view);
        if (!(rec.bits & SEEN)) unseen++;
      }
      this.#views = views;
      this.#unseen = unseen;
    }
    return this.#views;
  }
}
