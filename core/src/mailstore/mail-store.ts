/**
 * The mail store as IMAP and POP3 see it: a user's folders, each an indexed Maildir++ folder with
 * UIDs, flags, internal dates, sizes and MODSEQs (RFC 3501, RFC 7162). The index lives in SQLite
 * (migration 004) and follows the Maildir files the core delivers: a file that appears in new/ is
 * given the next UID at the next `sync`; the index of a folder can be rebuilt from its files.
 *
 * This file is the contract; sqlite-mail-store.ts implements it. Folder names are IMAP names
 * (already decoded from modified UTF-7 by the protocol layer), hierarchy delimiter "/", "INBOX"
 * case-insensitive. Every method validates the name (folder-names.ts): a name that could escape
 * the user's Maildir (`..`, a leading "/", control characters, "." which Maildir++ uses as its
 * own separator) is refused with MailStoreError code 'BAD_NAME'.
 */

/** The SPECIAL-USE attributes (RFC 6154) of the default folders. */
export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Junk' | '\\Trash' | '\\Archive';

export interface FolderInfo {
  /** The IMAP name ("INBOX", "Sent", "Archive/2026"). */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Counts as of the last sync. */
  messages: number;
  unseen: number;
  subscribed: boolean;
  specialUse?: SpecialUse;
  /** Has child folders (for LIST \HasChildren / \HasNoChildren). */
  hasChildren: boolean;
}

export interface StoredMessage {
  uid: number;
  /** System flags with their backslash (\Seen \Answered \Flagged \Deleted \Draft) and keywords, as stored; never \Recent. */
  flags: string[];
  /** Unix ms: the delivery time (from the Maildir name) or the APPEND date. */
  internalDate: number;
  /** Bytes of the message file (RFC822.SIZE). */
  size: number;
  modseq: number;
}

/** A folder as of one sync: its info and its messages in UID order. */
export interface FolderSnapshot {
  info: FolderInfo;
  messages: StoredMessage[];
}

/** What a change was, for sessions watching the same folder (IDLE, NOOP, the next command). */
export type FolderChange =
  | { kind: 'added'; user: string; folder: string }
  | { kind: 'flags'; user: string; folder: string; uids: number[] }
  | { kind: 'expunged'; user: string; folder: string; uids: number[] }
  | { kind: 'folders'; user: string };

export type MailStoreErrorCode = 'BAD_NAME' | 'NO_SUCH_FOLDER' | 'FOLDER_EXISTS' | 'CANNOT' | 'NO_SUCH_MESSAGE' | 'OVER_QUOTA';

/** A refusal the protocol layer turns into NO [code] text (IMAP) or -ERR (POP3). */
export class MailStoreError extends Error {
  readonly code: MailStoreErrorCode;
  constructor(code: MailStoreErrorCode, message: string) {
    super(message);
    this.name = 'MailStoreError';
    this.code = code;
  }
}

export interface MailStore {
  /** Every folder of the user (creating the default folders on first use), INBOX first. */
  listFolders(user: string): Promise<FolderInfo[]>;
  createFolder(user: string, name: string): Promise<FolderInfo>;
  /** INBOX cannot be deleted (CANNOT); a folder with children may be (its children stay, RFC 3501 6.3.4). */
  deleteFolder(user: string, name: string): Promise<void>;
  /** Renaming INBOX moves its messages into a new folder and leaves INBOX empty (RFC 3501 6.3.5). */
  renameFolder(user: string, from: string, to: string): Promise<void>;
  setSubscribed(user: string, name: string, subscribed: boolean): Promise<void>;

  /** Bring the index up to date with the folder's files (new deliveries get UIDs) and return it. */
  sync(user: string, folder: string): Promise<FolderSnapshot>;
  /** The message's bytes, exactly as stored. NO_SUCH_MESSAGE if it was expunged. */
  read(user: string, folder: string, uid: number): Promise<Buffer>;
  /**
   * Change flags of the given UIDs. With `unchangedSince` (CONDSTORE), messages whose modseq is
   * higher are not changed and are returned in `failed`. Each change raises the folder's modseq.
   */
  setFlags(user: string, folder: string, uids: number[], mode: 'set' | 'add' | 'remove', flags: string[], unchangedSince?: number): Promise<{ updated: StoredMessage[]; failed: number[] }>;
  /** Store a new message (APPEND). OVER_QUOTA when the user's quota would be exceeded. */
  append(user: string, folder: string, data: Buffer, flags: string[], internalDate?: number): Promise<{ uidValidity: number; uid: number }>;
  /** Copy messages to another folder of the same user (COPY; MOVE = copy + expunge). Source UIDs in order → new UIDs. */
  copy(user: string, from: string, uids: number[], to: string): Promise<{ uidValidity: number; mapping: Array<[number, number]> }>;
  /** Remove messages: the given UIDs, or (without `uids`) every message flagged \Deleted. Returns the UIDs removed. */
  expunge(user: string, folder: string, uids?: number[]): Promise<number[]>;
  /** The user's quota and usage in bytes (QUOTA, RFC 2087/9208); limit undefined = unlimited. */
  quota(user: string): Promise<{ usage: number; limit?: number }>;

  /**
   * Be told of changes to the user's folders, made by deliveries (same process) or by other
   * sessions. Returns the function that stops watching.
   */
  watch(user: string, listener: (change: FolderChange) => void): () => void;
  /** The core's local delivery wrote a file into the user's folder: tell the watchers ('added'). */
  notifyDelivered(user: string, folder: string): void;

  /**
   * Added with the embedded store (optional for other backends). Rebuild the folder's index from
   * its files: a new UIDVALIDITY, UIDs in the order of the files' times, system flags from the
   * file names; keywords (kept only in the index) are lost. Watchers get 'expunged' for the old
   * UIDs. `sync` does the same by itself when a folder's index row is missing.
   */
  rebuild?(user: string, folder: string): Promise<FolderSnapshot>;
  /**
   * Added with the embedded store (optional for other backends). Every subscribed name, folders
   * that no longer exist included (RFC 3501 6.3.6: a subscription outlives its folder; LSUB).
   */
  listSubscriptions?(user: string): Promise<string[]>;
}
