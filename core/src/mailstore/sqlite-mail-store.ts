/**
 * The embedded MailStore: Maildir++ files (the core's delivery writes them) indexed in SQLite.
 * Layout, sync rules, UIDVALIDITY and limits: docs/reference/mail-store.md.
 *
 * Every change to a folder runs under that folder's lock (keyed-mutex.ts), so two IMAP sessions
 * and a sync never hand out a UID twice; changes to the folder tree also take the user's lock.
 * The files change first, then the index in one transaction, then the in-memory copy of the
 * folder (folder-state.ts): a crash in between leaves files the next sync reconciles.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { MailboxStore } from '../delivery/mailbox-store.js';
import type { Directory } from '../directory/directory.js';
import type { Db } from '../store/database.js';
import { ChangeNotifier } from './change-notifier.js';
import { canonicalFolderName, INBOX, isInbox, isSelfOrChild, specialUseOf, superiorNames } from './folder-names.js';
import { changedRecord, makeRecord, type FolderState, type MessageRecord } from './folder-state.js';
import { inBatches, isMissing } from './fs-batches.js';
import { KeyedMutex } from './keyed-mutex.js';
import { MailStoreError, type FolderChange, type FolderInfo, type FolderSnapshot, type MailStore, type StoredMessage } from './mail-store.js';
import { diskFolders, folderDir, isFolder, makeFolder, removeFolder, renameFolderDir } from './maildir-folders.js';
import { newBase } from './maildir-names.js';
import { locateFile, ownCurChange, syncFolder, type SyncChanges } from './maildir-sync.js';
import { changeFlags, DELETED, infoForBits, parseFlags, sameFlags } from './message-flags.js';
import { copyFiles, noMessage, readMessage, renameFlagFiles, unlinkFiles, writeMessage } from './message-files.js';
import { folderKey, OpenFolders, userKey } from './open-folders.js';
import { SqliteMailIndex, type FolderCounts, type FolderRow } from './sqlite-mail-index.js';

export interface MailStoreOptions {
  db: Db;
  /** Maildirs live under dataDir/mail/<domain>/<local> (core/src/delivery/mailbox-store.ts). */
  dataDir: string;
  /** Folders every mailbox has (config delivery.folders). */
  folders: readonly string[];
  directory: Directory;
  /** Where failures that must not fail a mail operation are reported (usage accounting, watchers). */
  log?: Logger;
  /** Folders whose index is kept in memory (least recently used dropped first); default 256. */
  cachedFolders?: number;
}

/**
 * @example
 * const store = new SqliteMailStore({ db, dataDir: config.dataDir, folders: config.delivery.folders, directory });
 * const { info, messages } = await store.sync('ann@example.com', 'INBOX');
 * await store.setFlags('ann@example.com', 'INBOX', [messages[0].uid], 'add', ['\\Seen']);
 */
export class SqliteMailStore implements MailStore {
  readonly #index: SqliteMailIndex;
  readonly #mailboxes: MailboxStore;
  readonly #defaults: readonly string[];
  readonly #directory: Directory;
  readonly #log: Logger | undefined;
  readonly #notifier: ChangeNotifier;
  readonly #mutex = new KeyedMutex();
  readonly #open: OpenFolders;
  readonly #roots = new Map<string, Promise<string>>();

  constructor(options: MailStoreOptions) {
    this.#index = new SqliteMailIndex(options.db);
    this.#defaults = [...new Set(options.folders.map(canonicalFolderName))].filter((n) => !isInbox(n));
    this.#mailboxes = new MailboxStore(options.dataDir, this.#defaults);
    this.#directory = options.directory;
    this.#log = options.log;
    this.#open = new OpenFolders(this.#index, this.#mutex, options.cachedFolders ?? 256);
    this.#notifier = new ChangeNotifier((err) => this.#log?.error({ err }, 'mail store watcher failed'));
  }

  // ---- folders ----

