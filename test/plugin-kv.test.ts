import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteKvStore } from '../core/src/plugin-host/sqlite-kv-store.js';
import { openDatabase } from '../core/src/store/database.js';

test('SqliteKvStore: namespaces apart, expiry honoured, delete, and the data survives reopening', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'postern-kv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let now = 1_000_000;
  const db = openDatabase(dir);
  const kv = new SqliteKvStore(db, () => now);

  await kv.set('greylist', 'k', '"a"');
  await kv.set('other', 'k', '"b"');
  await kv.set('greylist', 'ttl', '1', 1000);
  assert.equal(await kv.get('greylist', 'k'), '"a"');
  assert.equal(await kv.get('other', 'k'), '"b"', 'a plugin cannot see another namespace');
  assert.equal(await kv.get('greylist', 'ttl'), '1');
  now += 1000;
  assert.equal(await kv.get('greylist', 'ttl'), undefined, 'expired at its TTL');
  await kv.set('greylist', 'k', '"c"');
  assert.equal(await kv.get('greylist', 'k'), '"c"', 'set replaces');
  await kv.delete('greylist', 'k');
  assert.equal(await kv.get('greylist', 'k'), undefined);
  await kv.set('greylist', 'kept', '42');
  db.close();

  const again = new SqliteKvStore(openDatabase(dir), () => now);
  assert.equal(await again.get('greylist', 'kept'), '42');
});
