/**
 * The embedded mail store (core/src/mailstore/) on real Maildir files and a real SQLite index:
 * folders, UIDs for deliveries, flags in file names, MODSEQs, APPEND/COPY/EXPUNGE with quota
 * accounting, DELETE/RENAME, rebuilding the index, name validation, watchers, and timings of a
 * 10,000-message folder (printed, not asserted).
 */
import assert from 'node:assert/strict';
import { existsSync, linkSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MailboxStore } from '../core/src/delivery/mailbox-store.js';
import { maildirName } from '../core/src/delivery/maildir.js';
import { SqliteDirectory } from '../core/src/directory/sqlite-directory.js';
import { canonicalFolderName, folderNameFromDir } from '../core/src/mailstore/folder-names.js';
import { createMailStore } from '../core/src/mailstore/index.js';
import { MailStoreError, type FolderChange, type MailStore } from '../core/src/mailstore/mail-store.js';
import { openDatabase, type Db } from '../core/src/store/database.js';
import { tempDir } from './support/tmp.js';

const USER = 'ann@example.com';
const FOLDERS = ['INBOX', 'Sent', 'Drafts', 'Junk', 'Trash', 'Archive'];

interface Fixture {
  dataDir: string;
  db: Db;
  directory: SqliteDirectory;
  store: MailStore;
  /** The user's Maildir root. */
  root: string;
  /** A second store on the same files and database: the server after a restart. */
  reopen(): MailStore;
  /** Deliver like the core does (Maildir.deliver into new/); returns the file name. */
  deliver(data: Buffer, receivedAt?: number, folder?: string): Promise<string>;
}

async function fixture(t: TestContext, quotaBytes: number | null = null): Promise<Fixture> {
  const dataDir = await tempDir(t, 'postern-mailstore-');
  const db = openDatabase(dataDir);
  const directory = new SqliteDirectory(db);
  t.after(() => db.close());
  await directory.addDomain('example.com');
  await directory.addUser(USER, 'correct horse battery', { quotaBytes });
  const make = () => createMailStore({ db, dataDir, folders: FOLDERS, directory });
  const mailboxes = new MailboxStore(dataDir, FOLDERS);
  let seq = 0;
  return {
    dataDir,
    db,
    directory,
    store: make(),
    root: join(dataDir, 'mail', 'example.com', 'ann'),
    reopen: make,
    async deliver(data, receivedAt = Date.now(), folder = 'INBOX') {
      const maildir = await mailboxes.open(USER);
      const name = maildirName(receivedAt, `Q${String(seq++).padStart(6, '0')}`, 'mx.example.com', data.length);
      await maildir.deliver(folder, name, data, false);
      return name;
    },
  };
}