  async listFolders(user: string): Promise<FolderInfo[]> {
    const u = this.#user(user);
    const root = await this.#root(u);
    return this.#mutex.run([userKey(u)], async () => {
      const names = await diskFolders(root);
      const rows = new Map(this.#index.folders(u).map((r) => [r.name, r]));
      for (const [name, row] of rows) {
        if (names.has(name)) continue;
        this.#index.deleteFolder(row.id); // its directory was removed by hand
        this.#forget(u, name);
        rows.delete(name);
      }
      for (const name of names) if (!rows.has(name)) rows.set(name, this.#index.ensureFolder(u, name));
      // Counts of open folders from memory; the others from one query, only when there are any.
      let counts: Map<number, FolderCounts> | undefined;
      const subscribed = new Set(this.#index.subscriptions(u));
      const sorted = [...names].sort((a, b) => (isInbox(a) ? -1 : isInbox(b) ? 1 : a < b ? -1 : a > b ? 1 : 0));
      return sorted.map((name) => {
        const open = this.#open.peek(u, name);
        const row = open ? stateRow(open) : rows.get(name)!;
        const c = open ? { messages: open.size, unseen: open.unseen() } : ((counts ??= this.#index.counts(u)).get(row.id) ?? { messages: 0, unseen: 0 });
        return folderInfo(name, row, c.messages, c.unseen, subscribed.has(name), sorted.some((n) => n.startsWith(`${name}/`)));
      });
    });
  }

  async createFolder(user: string, name: string): Promise<FolderInfo> {
    const u = this.#user(user);
    const canonical = canonicalFolderName(name);
    if (isInbox(canonical)) throw new MailStoreError('FOLDER_EXISTS', 'INBOX always exists');
    const root = await this.#root(u);
    const info = await this.#mutex.run([userKey(u)], () =>
      this.#mutex.run([folderKey(u, canonical)], async () => {
        if (isFolder(folderDir(root, canonical))) throw new MailStoreError('FOLDER_EXISTS', `folder ${JSON.stringify(canonical)} exists`);
        // RFC 3501 6.3.3: create the superior levels a name needs ("A/B" makes "A" too).
        for (const parent of superiorNames(canonical)) await this.#makeFolder(root, u, parent);
        const row = await this.#makeFolder(root, u, canonical);
        const names = await diskFolders(root);
        return folderInfo(canonical, row, 0, 0, this.#index.isSubscribed(u, canonical), [...names].some((n) => n.startsWith(`${canonical}/`)));
      }),
    );
    this.#emit({ kind: 'folders', user: u });
    return info;
  }

  async deleteFolder(user: string, name: string): Promise<void> {
    const u = this.#user(user);
    const canonical = canonicalFolderName(name);
    if (isInbox(canonical)) throw new MailStoreError('CANNOT', 'INBOX cannot be deleted');
    const root = await this.#root(u);
    const freed = await this.#mutex.run([userKey(u)], () =>
      this.#mutex.run([folderKey(u, canonical)], async () => {
        const state = await this.#state(u, canonical);
        await this.#sync(state); // so files not yet indexed are counted too
        let bytes = 0;
        for (const rec of state.records()) bytes += rec.size;
        await removeFolder(root, canonical);
        this.#index.deleteFolder(state.id);
        this.#forget(u, canonical);
        return bytes;
      }),
    );
    await this.#addUsage(u, -freed);
    this.#emit({ kind: 'folders', user: u });
  }

  async renameFolder(user: string, from: string, to: string): Promise<void> {
    const u = this.#user(user);
    const source = canonicalFolderName(from);
    const target = canonicalFolderName(to);
    if (isInbox(target) || source === target) throw new MailStoreError('FOLDER_EXISTS', `folder ${JSON.stringify(target)} exists`);
    if (!isInbox(source) && isSelfOrChild(target, source)) throw new MailStoreError('CANNOT', 'a folder cannot be moved below itself');
    const root = await this.#root(u);
    await this.#mutex.run([userKey(u)], async () => {
      const names = await diskFolders(root);
      if (!names.has(source)) throw new MailStoreError('NO_SUCH_FOLDER', `no folder ${JSON.stringify(source)}`);
      // INBOX: its messages move, its children stay (RFC 3501 6.3.5). Others: the subtree moves.
      const moves = isInbox(source) ? [[source, target] as const] : [...names].filter((n) => isSelfOrChild(n, source)).map((n) => [n, target + n.slice(source.length)] as const);
      const clash = moves.find(([, dst]) => names.has(dst));
      if (clash) throw new MailStoreError('FOLDER_EXISTS', `folder ${JSON.stringify(clash[1])} exists`);
      const keys = moves.flatMap(([src, dst]) => [folderKey(u, src), folderKey(u, dst)]);
      await this.#mutex.run(keys, async () => {
        for (const parent of superiorNames(target)) if (!names.has(parent)) await this.#makeFolder(root, u, parent);
        if (isInbox(source)) await this.#renameInbox(root, u, target);
        else for (const [src, dst] of moves) await this.#moveFolder(root, u, src, dst);
      });
    });
    this.#emit({ kind: 'folders', user: u });
  }

  async setSubscribed(user: string, name: string, subscribed: boolean): Promise<void> {
    // A subscription may name a folder that does not exist (RFC 3501 6.3.6); only the name is checked.
    this.#index.setSubscribed(this.#user(user), canonicalFolderName(name), subscribed);
  }

  async listSubscriptions(user: string): Promise<string[]> {
    return this.#index.subscriptions(this.#user(user));
  }

  // ---- messages ----

  async sync(user: string, folder: string): Promise<FolderSnapshot> {
    const u = this.#user(user);
    const name = canonicalFolderName(folder);
    return this.#mutex.run([folderKey(u, name)], async () => {
      const state = await this.#state(u, name);
      await this.#sync(state);
      return { info: this.#info(state), messages: state.messages() };
    });
  }

  async rebuild(user: string, folder: string): Promise<FolderSnapshot> {
    const u = this.#user(user);
    const name = canonicalFolderName(folder);
    return this.#mutex.run([folderKey(u, name)], async () => {
      const old = await this.#state(u, name);
      const gone = [...old.records()].map((r) => r.uid);
      this.#index.deleteFolder(old.id);
      this.#forget(u, name);
      const state = await this.#state(u, name); // a new row, a new UIDVALIDITY
      await this.#sync(state, true);
      if (gone.length > 0) this.#emit({ kind: 'expunged', user: u, folder: name, uids: gone });
      return { info: this.#info(state), messages: state.messages() };
    });
  }

  async read(user: string, folder: string, uid: number): Promise<Buffer> {
    const u = this.#user(user);
    const name = canonicalFolderName(folder);
    const state = this.#open.peek(u, name) ?? (await this.#mutex.run([folderKey(u, name)], () => this.#state(u, name)));
    const rec = state.byUid(uid);
    if (!rec) throw noMessage(uid);
    try {
      return await readMessage(state.pathOf(rec), rec.size);
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    // Renamed meanwhile (a flag change by a session or another program): look again, under the lock.
    return this.#mutex.run([folderKey(u, name)], async () => {
      const current = await this.#state(u, name);
      const now = current.byUid(uid);
      if (!now) throw noMessage(uid);
      try {
        return await readMessage(current.pathOf(now), now.size);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
      current.curStable = false; // let the next sync see what happened to cur/
      const file = locateFile(current, new Set([now.base])).get(now.base);
      if (!file) throw noMessage(uid);
      return readMessage(join(current.dir, 'cur', file), now.size);
    });
  }

  async setFlags(
    user: string,
    folder: string,
    uids: number[],
    mode: 'set' | 'add' | 'remove',
    flags: string[],
    unchangedSince?: number,
  ): Promise<{ updated: StoredMessage[]; failed: number[] }> {
    const u = this.#user(user);
    const name = canonicalFolderName(folder);
    const change = parseFlags(flags);
    let changedUids: number[] = [];
    const result = await this.#mutex.run([folderKey(u, name)], async () => {
      const state = await this.#state(u, name);
      const modseq = state.highestModseq + 1;
      const failed: number[] = [];
      const changed: Array<{ old: MessageRecord; rec: MessageRecord }> = [];
      for (const uid of sortedUnique(uids)) {
        const old = state.byUid(uid);
        if (!old) continue;
        if (unchangedSince !== undefined && old.modseq > unchangedSince) {
          failed.push(uid);
          continue;
        }
        const next = changeFlags({ bits: old.bits, keywords: old.keywords as string[] }, mode, change);
        if (sameFlags({ bits: old.bits, keywords: old.keywords as string[] }, next)) continue; // no change, no new MODSEQ
        const info = next.bits === old.bits ? old.info : infoForBits(next.bits, old.info);
        changed.push({ old, rec: changedRecord(old, { info, bits: next.bits, keywords: next.keywords, modseq }) });
      }
      // The system flags are in the file names: rename first, then write the index.
      const done = await ownCurChange(state, () => renameFlagFiles(state, changed));
      if (done.length > 0) {
        this.#index.transaction(() => {
          for (const { rec } of done) this.#index.updateMessage(state.id, rec.uid, rec.info, rec.bits, rec.keywords.join(' '), modseq);
          this.#index.setCounters(state.id, state.uidNext, modseq);
        });
        for (const { rec } of done) state.put(rec);
        state.highestModseq = modseq;
      }
      changedUids = done.map((c) => c.rec.uid).sort((a, b) => a - b);
      return { updated: changedUids.map((uid) => state.byUid(uid)!.view), failed };
    });
    if (changedUids.length > 0) this.#emit({ kind: 'flags', user: u, folder: name, uids: changedUids });
    return result;
  }

  async append(user: string, folder: string, data: Buffer, flags: string[], internalDate?: number): Promise<{ uidValidity: number; uid: number }> {
    const u = this.#user(user);
    const name = canonicalFolderName(folder);
    const parsed = parseFlags(flags);
    const date = internalDate ?? Date.now();
    if (!Number.isFinite(date)) throw new MailStoreError('CANNOT', 'invalid internal date');
    const result = await this.#mutex.run([folderKey(u, name)], async () => {
      const state = await this.#state(u, name);
      await this.#checkQuota(u, data.length);
      const base = newBase(date, data.length);
      const info = infoForBits(parsed.bits);
      await ownCurChange(state, () => writeMessage(state.dir, base, info, data, date));
      const rec = makeRecord({ uid: state.uidNext, base, info, bits: parsed.bits, keywords: parsed.keywords, internalDate: date, size: data.length, modseq: state.highestModseq + 1 });
      this.#insert(state, [rec]);
      return { uidValidity: state.uidValidity, uid: rec.uid };
    });
    await this.#addUsage(u, data.length);
    this.#emit({ kind: 'added', user: u, folder: name });
    return result;
  }

  async copy(user: string, from: string, uids: number[], to: string): Promise<{ uidValidity: number; mapping: Array<[number, number]> }> {
    const u = this.#user(user);
    const source = canonicalFolderName(from);
    const target = canonicalFolderName(to);
    let bytes = 0;
    const result = await this.#mutex.run([folderKey(u, source), folderKey(u, target)], async () => {
      const src = await this.#state(u, source);
      const dst = await this.#state(u, target);
      const recs = sortedUnique(uids).flatMap((uid) => src.byUid(uid) ?? []);
      if (recs.length === 0) return { uidValidity: dst.uidValidity, mapping: [] };
      bytes = recs.reduce((sum, r) => sum + r.size, 0);
      await this.#checkQuota(u, bytes);
      const copies = recs.map((old) => ({ old, base: newBase(old.internalDate, old.size), info: infoForBits(old.bits, old.info) }));
      await ownCurChange(dst, () => copyFiles(src, dst, copies));
      const modseq = dst.highestModseq + 1;
      const added = copies.map((c, i) => changedRecord(c.old, { uid: dst.uidNext + i, base: c.base, info: c.info, modseq }));
      this.#insert(dst, added);
      return { uidValidity: dst.uidValidity, mapping: recs.map((r, i): [number, number] => [r.uid, added[i]!.uid]) };
    });
    if (result.mapping.length > 0) {
      await this.#addUsage(u, bytes);
      this.#emit({ kind: 'added', user: u, folder: target });
    }
    return result;
  }

  async expunge(user: string, folder: string, uids?: number[]): Promise<number[]> {
    const u = this.#user(user);
    const name = canonicalFolderName(folder);
    let bytes = 0;
    const removed = await this.#mutex.run([folderKey(u, name)], async () => {
      const state = await this.#state(u, name);
      const recs = uids ? sortedUnique(uids).flatMap((uid) => state.byUid(uid) ?? []) : [...state.records()].filter((r) => r.bits & DELETED);
      if (recs.length === 0) return [];
      await ownCurChange(state, () => unlinkFiles(state, recs));
      const modseq = state.highestModseq + 1;
      this.#index.transaction(() => {
        for (const rec of recs) this.#index.deleteMessage(state.id, rec.uid);
        this.#index.setCounters(state.id, state.uidNext, modseq);
      });
      for (const rec of recs) state.remove(rec);
      state.highestModseq = modseq;
      bytes = recs.reduce((sum, r) => sum + r.size, 0);
      return recs.map((r) => r.uid);
    });
    if (removed.length > 0) {
      await this.#addUsage(u, -bytes);
      this.#emit({ kind: 'expunged', user: u, folder: name, uids: removed });
    }
    return removed;
  }

  async quota(user: string): Promise<{ usage: number; limit?: number }> {
    const u = this.#user(user);
    const [usage, account] = await Promise.all([this.#directory.getUsage(u), this.#directory.getUser(u)]);
    return account?.quotaBytes != null ? { usage, limit: account.quotaBytes } : { usage };
  }

  // ---- changes ----

  watch(user: string, listener: (change: FolderChange) => void): () => void {
    return this.#notifier.watch(this.#user(user), listener);
  }

  notifyDelivered(user: string, folder: string): void {
    let name: string;
    try {
      name = canonicalFolderName(folder);
    } catch {
      return; // the core's delivery never writes a folder of such a name
    }
    const u = user.toLowerCase();
    // Belt and braces for the mtime check: the next sync of this folder lists new/.
    const state = this.#open.peek(u, name);
    if (state) state.newStable = false;
    this.#emit({ kind: 'added', user: u, folder: name });
  }

  // ---- internals ----

  /** The user's key: the address, lower-cased as the directory stores it, safe as a path. */
  #user(user: string): string {
    try {
      this.#mailboxes.pathOf(user);
    } catch {
      throw new MailStoreError('BAD_NAME', `invalid mailbox ${JSON.stringify(user)}`);
    }
    return user.toLowerCase();
  }

  /** The user's Maildir root, with the default folders created (and subscribed, the first time ever). */
  #root(user: string): Promise<string> {
    let root = this.#roots.get(user);
    if (!root) {
      root = this.#mailboxes.open(user).then((maildir) => {
        if (this.#index.addUser(user)) for (const name of [INBOX, ...this.#defaults]) this.#index.setSubscribed(user, name, true);
        return maildir.root;
      });
      root.catch(() => this.#roots.delete(user));
      this.#roots.set(user, root);
    }
    return root;
  }

  /** The open folder (open-folders.ts), the user's Maildir made ready first. */
  async #state(user: string, name: string): Promise<FolderState> {
    return this.#open.open(user, name, await this.#root(user));
  }

  #forget(user: string, name: string): void {
    this.#open.forget(user, name);
  }

  /** Sync one folder and tell the watchers; a folder found gone is dropped from the index. */
  async #sync(state: FolderState, full = false): Promise<SyncChanges> {
    let changes: SyncChanges;
    try {
      changes = await syncFolder(state, this.#index, full);
    } catch (err) {
      if (err instanceof MailStoreError && err.code === 'NO_SUCH_FOLDER') {
        this.#index.deleteFolder(state.id);
        this.#forget(state.user, state.name);
      }
      throw err;
    }
    const { user, name: folder } = state;
    if (changes.vanishedBytes > 0) await this.#addUsage(user, -changes.vanishedBytes);
    if (changes.expunged.length > 0) this.#emit({ kind: 'expunged', user, folder, uids: changes.expunged });
    if (changes.flagged.length > 0) this.#emit({ kind: 'flags', user, folder, uids: changes.flagged });
    if (changes.added.length > 0) this.#emit({ kind: 'added', user, folder });
    return changes;
  }

  #info(state: FolderState): FolderInfo {
    return folderInfo(state.name, stateRow(state), state.size, state.unseen(), this.#index.isSubscribed(state.user, state.name), this.#index.hasChildren(state.user, state.name));
  }

  /** Add new messages (UIDs from uidNext, one new MODSEQ) to the index and the open folder. */
  #insert(state: FolderState, recs: readonly MessageRecord[]): void {
    const modseq = state.highestModseq + 1;
    const uidNext = state.uidNext + recs.length;
    this.#index.transaction(() => {
      for (const r of recs) {
        this.#index.insertMessage(state.id, r.uid, { base: r.base, info: r.info, flags: r.bits, keywords: r.keywords.join(' '), internal_date: r.internalDate, size: r.size, modseq });
      }
      this.#index.setCounters(state.id, uidNext, modseq);
    });
    for (const r of recs) state.put(r);
    state.uidNext = uidNext;
    state.highestModseq = modseq;
  }

  async #makeFolder(root: string, user: string, name: string) {
    if (await makeFolder(root, name)) {
      // A row left from a folder removed behind the index's back must not lend its UIDVALIDITY.
      const stale = this.#index.folder(user, name);
      if (stale) this.#index.deleteFolder(stale.id);
      this.#forget(user, name);
    }
    return this.#index.ensureFolder(user, name);
  }

  /** Rename one folder (not INBOX): its directory, its row (new UIDVALIDITY), its subscription. */
  async #moveFolder(root: string, user: string, from: string, to: string): Promise<void> {
    await renameFolderDir(root, from, to);
    const stale = this.#index.folder(user, to);
    const row = this.#index.folder(user, from);
    this.#index.transaction(() => {
      if (stale) this.#index.deleteFolder(stale.id);
      if (row) this.#index.renameFolder(user, row.id, to);
      if (this.#index.isSubscribed(user, from)) {
        this.#index.setSubscribed(user, from, false);
        this.#index.setSubscribed(user, to, true);
      }
    });
    this.#forget(user, from);
    this.#forget(user, to);
  }

  /** RFC 3501 6.3.5: INBOX's messages move to a new folder (keeping their UIDs under its new UIDVALIDITY); INBOX stays, empty. */
  async #renameInbox(root: string, user: string, target: string): Promise<void> {
    const inbox = await this.#state(user, INBOX);
    await this.#sync(inbox);
    const row = await this.#makeFolder(root, user, target);
    const targetCur = join(folderDir(root, target), 'cur');
    const recs = [...inbox.records()];
    const moved = await ownCurChange(inbox, () =>
      inBatches(recs, (rec) => {
        try {
          renameSync(inbox.pathOf(rec), join(targetCur, rec.base + rec.info));
          return true;
        } catch (err) {
          if (isMissing(err)) return false;
          throw err;
        }
      }),
    );
    const movedSet = new Set(moved);
    const modseq = inbox.highestModseq + 1;
    this.#index.transaction(() => {
      for (const rec of recs) if (!movedSet.has(rec)) this.#index.deleteMessage(inbox.id, rec.uid);
      this.#index.moveMessages(inbox.id, row.id);
      this.#index.setCounters(row.id, inbox.uidNext, modseq);
      this.#index.setCounters(inbox.id, inbox.uidNext, modseq);
    });
    inbox.clear();
    inbox.highestModseq = modseq;
    this.#forget(user, target);
    if (recs.length > 0) this.#emit({ kind: 'expunged', user, folder: INBOX, uids: recs.map((r) => r.uid) });
  }

  async #checkQuota(user: string, bytes: number): Promise<void> {
    const account = await this.#directory.getUser(user);
    if (account?.quotaBytes == null) return;
    const usage = await this.#directory.getUsage(user);
    if (usage + bytes > account.quotaBytes) throw new MailStoreError('OVER_QUOTA', 'Quota exceeded');
  }

  /** Usage is accounting: failing to record it must not fail a change that already happened. */
  async #addUsage(user: string, bytes: number): Promise<void> {
    if (bytes === 0) return;
    try {
      await this.#directory.addUsage(user, bytes);
    } catch (err) {
      this.#log?.warn({ err, user, bytes }, 'cannot update mailbox usage');
    }
  }

  #emit(change: FolderChange): void {
    this.#notifier.emit(change);
  }
}

function folderInfo(
  name: string,
  row: { uidvalidity: number; uidnext: number; highestmodseq: number },
  messages: number,
  unseen: number,
  subscribed: boolean,
  hasChildren: boolean,
): FolderInfo {
  const info: FolderInfo = { name, uidValidity: row.uidvalidity, uidNext: row.uidnext, highestModseq: row.highestmodseq, messages, unseen, subscribed, hasChildren };
  const specialUse = specialUseOf(name);
  if (specialUse) info.specialUse = specialUse;
  return info;
}

function stateRow(state: FolderState): FolderRow {
  return { id: state.id, name: state.name, uidvalidity: state.uidValidity, uidnext: state.uidNext, highestmodseq: state.highestModseq };
}

function sortedUnique(uids: readonly number[]): number[] {
  return [...new Set(uids)].sort((a, b) => a - b);
}

