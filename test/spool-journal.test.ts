/**
 * The spool journal on its own: what `recover` returns after a stop at any point, torn records,
 * parked (deferred) messages, and reclaiming settled segments.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { Spool, type SpoolEnvelope } from '../core/src/spool/spool.js';
import { DirSync } from '../core/src/util/dir-sync.js';
import { newQueueId } from '../core/src/util/queue-id.js';

const silent = pino({ level: 'silent' });

function fixture(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'postern-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const open = async () => {
    const spool = new Spool(dir, new DirSync(), silent);
    await spool.init();
    return spool;
  };
  return { dir, open };
}

function envelope(n: number): SpoolEnvelope {
  return { id: newQueueId(), sender: 'a@example.test', recipients: [`u${n}@example.test`], receivedAt: Date.now() + n, client: { ip: '127.0.0.1', listener: 'mx' } };
}

const body = (n: number) => Buffer.from(`Subject: ${n}\r\n\r\nbody ${n}\r\n`);

test('recover returns exactly the stored messages that were not settled, byte for byte', async (t) => {
  const { open } = fixture(t);
  const first = await open();
  const envs = [0, 1, 2].map(envelope);
  await Promise.all(envs.map((e, i) => first.store(e, body(i))));
  await first.settle(envs[1]!.id);
  await first.close();

  const again = await open();
  const recovered = await again.recover();
  assert.deepEqual(recovered.map((m) => m.envelope.id), [envs[0]!.id, envs[2]!.id]);
  assert.ok(recovered[0]!.message.equals(body(0)));
  assert.ok(recovered[1]!.message.equals(body(2)));
  await again.close();
});

test('a torn record at the end of a segment (never acknowledged) is skipped, the rest recovered', async (t) => {
  const { dir, open } = fixture(t);
  const spool = await open();
  const env = envelope(0);
  await spool.store(env, body(0));
  await spool.close();
  const segment = readdirSync(join(dir, 'journal')).find((n) => n.endsWith('.journal'))!;
  appendFileSync(join(dir, 'journal', segment), `M ${newQueueId()} 500 9000\n{"id":"trunc`);

  const again = await open();
  const recovered = await again.recover();
  assert.deepEqual(recovered.map((m) => m.envelope.id), [env.id]);
  await again.close();
});

test('a parked message is recovered once, even when the journal still holds it (crash before the settle record)', async (t) => {
  const { dir, open } = fixture(t);
  const spool = await open();
  const env = envelope(0);
  await spool.store(env, body(0));
  await spool.park(env, body(0));
  // Simulate the crash: a journal that never got the settle record for it.
  const segDir = join(dir, 'journal');
  await spool.close();
  for (const name of readdirSync(segDir)) rmSync(join(segDir, name));
  const replay = await open();
  await replay.store(env, body(0));
  // Stop without settling: the journal holds the message and spool/deferred has it too.
  await replay.close();

  const again = await open();
  const recovered = await again.recover();
  assert.equal(recovered.length, 1);
  assert.equal(recovered[0]!.envelope.id, env.id);
  await again.settle(env.id);
  await again.close();
  const last = await open();
  assert.deepEqual(await last.recover(), [], 'settled after recovery: nothing left');
  await last.close();
});

test('a checkpoint deletes segments whose messages are all settled', async (t) => {
  const { dir, open } = fixture(t);
  const spool = await open();
  const envs = [0, 1].map(envelope);
  await Promise.all(envs.map((e, i) => spool.store(e, body(i))));
  for (const e of envs) await spool.settle(e.id);
  await spool.close(); // close = flush, roll, final checkpoint
  assert.deepEqual(readdirSync(join(dir, 'journal')), []);
});