const message = (n: number, extra = '') => Buffer.from(`From: a@example.org\r\nSubject: message ${n}\r\n\r\nbody ${n}${extra}\r\n`);

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof MailStoreError, `expected a MailStoreError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

function curFiles(dir: string): string[] {
  return readdirSync(join(dir, 'cur')).sort();
}

test('the default folders exist with SPECIAL-USE, INBOX first, subscribed; CREATE makes the superior levels', async (t) => {
  const { store, root } = await fixture(t);
  const folders = await store.listFolders(USER);
  assert.deepEqual(
    folders.map((f) => [f.name, f.specialUse, f.subscribed]),
    [
      ['INBOX', undefined, true],
      ['Archive', '\\Archive', true],
      ['Drafts', '\\Drafts', true],
      ['Junk', '\\Junk', true],
      ['Sent', '\\Sent', true],
      ['Trash', '\\Trash', true],
    ],
  );
  assert.equal(new Set(folders.map((f) => f.uidValidity)).size, folders.length, 'every folder has its own UIDVALIDITY');
  for (const f of folders) assert.deepEqual([f.uidNext, f.messages, f.unseen, f.hasChildren], [1, 0, 0, false]);
  assert.ok(existsSync(join(root, '.Sent', 'cur')) && existsSync(join(root, '.Sent', 'maildirfolder')));

  const created = await store.createFolder(USER, 'Work/2026');
  assert.equal(created.name, 'Work/2026');
  assert.equal(created.subscribed, false);
  assert.ok(existsSync(join(root, '.Work.2026', 'new')) && existsSync(join(root, '.Work', 'tmp')));
  const work = (await store.listFolders(USER)).find((f) => f.name === 'Work');
  assert.equal(work?.hasChildren, true);
  await rejectsWith(store.createFolder(USER, 'Work/2026'), 'FOLDER_EXISTS');
  await rejectsWith(store.createFolder(USER, 'inbox'), 'FOLDER_EXISTS');
  await rejectsWith(store.sync(USER, 'Nope'), 'NO_SUCH_FOLDER');

  await store.setSubscribed(USER, 'Work/2026', true);
  await store.setSubscribed(USER, 'Junk', false);
  const after = new Map((await store.listFolders(USER)).map((f) => [f.name, f.subscribed]));
  assert.equal(after.get('Work/2026'), true);
  assert.equal(after.get('Junk'), false);
  assert.equal((await store.sync(USER, 'inbox')).info.name, 'INBOX', 'INBOX is case-insensitive');
});

test("a file the core's Maildir delivers gets the next UID at sync and moves from new/ to cur/", async (t) => {
  const { store, root, deliver } = await fixture(t);
  const empty = await store.sync(USER, 'INBOX');
  assert.deepEqual([empty.info.uidNext, empty.messages.length], [1, 0]);

  const t0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  // Written out of time order: the UIDs follow the times in the names.
  const late = await deliver(message(2), t0 + 1000);
  const early = await deliver(message(1), t0);
  assert.deepEqual(readdirSync(join(root, 'new')).sort(), [early, late].sort());

  const snap = await store.sync(USER, 'INBOX');
  assert.deepEqual(
    snap.messages.map((m) => [m.uid, m.internalDate, m.size, m.flags]),
    [
      [1, t0, message(1).length, []],
      [2, t0 + 1000, message(2).length, []],
    ],
  );
  assert.deepEqual([snap.info.uidNext, snap.info.messages, snap.info.unseen], [3, 2, 2]);
  assert.deepEqual(readdirSync(join(root, 'new')), []);
  assert.deepEqual(curFiles(root), [`${early}:2,`, `${late}:2,`].sort());
  assert.ok((await store.read(USER, 'INBOX', 1)).equals(message(1)));

  // The next delivery gets the next UID; nothing else changes.
  await deliver(message(3), t0 - 5000);
  const next = await store.sync(USER, 'INBOX');
  assert.deepEqual(next.messages.map((m) => m.uid), [1, 2, 3]);
  assert.equal(next.info.uidValidity, snap.info.uidValidity);
  assert.ok(next.info.highestModseq > snap.info.highestModseq);
  assert.ok((await store.read(USER, 'INBOX', 3)).equals(message(3)));
  await rejectsWith(store.read(USER, 'INBOX', 99), 'NO_SUCH_MESSAGE');

  // A delivery into another folder, as a plugin routing to Junk would make.
  await deliver(message(4), t0, 'Junk');
  assert.deepEqual((await store.sync(USER, 'Junk')).messages.map((m) => m.uid), [1]);
});

test('setFlags renames the file, raises MODSEQ, keeps keywords in the index, honours UNCHANGEDSINCE', async (t) => {
  const { store, root, reopen } = await fixture(t);
  const { uid } = await store.append(USER, 'INBOX', message(1), []);
  const [before] = (await store.sync(USER, 'INBOX')).messages;
  const start = (await store.sync(USER, 'INBOX')).info.highestModseq;

  const r1 = await store.setFlags(USER, 'INBOX', [uid], 'add', ['\\seen', '\\Flagged', '$Work', '\\Recent']);
  assert.deepEqual(r1.failed, []);
  assert.deepEqual(r1.updated.map((m) => m.flags), [['\\Seen', '\\Flagged', '$Work']]);
  assert.ok(r1.updated[0]!.modseq > before!.modseq);
  assert.match(curFiles(root)[0]!, /:2,FS$/);
  const s1 = await store.sync(USER, 'INBOX');
  assert.equal(s1.info.highestModseq, r1.updated[0]!.modseq);
  assert.ok(s1.info.highestModseq > start);
  assert.equal(s1.info.unseen, 0);

  // Keywords are not in the name: the file keeps its name, the MODSEQ still moves.
  const r2 = await store.setFlags(USER, 'INBOX', [uid], 'remove', ['$work']);
  assert.deepEqual(r2.updated[0]!.flags, ['\\Seen', '\\Flagged']);
  assert.ok(r2.updated[0]!.modseq > r1.updated[0]!.modseq);
  assert.match(curFiles(root)[0]!, /:2,FS$/);

  // No change, no new MODSEQ.
  const r3 = await store.setFlags(USER, 'INBOX', [uid, 777], 'add', ['\\Seen']);
  assert.deepEqual(r3, { updated: [], failed: [] });

  // UNCHANGEDSINCE below the message's MODSEQ: refused and listed.
  const modseq = r2.updated[0]!.modseq;
  const r4 = await store.setFlags(USER, 'INBOX', [uid], 'set', ['\\Answered'], modseq - 1);
  assert.deepEqual(r4, { updated: [], failed: [uid] });
  const r5 = await store.setFlags(USER, 'INBOX', [uid], 'set', ['\\Answered', '\\Draft', '\\Deleted', 'Later'], modseq);
  assert.deepEqual(r5.updated[0]!.flags, ['\\Answered', '\\Deleted', '\\Draft', 'Later']);
  assert.match(curFiles(root)[0]!, /:2,DRT$/);
  await rejectsWith(store.setFlags(USER, 'INBOX', [uid], 'add', ['\\Bogus']), 'CANNOT');
  await rejectsWith(store.setFlags(USER, 'INBOX', [uid], 'add', ['bad keyword']), 'CANNOT');

  // Another program (a Maildir reader) changes the flags in the name: sync picks them up.
  const file = curFiles(root)[0]!;
  renameSync(join(root, 'cur', file), join(root, 'cur', file.replace(/:2,.*$/, ':2,RS')));
  const s2 = await store.sync(USER, 'INBOX');
  assert.deepEqual(s2.messages[0]!.flags, ['\\Seen', '\\Answered', 'Later']);
  assert.ok(s2.info.highestModseq > r5.updated[0]!.modseq);
  assert.ok((await store.read(USER, 'INBOX', uid)).equals(message(1)));

  // All of it is in SQLite: a restarted server sees the same.
  const again = await reopen().sync(USER, 'INBOX');
  assert.deepEqual(again.messages, s2.messages);
  assert.deepEqual(again.info, s2.info);
});

test('append/read round-trip the bytes exactly; the internal date is kept in the name and the mtime', async (t) => {
  const { store, root } = await fixture(t);
  const binary = Buffer.concat([Buffer.from('Subject: bytes\r\n\r\n'), Buffer.from([0, 1, 2, 13, 10, 13, 0xff, 0xfe, 10, 10]), Buffer.alloc(300_000, 0x61)]);
  const date = Date.UTC(2020, 5, 15, 12, 0, 0, 250);
  const a = await store.append(USER, 'Drafts', binary, ['\\Draft', '$Label1'], date);
  const b = await store.append(USER, 'Drafts', message(2), []);
  assert.deepEqual([a.uid, b.uid], [1, 2]);
  assert.equal(a.uidValidity, (await store.sync(USER, 'Drafts')).info.uidValidity);
  assert.ok((await store.read(USER, 'Drafts', 1)).equals(binary));
  assert.ok((await store.read(USER, 'Drafts', 2)).equals(message(2)));
  const snap = await store.sync(USER, 'Drafts');
  assert.deepEqual(snap.messages.map((m) => [m.uid, m.size, m.flags]), [
    [1, binary.length, ['\\Draft', '$Label1']],
    [2, message(2).length, []],
  ]);
  assert.equal(snap.messages[0]!.internalDate, date);
  assert.ok(Math.abs(snap.messages[1]!.internalDate - Date.now()) < 5000);
  const file = curFiles(join(root, '.Drafts')).find((n) => n.endsWith(':2,D'))!;
  assert.equal(Math.round(statSync(join(root, '.Drafts', 'cur', file)).mtimeMs), date);
  assert.deepEqual(readdirSync(join(root, '.Drafts', 'tmp')), []);
  assert.equal((await store.quota(USER)).usage, binary.length + message(2).length);
  await rejectsWith(store.append(USER, 'Nope', message(3), []), 'NO_SUCH_FOLDER');
});

test('copy and expunge keep the usage right; OVER_QUOTA refuses what does not fit', async (t) => {
  const { store, root, directory } = await fixture(t, 1000);
  const body = Buffer.alloc(300, 0x62);
  await store.append(USER, 'INBOX', body, ['\\Seen', 'Important']);
  assert.deepEqual(await store.quota(USER), { usage: 300, limit: 1000 });

  const c1 = await store.copy(USER, 'INBOX', [1, 42], 'Archive');
  const archive = await store.sync(USER, 'Archive');
  assert.deepEqual(c1, { uidValidity: archive.info.uidValidity, mapping: [[1, 1]] });
  assert.deepEqual(archive.messages[0]!.flags, ['\\Seen', 'Important']);
  assert.equal(archive.messages[0]!.internalDate, (await store.sync(USER, 'INBOX')).messages[0]!.internalDate);
  assert.ok((await store.read(USER, 'Archive', 1)).equals(body));
  assert.match(curFiles(join(root, '.Archive'))[0]!, /:2,S$/);
  assert.notEqual(curFiles(join(root, '.Archive'))[0], curFiles(root)[0], 'a copy has a name of its own');
  assert.equal(await directory.getUsage(USER), 600);

  await store.copy(USER, 'Archive', [1], 'Archive'); // COPY into the same folder is allowed
  assert.equal(await directory.getUsage(USER), 900);
  await rejectsWith(store.copy(USER, 'INBOX', [1], 'Sent'), 'OVER_QUOTA');
  await rejectsWith(store.append(USER, 'INBOX', Buffer.alloc(101), []), 'OVER_QUOTA');
  await rejectsWith(store.copy(USER, 'INBOX', [1], 'Nope'), 'NO_SUCH_FOLDER');
  assert.equal(await directory.getUsage(USER), 900);
  assert.equal((await store.sync(USER, 'Sent')).messages.length, 0);
  assert.deepEqual(readdirSync(join(root, '.Sent', 'tmp')), []);

  // EXPUNGE without UIDs removes the \Deleted ones; with UIDs, those.
  await store.setFlags(USER, 'Archive', [2], 'add', ['\\Deleted']);
  const modseq = (await store.sync(USER, 'Archive')).info.highestModseq;
  assert.deepEqual(await store.expunge(USER, 'Archive'), [2]);
  const left = await store.sync(USER, 'Archive');
  assert.deepEqual(left.messages.map((m) => m.uid), [1]);
  assert.ok(left.info.highestModseq > modseq);
  assert.equal(curFiles(join(root, '.Archive')).length, 1);
  assert.equal(await directory.getUsage(USER), 600);
  assert.deepEqual(await store.expunge(USER, 'Archive', [1, 5]), [1]);
  assert.deepEqual(await store.expunge(USER, 'Archive'), []);
  assert.equal(await directory.getUsage(USER), 300);
  assert.deepEqual(curFiles(join(root, '.Archive')), []);
  // The UIDs are never reused.
  assert.deepEqual((await store.copy(USER, 'INBOX', [1], 'Archive')).mapping, [[1, 3]]);
});

test('DELETE and RENAME; renaming INBOX moves its messages and leaves it empty', async (t) => {
  const { store, root, directory, deliver } = await fixture(t);
  await store.createFolder(USER, 'A/B');
  await store.append(USER, 'A', message(1), ['\\Seen']);
  await store.append(USER, 'A/B', message(2), []);
  await store.setSubscribed(USER, 'A/B', true);
  const uvA = (await store.sync(USER, 'A')).info.uidValidity;

  await rejectsWith(store.renameFolder(USER, 'A', 'Sent'), 'FOLDER_EXISTS');
  await rejectsWith(store.renameFolder(USER, 'Nope', 'X'), 'NO_SUCH_FOLDER');
  await rejectsWith(store.renameFolder(USER, 'A', 'A/C'), 'CANNOT');
  await rejectsWith(store.renameFolder(USER, 'A', 'inbox'), 'FOLDER_EXISTS');

  await store.renameFolder(USER, 'A', 'Projects/C');
  const names = (await store.listFolders(USER)).map((f) => f.name);
  assert.ok(names.includes('Projects') && names.includes('Projects/C') && names.includes('Projects/C/B'));
  assert.ok(!names.includes('A') && !names.includes('A/B'));
  assert.ok(existsSync(join(root, '.Projects.C.B', 'cur')) && !existsSync(join(root, '.A')));
  const c = await store.sync(USER, 'Projects/C');
  assert.notEqual(c.info.uidValidity, uvA, 'a renamed folder gets a new UIDVALIDITY');
  assert.deepEqual(c.messages.map((m) => [m.uid, m.flags]), [[1, ['\\Seen']]]);
  assert.ok((await store.read(USER, 'Projects/C/B', 1)).equals(message(2)));
  assert.ok((await store.listSubscriptions!(USER)).includes('Projects/C/B'), 'the subscription follows the rename');
  await rejectsWith(store.sync(USER, 'A'), 'NO_SUCH_FOLDER');

  // DELETE: not INBOX; the children stay; the usage goes down; a new folder of the name is new.
  await rejectsWith(store.deleteFolder(USER, 'INBOX'), 'CANNOT');
  await rejectsWith(store.deleteFolder(USER, 'Nope'), 'NO_SUCH_FOLDER');
  const usage = await directory.getUsage(USER);
  await store.deleteFolder(USER, 'Projects/C');
  assert.equal(await directory.getUsage(USER), usage - message(1).length);
  const after = (await store.listFolders(USER)).map((f) => f.name);
  assert.ok(!after.includes('Projects/C') && after.includes('Projects/C/B'));
  assert.ok(!existsSync(join(root, '.Projects.C')));
  const recreated = await store.createFolder(USER, 'Projects/C');
  assert.notEqual(recreated.uidValidity, c.info.uidValidity, 'never the UIDVALIDITY of the deleted folder');
  assert.equal((await store.sync(USER, 'Projects/C')).messages.length, 0);

  // RENAME INBOX: its messages (and their flags) move to the new folder, INBOX stays, empty.
  await store.createFolder(USER, 'INBOX/Child');
  await store.append(USER, 'INBOX', message(10), ['\\Flagged']);
  await deliver(message(11));
  const inbox = await store.sync(USER, 'INBOX');
  const changes: FolderChange[] = [];
  store.watch(USER, (change) => changes.push(change));
  await store.renameFolder(USER, 'INBOX', 'Old Inbox');
  const moved = await store.sync(USER, 'Old Inbox');
  assert.deepEqual(moved.messages.map((m) => [m.uid, m.flags]), inbox.messages.map((m) => [m.uid, m.flags]));
  assert.ok((await store.read(USER, 'Old Inbox', 1)).equals(message(10)));
  assert.ok((await store.read(USER, 'Old Inbox', 2)).equals(message(11)));
  const emptied = await store.sync(USER, 'INBOX');
  assert.deepEqual([emptied.messages.length, emptied.info.uidNext], [0, inbox.info.uidNext]);
  assert.deepEqual(curFiles(root), []);
  assert.ok((await store.listFolders(USER)).some((f) => f.name === 'INBOX/Child'), "INBOX's children stay");
  assert.ok(changes.some((ch) => ch.kind === 'expunged' && ch.folder === 'INBOX' && ch.uids.length === 2));
  assert.ok(changes.some((ch) => ch.kind === 'folders'));
  const next = await store.append(USER, 'INBOX', message(12), []);
  assert.equal(next.uid, inbox.info.uidNext, 'INBOX does not reuse the UIDs that moved away');
});

test('the index is rebuilt from the Maildir files: on demand and when its row is gone', async (t) => {
  const { store, db, reopen, deliver, root } = await fixture(t);
  const d1 = Date.UTC(2025, 2, 1);
  await store.append(USER, 'INBOX', message(1), ['\\Seen', '$Kw'], d1);
  await store.append(USER, 'INBOX', message(2), ['\\Flagged', '\\Answered'], d1 + 60_000);
  await deliver(message(3), d1 + 120_000);
  const before = await store.sync(USER, 'INBOX');
  assert.equal(before.messages.length, 3);

  const changes: FolderChange[] = [];
  store.watch(USER, (change) => changes.push(change));
  const rebuilt = await store.rebuild!(USER, 'INBOX');
  assert.ok(rebuilt.info.uidValidity > before.info.uidValidity);
  assert.deepEqual(
    rebuilt.messages.map((m) => [m.uid, m.internalDate, m.size, m.flags]),
    [
      [1, d1, message(1).length, ['\\Seen']], // keywords live only in the index
      [2, d1 + 60_000, message(2).length, ['\\Answered', '\\Flagged']],
      [3, d1 + 120_000, message(3).length, []],
    ],
  );
  assert.ok(changes.some((c) => c.kind === 'expunged' && c.uids.length === 3));
  for (const m of rebuilt.messages) assert.ok((await store.read(USER, 'INBOX', m.uid)).equals(message(m.uid)));

  // A lost index row (a restored database, a hand edit): the next sync rebuilds by itself, in a
  // running store as after a restart.
  const lose = () => db.prepare("DELETE FROM mail_folders WHERE user = ? AND name = 'INBOX'").run(USER);
  lose();
  await deliver(message(4), d1 + 180_000);
  const running = await store.sync(USER, 'INBOX');
  assert.ok(running.info.uidValidity > rebuilt.info.uidValidity);
  assert.deepEqual(running.messages.map((m) => m.uid), [1, 2, 3, 4]);
  lose();
  const fresh = await reopen().sync(USER, 'INBOX');
  assert.ok(fresh.info.uidValidity > running.info.uidValidity);
  assert.deepEqual(fresh.messages.map((m) => m.uid), [1, 2, 3, 4]);
  assert.deepEqual(fresh.messages.map((m) => m.internalDate), [d1, d1 + 60_000, d1 + 120_000, d1 + 180_000]);

  // Files that vanish behind the index's back are expunged at the next sync; foreign files in cur/ are indexed.
  const files = curFiles(root);
  const gone = files.find((f) => f.includes(',S=' + message(2).length) && f.endsWith(':2,FR'))!;
  renameSync(join(root, 'cur', gone), join(root, '..gone'));
  writeFileSync(join(root, 'cur', 'foreign-client-file:2,S'), message(5));
  utimesSync(join(root, 'cur', 'foreign-client-file:2,S'), (d1 + 240_000) / 1000, (d1 + 240_000) / 1000);
  const store2 = reopen();
  const seen: FolderChange[] = [];
  store2.watch(USER, (c) => seen.push(c));
  const s = await store2.sync(USER, 'INBOX');
  assert.deepEqual(s.messages.map((m) => [m.uid, m.flags, m.internalDate]).slice(-1), [[5, ['\\Seen'], d1 + 240_000]]);
  assert.ok(!s.messages.some((m) => m.uid === 2));
  assert.ok(seen.some((c) => c.kind === 'expunged' && c.uids.join() === '2'));
});

test('an unchanged folder is not listed again, yet changes by others are seen', async (t) => {
  const { store, root, deliver } = await fixture(t);
  await deliver(message(1));
  await store.sync(USER, 'INBOX');
  const long = Math.floor(Date.now() / 1000) - 120;
  const age = (dir: string, to = long) => utimesSync(join(root, dir), to, to);
  age('cur');
  age('new');
  await store.sync(USER, 'INBOX'); // lists both once more, then trusts their mtimes

  // Another program adds a file to cur/ and changes a name: cur/'s mtime moves, so sync looks.
  writeFileSync(join(root, 'cur', 'other-program-1:2,F'), message(2));
  const [file] = curFiles(root).filter((f) => !f.startsWith('other'));
  renameSync(join(root, 'cur', file!), join(root, 'cur', file!.replace(/:2,$/, ':2,S')));
  const s1 = await store.sync(USER, 'INBOX');
  assert.deepEqual(s1.messages.map((m) => [m.uid, m.flags]), [
    [1, ['\\Seen']],
    [2, ['\\Flagged']],
  ]);

  // A delivery whose new/ mtime looks unchanged (same clock tick) is still found after notifyDelivered.
  age('cur', long + 1);
  age('new', long + 1);
  await store.sync(USER, 'INBOX');
  await deliver(message(3));
  age('new', long + 1);
  assert.equal((await store.sync(USER, 'INBOX')).messages.length, 2, 'new/ looks untouched: not listed');
  store.notifyDelivered(USER, 'INBOX');
  assert.equal((await store.sync(USER, 'INBOX')).messages.length, 3);
});

test('names that could leave the Maildir are refused with BAD_NAME', async (t) => {
  const { store, dataDir } = await fixture(t);
  await store.append(USER, 'INBOX', message(1), []);
  const bad = ['../../etc', '/abs', 'a/../../b', '.hidden', 'a\u0000b', 'INBOX/../x', '', 'a/', 'a//b', 'a.b', '..', '.', 'tab\there', 'a\u007fb', '*', 'a%', 'x'.repeat(255)];
  for (const name of bad) {
    const what = JSON.stringify(name);
    await rejectsWith(store.createFolder(USER, name), 'BAD_NAME').catch((e) => assert.fail(`${what}: ${e}`));
    await rejectsWith(store.sync(USER, name), 'BAD_NAME');
    await rejectsWith(store.append(USER, name, message(2), []), 'BAD_NAME');
    await rejectsWith(store.deleteFolder(USER, name), 'BAD_NAME');
    await rejectsWith(store.renameFolder(USER, 'Sent', name), 'BAD_NAME');
    await rejectsWith(store.renameFolder(USER, name, 'Elsewhere'), 'BAD_NAME');
    await rejectsWith(store.copy(USER, 'INBOX', [1], name), 'BAD_NAME');
    await rejectsWith(store.setSubscribed(USER, name, true), 'BAD_NAME');
  }
  await rejectsWith(store.sync('../../etc@example.com', 'INBOX'), 'BAD_NAME');
  // Nothing was created anywhere but the user's own Maildir.
  assert.deepEqual(readdirSync(dataDir).sort(), ['mail', 'postern.db', 'postern.db-shm', 'postern.db-wal']);
  assert.deepEqual(readdirSync(join(dataDir, 'mail')), ['example.com']);
  assert.deepEqual(readdirSync(join(dataDir, 'mail', 'example.com')), ['ann']);

  assert.equal(canonicalFolderName('inbox/Sub'), 'INBOX/Sub');
  assert.equal(canonicalFolderName('Été/Privé'), 'Été/Privé');
  assert.equal(canonicalFolderName('x'.repeat(254)), 'x'.repeat(254));
  for (const entry of ['..', '..deleted-1', '.a..b', '.INBOX', '.inbox.x', 'cur', '.']) assert.equal(folderNameFromDir(entry), undefined, entry);
  assert.equal(folderNameFromDir('.A.B'), 'A/B');
});

test('watchers hear of deliveries and of changes made by any session; a failing watcher harms nobody', async (t) => {
  const { store } = await fixture(t);
  const other = await fixture(t); // another user: never told of ann's changes
  const mine: FolderChange[] = [];
  const theirs: FolderChange[] = [];
  const stop = store.watch('Ann@Example.com', (c) => mine.push(c));
  store.watch(USER, () => {
    throw new Error('a broken session');
  });
  other.store.watch(USER, (c) => theirs.push(c));
  const stopOther = store.watch('bob@example.com', (c) => theirs.push(c));

  store.notifyDelivered(USER, 'inbox');
  const { uid } = await store.append(USER, 'INBOX', message(1), []);
  await store.setFlags(USER, 'INBOX', [uid], 'add', ['\\Seen']);
  await store.copy(USER, 'INBOX', [uid], 'Trash');
  await store.expunge(USER, 'INBOX', [uid]);
  await store.createFolder(USER, 'New');
  await store.renameFolder(USER, 'New', 'Newer');
  await store.deleteFolder(USER, 'Newer');
  stop();
  await store.append(USER, 'INBOX', message(2), []);

  assert.deepEqual(mine, [
    { kind: 'added', user: USER, folder: 'INBOX' },
    { kind: 'added', user: USER, folder: 'INBOX' },
    { kind: 'flags', user: USER, folder: 'INBOX', uids: [uid] },
    { kind: 'added', user: USER, folder: 'Trash' },
    { kind: 'expunged', user: USER, folder: 'INBOX', uids: [uid] },
    { kind: 'folders', user: USER },
    { kind: 'folders', user: USER },
    { kind: 'folders', user: USER },
  ]);
  assert.deepEqual(theirs, [], 'other stores and other users are not told');
  stopOther();
});

test('concurrent APPENDs, deliveries and syncs never hand out a UID twice', async (t) => {
  const { store, deliver } = await fixture(t);
  const ops: Array<Promise<unknown>> = [];
  for (let i = 0; i < 30; i++) {
    ops.push(store.append(USER, 'INBOX', message(i), []));
    ops.push(deliver(message(100 + i)).then(() => store.sync(USER, 'INBOX')));
    if (i % 5 === 0) ops.push(store.setFlags(USER, 'INBOX', [1, 2, 3], 'add', ['\\Seen']));
  }
  await Promise.all(ops);
  const snap = await store.sync(USER, 'INBOX');
  assert.deepEqual(snap.messages.map((m) => m.uid), Array.from({ length: 60 }, (_, i) => i + 1));
  assert.equal(snap.info.uidNext, 61);
});

test('a folder of 10,000 messages: first sync, unchanged sync, STORE on all, restart (timings printed)', async (t) => {
  const { store, root, reopen } = await fixture(t);
  const N = 10_000;
  const body = message(0, ' '.repeat(200));
  const t0 = Date.UTC(2026, 0, 1);
  await store.listFolders(USER); // creates the Maildir
  // One file hard-linked 10,000 times: a delivery's worth of names without 10,000 writes.
  const written = performance.now();
  const source = join(root, 'tmp', 'source');
  writeFileSync(source, body);
  for (let i = 0; i < N; i++) linkSync(source, join(root, 'new', maildirName(t0 + i * 1000, `Q${i}`, 'mx.example.com', body.length)));
  unlinkSync(source);
  t.diagnostic(`linking ${N} files into new/: ${(performance.now() - written).toFixed(0)} ms`);

  // Wall time, and the process's CPU time (a busy host stretches the first, hardly the second).
  const ms = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const cpu = process.cpuUsage();
    const result = await fn();
    const used = process.cpuUsage(cpu);
    t.diagnostic(`${what}: ${(performance.now() - start).toFixed(1)} ms (cpu ${((used.user + used.system) / 1000).toFixed(1)} ms)`);
    return result;
  };
  const first = await ms('first sync (10,000 new files → cur/, UIDs, one transaction)', () => store.sync(USER, 'INBOX'));
  assert.equal(first.messages.length, N);
  assert.equal(first.messages[N - 1]!.uid, N);
  assert.equal(readdirSync(join(root, 'new')).length, 0);
  assert.equal(readFileSync(join(root, 'cur', readdirSync(join(root, 'cur'))[0]!)).length, body.length);

  await ms('sync while cur/ and new/ changed in the last 2 s (lists both)', () => store.sync(USER, 'INBOX'));
  // Age the directories as if the last change was a while ago: the next sync lists them once,
  // then trusts their mtimes.
  const past = (Date.now() - 60_000) / 1000;
  utimesSync(join(root, 'cur'), past, past);
  utimesSync(join(root, 'new'), past, past);
  await store.sync(USER, 'INBOX');
  const rounds = 20;
  const unchanged = performance.now();
  for (let i = 0; i < rounds; i++) await store.sync(USER, 'INBOX');
  t.diagnostic(`unchanged sync + all 10,000 rows: ${((performance.now() - unchanged) / rounds).toFixed(2)} ms each`);

  const stored = await ms('STORE 1:* +FLAGS (\\Seen) (10,000 renames, one transaction)', () =>
    store.setFlags(USER, 'INBOX', first.messages.map((m) => m.uid), 'add', ['\\Seen']),
  );
  assert.equal(stored.updated.length, N);
  await ms('unchanged sync after the STORE', () => store.sync(USER, 'INBOX'));

  const restarted = reopen();
  const again = await ms('restart: first sync, index loaded from SQLite and cur/ listed', () => restarted.sync(USER, 'INBOX'));
  assert.equal(again.info.unseen, 0);
  assert.equal(again.messages.length, N);
  const reads = performance.now();
  for (const m of again.messages.slice(0, 1000)) await restarted.read(USER, 'INBOX', m.uid);
  t.diagnostic(`read: ${((performance.now() - reads) / 1000).toFixed(3)} ms per message`);
  await ms('listFolders with 10,000 messages in INBOX', () => restarted.listFolders(USER));
});
