import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteDirectory } from '../core/src/directory/sqlite-directory.js';
import { ErrorCode, isPosternError } from '../core/src/errors.js';
import { openDatabase } from '../core/src/store/database.js';
import { migrate } from '../core/src/store/migrate.js';
import { MIGRATIONS } from '../core/src/store/migrations/index.js';

const PASSWORD = 'correct horse battery';

/** Asserts that `promise` rejects with a PosternError carrying `code`. */
async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isPosternError(err), `expected a PosternError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('SqliteDirectory', () => {
  let dir: string;
  let directory: SqliteDirectory;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-dir-'));
    directory = SqliteDirectory.open(dir);
    await directory.addDomain('Example.COM');
    await directory.addDomain('other.test');
    await directory.addUser('ann@example.com', PASSWORD, { displayName: 'Ann Lee', quotaBytes: 1000 });
    await directory.addUser('bob@example.com', PASSWORD);
    await directory.addUser('cy@other.test', PASSWORD);
  });

  after(async () => {
    await directory.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('passwords', () => {
    it('never stores the password in clear', () => {
      const db = new Database(join(dir, 'postern.db'), { readonly: true });
      try {
        const row = db.prepare('SELECT * FROM users WHERE address = ?').get('ann@example.com') as Record<string, unknown>;
        assert.match(String(row.password_hash), /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
        for (const value of Object.values(row)) assert.ok(!String(value).includes(PASSWORD));
      } finally {
        db.close();
      }
    });

    it('verifies the right password, whatever the address case', async () => {
      const user = await directory.verifyPassword('Ann@Example.com', PASSWORD);
      assert.equal(user?.address, 'ann@example.com');
      assert.equal(user?.displayName, 'Ann Lee');
    });

    it('refuses a wrong password and an unknown user alike', async () => {
      assert.equal(await directory.verifyPassword('ann@example.com', 'wrong password'), undefined);
      assert.equal(await directory.verifyPassword('nobody@example.com', PASSWORD), undefined);
      assert.equal(await directory.verifyPassword('not an address', PASSWORD), undefined);
    });

    it('spends a scrypt on unknown users too', async () => {
      const time = async (address: string) => {
        const start = process.hrtime.bigint();
        for (let i = 0; i < 3; i++) await directory.verifyPassword(address, 'wrong password');
        return Number(process.hrtime.bigint() - start);
      };
      await time('nobody@example.com'); // the dummy hash is made on first use
      const known = await time('ann@example.com');
      const unknown = await time('nobody@example.com');
      assert.ok(unknown > known * 0.3, `unknown ${unknown}ns vs known ${known}ns`);
    });

    it('changes a password', async () => {
      await directory.setPassword('bob@example.com', 'a new password');
      assert.equal(await directory.verifyPassword('bob@example.com', PASSWORD), undefined);
      assert.ok(await directory.verifyPassword('bob@example.com', 'a new password'));
      await directory.setPassword('bob@example.com', PASSWORD);
    });

    it('refuses short passwords', async () => {
      await rejectsWith(directory.addUser('short@example.com', 'abc'), ErrorCode.WEAK_PASSWORD);
      await rejectsWith(directory.setPassword('ann@example.com', ''), ErrorCode.WEAK_PASSWORD);
    });
  });

  describe('users and domains', () => {
    it('refuses a duplicate user and users of unknown domains', async () => {
      await rejectsWith(directory.addUser('ANN@example.com', PASSWORD), ErrorCode.USER_EXISTS);
      await rejectsWith(directory.addUser('x@nowhere.test', PASSWORD), ErrorCode.DOMAIN_NOT_FOUND);
      await rejectsWith(directory.addDomain('example.com'), ErrorCode.DOMAIN_EXISTS);
    });

    it('refuses local parts that are unsafe as folder names', async () => {
      for (const bad of ['../x@example.com', '.a@example.com', 'a.@example.com', 'a..b@example.com', 'a/b@example.com', 'noat', 'a@bad_domain.com']) {
        await rejectsWith(directory.addUser(bad, PASSWORD), ErrorCode.INVALID_ADDRESS);
      }
    });

    it('updates profile fields and quota', async () => {
      const user = await directory.updateUser('bob@example.com', { title: 'Ops', quotaBytes: 5000 });
      assert.equal(user.title, 'Ops');
      assert.equal(user.quotaBytes, 5000);
      const cleared = await directory.updateUser('bob@example.com', { title: null, quotaBytes: null });
      assert.equal(cleared.title, null);
      assert.equal(cleared.quotaBytes, null);
      await rejectsWith(directory.updateUser('bob@example.com', { quotaBytes: -1 }), ErrorCode.INVALID_QUOTA);
    });

    it('lists users per domain', async () => {
      assert.deepEqual((await directory.listUsers('example.com')).map((u) => u.address), ['ann@example.com', 'bob@example.com']);
      assert.equal((await directory.listUsers()).length, 3);
      assert.equal(await directory.isLocalDomain('EXAMPLE.com'), true);
      assert.equal(await directory.isLocalDomain('remote.test'), false);
    });

    it('refuses to remove a domain that still has users, unless forced', async () => {
      await directory.addDomain('gone.test');
      await directory.addUser('u@gone.test', PASSWORD);
      await directory.addAlias('a@gone.test', ['u@gone.test']);
      await rejectsWith(directory.removeDomain('gone.test'), ErrorCode.DOMAIN_NOT_EMPTY);
      await directory.removeDomain('gone.test', { force: true });
      assert.equal(await directory.getUser('u@gone.test'), undefined);
      assert.deepEqual(await directory.listAliases('other.test'), []);
      assert.equal(await directory.getDomain('gone.test'), undefined);
      await rejectsWith(directory.removeDomain('gone.test'), ErrorCode.DOMAIN_NOT_FOUND);
    });
  });

  describe('resolve', () => {
    it('sends non-local domains to relay', async () => {
      assert.deepEqual(await directory.resolve('someone@remote.test'), { kind: 'remote' });
      // Remote local parts are not ours to judge.
      assert.deepEqual(await directory.resolve("o'brien@remote.test"), { kind: 'remote' });
    });

    it('resolves a user, and an unknown local part to unknown', async () => {
      assert.deepEqual(await directory.resolve('Ann@Example.com'), { kind: 'local', mailboxes: ['ann@example.com'], remote: [] });
      assert.deepEqual(await directory.resolve('nobody@example.com'), { kind: 'unknown' });
    });

    it('expands an alias to two users and a remote target', async () => {
      await directory.addAlias('team@example.com', ['ann@example.com', 'bob@example.com', 'Friend@Remote.test']);
      assert.deepEqual(await directory.resolve('team@example.com'), {
        kind: 'local',
        mailboxes: ['ann@example.com', 'bob@example.com'],
        remote: ['friend@remote.test'],
      });
    });

    it('expands aliases recursively and deduplicates', async () => {
      await directory.addAlias('all@example.com', ['team@example.com', 'ann@example.com', 'cy@other.test']);
      assert.deepEqual(await directory.resolve('all@example.com'), {
        kind: 'local',
        mailboxes: ['ann@example.com', 'bob@example.com', 'cy@other.test'],
        remote: ['friend@remote.test'],
      });
    });

    it('refuses an alias that would loop, and survives a loop written behind its back', async () => {
      await directory.addAlias('loop-a@example.com', ['loop-b@example.com']);
      await rejectsWith(directory.addAlias('loop-b@example.com', ['loop-a@example.com']), ErrorCode.ALIAS_CONFLICT);
      await rejectsWith(directory.addAlias('self@example.com', ['self@example.com']), ErrorCode.ALIAS_CONFLICT);

      const db = new Database(join(dir, 'postern.db'));
      db.prepare('INSERT INTO aliases (source, domain, target) VALUES (?, ?, ?)').run('loop-b@example.com', 'example.com', 'loop-a@example.com');
      db.prepare('INSERT INTO aliases (source, domain, target) VALUES (?, ?, ?)').run('loop-b@example.com', 'example.com', 'bob@example.com');
      db.close();
      assert.deepEqual(await directory.resolve('loop-a@example.com'), { kind: 'local', mailboxes: ['bob@example.com'], remote: [] });
      await directory.removeAlias('loop-b@example.com', 'loop-a@example.com');
    });

    it('stops expanding after the depth limit', async () => {
      for (let i = 0; i < 12; i++) await directory.addAlias(`chain${i}@example.com`, [`chain${i + 1}@example.com`]);
      await directory.addAlias('chain12@example.com', ['ann@example.com']);
      assert.deepEqual(await directory.resolve('chain3@example.com'), { kind: 'local', mailboxes: ['ann@example.com'], remote: [] });
      assert.deepEqual(await directory.resolve('chain0@example.com'), { kind: 'unknown' });
    });

    it('keeps users and aliases apart', async () => {
      await rejectsWith(directory.addAlias('ann@example.com', ['bob@example.com']), ErrorCode.ALIAS_CONFLICT);
      await rejectsWith(directory.addUser('team@example.com', PASSWORD), ErrorCode.ALIAS_CONFLICT);
    });

    it('resolves plus-addressing to the base user or alias', async () => {
      assert.deepEqual(await directory.resolve('ann+lists@example.com'), { kind: 'local', mailboxes: ['ann@example.com'], remote: [] });
      assert.deepEqual((await directory.resolve('team+x@example.com')).kind, 'local');
      assert.deepEqual(await directory.resolve('nobody+x@example.com'), { kind: 'unknown' });
      // An exact match wins over the stripped one.
      await directory.addUser('ann+work@example.com', PASSWORD);
      assert.deepEqual(await directory.resolve('ann+work@example.com'), { kind: 'local', mailboxes: ['ann+work@example.com'], remote: [] });
    });

    it('uses the catch-all for unknown local parts, through aliases too', async () => {
      await directory.addAlias('postmaster@other.test', ['cy@other.test', 'ann@example.com']);
      await directory.setCatchAll('other.test', 'postmaster@other.test');
      assert.deepEqual(await directory.resolve('random@other.test'), {
        kind: 'local',
        mailboxes: ['cy@other.test', 'ann@example.com'],
        remote: [],
      });
      assert.deepEqual(await directory.resolve('cy@other.test'), { kind: 'local', mailboxes: ['cy@other.test'], remote: [] });
      assert.equal((await directory.getDomain('other.test'))?.catchAll, 'postmaster@other.test');
      // A catch-all pointing at a missing address in its own domain must not loop.
      await directory.setCatchAll('other.test', 'ghost@other.test');
      assert.deepEqual(await directory.resolve('random@other.test'), { kind: 'unknown' });
      await directory.setCatchAll('other.test', null);
      assert.deepEqual(await directory.resolve('random@other.test'), { kind: 'unknown' });
    });

    it('removes alias targets one at a time, then the alias', async () => {
      await directory.removeAlias('team@example.com', 'friend@remote.test');
      assert.deepEqual((await directory.listAliases('example.com')).find((a) => a.source === 'team@example.com')?.targets, [
        'ann@example.com',
        'bob@example.com',
      ]);
      await rejectsWith(directory.removeAlias('team@example.com', 'friend@remote.test'), ErrorCode.ALIAS_NOT_FOUND);
      await directory.removeAlias('Team@example.com');
      await rejectsWith(directory.removeAlias('team@example.com'), ErrorCode.ALIAS_NOT_FOUND);
    });
  });

  describe('quota usage', () => {
    it('tracks usage per user and never goes below zero', async () => {
      assert.equal(await directory.getUsage('ann@example.com'), 0);
      await directory.addUsage('ann@example.com', 700);
      await directory.addUsage('ANN@example.com', 200);
      assert.equal(await directory.getUsage('ann@example.com'), 900);
      await directory.addUsage('ann@example.com', -5000);
      assert.equal(await directory.getUsage('ann@example.com'), 0);
      assert.equal((await directory.getUser('ann@example.com'))?.quotaBytes, 1000);
      assert.equal(await directory.getUsage('nobody@example.com'), 0);
      await rejectsWith(directory.addUsage('nobody@example.com', 1), ErrorCode.USER_NOT_FOUND);
    });

    it('drops the usage with the user', async () => {
      await directory.addUser('temp@example.com', PASSWORD);
      await directory.addUsage('temp@example.com', 42);
      await directory.removeUser('temp@example.com');
      await directory.addUser('temp@example.com', PASSWORD);
      assert.equal(await directory.getUsage('temp@example.com'), 0);
      await directory.removeUser('temp@example.com');
      await rejectsWith(directory.removeUser('temp@example.com'), ErrorCode.USER_NOT_FOUND);
    });
  });
});

describe('openDatabase', () => {
  it('sets WAL and foreign keys, migrates once, and refuses a newer schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-db-'));
    try {
      const db = openDatabase(dir);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      db.close();
      openDatabase(dir).close(); // reopening runs nothing twice

      const raw = new Database(join(dir, 'postern.db'));
      raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
      assert.throws(
        () => migrate(raw, MIGRATIONS),
        (err: unknown) => isPosternError(err, ErrorCode.DATABASE_TOO_NEW),
      );
      raw.close();
      assert.throws(
        () => openDatabase(dir),
        (err: unknown) => isPosternError(err, ErrorCode.DATABASE_TOO_NEW),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies added migrations in order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-db-'));
    try {
      const extra = { version: MIGRATIONS.length + 1, name: 'test table', up: (d: Database.Database) => d.exec('CREATE TABLE t (x)') };
      const db = openDatabase(dir, { migrations: [...MIGRATIONS, extra] });
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length + 1);
      db.prepare('INSERT INTO t VALUES (1)').run();
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
