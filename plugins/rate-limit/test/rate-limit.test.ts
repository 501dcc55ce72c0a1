import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Stage } from '@postern/sdk';
import { createHarness } from '@postern/sdk/testing';
import type { DeepPartial, Harness, TestSession } from '@postern/sdk/testing';
import plugin from '../src/index.js';
import type { RateLimitOptions } from '../src/index.js';

type H = Harness<RateLimitOptions>;

const harness = (options: DeepPartial<RateLimitOptions> = {}) => createHarness(plugin, { options });

/** Send `n` MAIL FROMs on `session`; returns the verdicts. */
async function send(h: H, session: TestSession, n: number, sender = 'a@b.test') {
  const verdicts = [];
  for (let i = 0; i < n; i++) verdicts.push(await h.run('mailFrom', session, h.transaction({ mailFrom: sender })));
  return verdicts;
}

test('defaults', async () => {
  const h = await harness();
  assert.deepEqual(h.options, {
    limit: 120,
    windowSec: 60,
    key: 'ip',
    action: 'tempfail',
    message: 'Too many messages, slow down',
    exempt: { trusted: true, authenticated: false, allowlisted: true },
  });
  assert.deepEqual(h.taps('mailFrom').map((t) => t.stage), [Stage.EARLY]);
  await h.shutdown();
});

test('the (limit+1)-th message is refused with 451 4.7.0', async () => {
  const h = await harness({ limit: 3 });
  const session = h.session();
  const verdicts = await send(h, session, 3);
  assert.deepEqual(verdicts, [undefined, undefined, undefined]);
  const tx = h.transaction();
  const verdict = await h.run('mailFrom', session, tx);
  assert.equal(verdict?.action, 'tempfail');
  assert.equal(verdict?.code, 451);
  assert.equal(verdict?.enhanced, '4.7.0');
  assert.equal(verdict?.message, 'Too many messages, slow down');
  assert.deepEqual(tx.results.get('rate-limit'), { key: 'ip:192.0.2.10', count: 4, limit: 3 });
  await h.shutdown();
});

test('the default limit of 120', async () => {
  const h = await harness();
  const session = h.session();
  const verdicts = await send(h, session, 121);
  assert.equal(verdicts.slice(0, 120).every((v) => v === undefined), true);
  assert.equal(verdicts[120]?.code, 451);
  await h.shutdown();
});

test('every counted message records key, count and limit', async () => {
  const h = await harness({ limit: 5 });
  const session = h.session();
  const tx1 = h.transaction();
  const tx2 = h.transaction();
  await h.run('mailFrom', session, tx1);
  await h.run('mailFrom', session, tx2);
  assert.deepEqual(tx1.results.get('rate-limit'), { key: 'ip:192.0.2.10', count: 1, limit: 5 });
  assert.deepEqual(tx2.results.get('rate-limit'), { key: 'ip:192.0.2.10', count: 2, limit: 5 });
  await h.shutdown();
});

test('action disconnect: 421 4.7.0', async () => {
  const h = await harness({ limit: 1, action: 'disconnect' });
  const session = h.session();
  await send(h, session, 1);
  const verdict = await h.run('mailFrom', session, h.transaction());
  assert.equal(verdict?.action, 'disconnect');
  assert.equal(verdict?.code, 421);
  assert.equal(verdict?.enhanced, '4.7.0');
  await h.shutdown();
});

test('key ip: counted per client, IPv4-mapped addresses as IPv4', async () => {
  const h = await harness({ limit: 1 });
  await send(h, h.session({ remoteAddress: '198.51.100.7' }), 1);
  const mapped = h.session({ remoteAddress: '::ffff:198.51.100.7' });
  const tx = h.transaction();
  assert.equal((await h.run('mailFrom', mapped, tx))?.code, 451);
  assert.equal(tx.results.get<{ key: string }>('rate-limit')?.key, 'ip:198.51.100.7');
  // Another client has its own counter.
  assert.equal(await h.run('mailFrom', h.session({ remoteAddress: '198.51.100.8' }), h.transaction()), undefined);
  await h.shutdown();
});

test('key sender: counted per envelope sender (case-insensitive), across clients', async () => {
  const h = await harness({ limit: 2, key: 'sender' });
  await send(h, h.session({ remoteAddress: '198.51.100.1' }), 1, 'News@List.test');
  await send(h, h.session({ remoteAddress: '198.51.100.2' }), 1, 'news@list.test');
  const tx = h.transaction({ mailFrom: 'NEWS@list.test' });
  assert.equal((await h.run('mailFrom', h.session({ remoteAddress: '198.51.100.3' }), tx))?.code, 451);
  assert.equal(tx.results.get<{ key: string }>('rate-limit')?.key, 'sender:news@list.test');
  assert.equal(await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'other@list.test' })), undefined);
  await h.shutdown();
});

test('key sender: the null sender is counted per client IP', async () => {
  const h = await harness({ limit: 1, key: 'sender' });
  const tx = h.transaction({ mailFrom: '<>' });
  await h.run('mailFrom', h.session({ remoteAddress: '198.51.100.1' }), tx);
  assert.equal(tx.results.get<{ key: string }>('rate-limit')?.key, 'ip:198.51.100.1');
  // A bounce from another server is not refused because of the first one.
  assert.equal(await h.run('mailFrom', h.session({ remoteAddress: '198.51.100.2' }), h.transaction({ mailFrom: '<>' })), undefined);
  await h.shutdown();
});

test('key user: counted per AUTH user, falling back to the IP when not logged in', async () => {
  const h = await harness({ limit: 1, key: 'user' });
  const alice1 = h.session({ user: 'Alice@example.test', remoteAddress: '198.51.100.1', listener: 'submission' });
  const alice2 = h.session({ user: 'alice@example.test', remoteAddress: '198.51.100.2', listener: 'submission' });
  const tx = h.transaction();
  await h.run('mailFrom', alice1, tx);
  assert.equal(tx.results.get<{ key: string }>('rate-limit')?.key, 'user:alice@example.test');
  assert.equal((await h.run('mailFrom', alice2, h.transaction()))?.code, 451);
  // Same IP as alice1 but anonymous: its own IP counter.
  const anonTx = h.transaction();
  assert.equal(await h.run('mailFrom', h.session({ remoteAddress: '198.51.100.1' }), anonTx), undefined);
  assert.equal(anonTx.results.get<{ key: string }>('rate-limit')?.key, 'ip:198.51.100.1');
  await h.shutdown();
});

test('exempt.trusted (default true): trusted clients are not counted', async () => {
  const h = await harness({ limit: 1 });
  const session = h.session({ trusted: true });
  assert.deepEqual(await send(h, session, 5), [undefined, undefined, undefined, undefined, undefined]);
  const tx = h.transaction();
  await h.run('mailFrom', session, tx);
  assert.equal(tx.results.has('rate-limit'), false);
  await h.shutdown();

  const strict = await harness({ limit: 1, exempt: { trusted: false } });
  const verdicts = await send(strict, strict.session({ trusted: true }), 2);
  assert.equal(verdicts[1]?.code, 451);
  await strict.shutdown();
});

test('exempt.authenticated (default false): logged-in users are counted unless exempted', async () => {
  const counted = await harness({ limit: 1 });
  assert.equal((await send(counted, counted.session({ user: 'bob@example.test' }), 2))[1]?.code, 451);
  await counted.shutdown();

  const exempted = await harness({ limit: 1, exempt: { authenticated: true } });
  assert.deepEqual(await send(exempted, exempted.session({ user: 'bob@example.test' }), 3), [undefined, undefined, undefined]);
  // Still counted when not logged in, and `trusted` keeps its default.
  assert.equal((await send(exempted, exempted.session(), 2))[1]?.code, 451);
  assert.equal((await send(exempted, exempted.session({ trusted: true }), 2))[1], undefined);
  await exempted.shutdown();
});

test('exempt.allowlisted (default true): an access allow on the session or the transaction exempts', async () => {
  const h = await harness({ limit: 1 });
  const onSession = h.session();
  onSession.results.set('access', { allow: true, match: 'network:192.0.2.0/24' });
  assert.deepEqual(await send(h, onSession, 3), [undefined, undefined, undefined]);

  const plain = h.session({ remoteAddress: '198.51.100.1' });
  for (let i = 0; i < 3; i++) {
    const tx = h.transaction();
    tx.results.set('access', { allow: true, match: 'sender:@partner.test' });
    assert.equal(await h.run('mailFrom', plain, tx), undefined);
  }
  // A non-allow access result does not exempt.
  const other = h.session({ remoteAddress: '198.51.100.2' });
  other.results.set('access', { allow: false });
  assert.equal((await send(h, other, 2))[1]?.code, 451);
  await h.shutdown();
});

test('exempt.allowlisted false: counted, and the tap runs before the access plugin', async () => {
  const h = await harness({ limit: 1, exempt: { allowlisted: false } });
  assert.ok((h.taps('mailFrom')[0]?.stage ?? 0) < Stage.ACCESS);
  const session = h.session();
  session.results.set('access', { allow: true, match: 'network:192.0.2.0/24' });
  assert.equal((await send(h, session, 2))[1]?.code, 451);
  await h.shutdown();
});

test('custom message', async () => {
  const h = await harness({ limit: 1, message: 'Slow down please' });
  assert.equal((await send(h, h.session(), 2))[1]?.message, 'Slow down please');
  await h.shutdown();
});

test('the prune timer is unref\'d, runs every min(window, 60 s) and is cleared at shutdown', async () => {
  const setSpy = mock.method(globalThis, 'setInterval');
  const clearSpy = mock.method(globalThis, 'clearInterval');
  try {
    const h = await harness({ windowSec: 10 });
    assert.equal(setSpy.mock.callCount(), 1);
    const call = setSpy.mock.calls[0];
    assert.equal(call?.arguments[1], 10_000);
    const timer = call?.result as NodeJS.Timeout;
    assert.equal(timer.hasRef(), false);
    await h.shutdown();
    assert.ok(clearSpy.mock.calls.some((c) => c.arguments[0] === timer));

    const long = await harness({ windowSec: 3600 });
    assert.equal(setSpy.mock.calls[1]?.arguments[1], 60_000);
    await long.shutdown();
  } finally {
    setSpy.mock.restore();
    clearSpy.mock.restore();
  }
});

test('validate: every bad option is reported', async () => {
  const bad = { limit: 0, windowSec: -1, key: 'domain', action: 'drop', message: '', exempt: { trusted: 'yes', robots: true } };
  await assert.rejects(harness(bad as never), {
    code: 'POSTERN_PLUGIN_OPTIONS_INVALID',
    errors: [
      'limit: must be an integer >= 1',
      'windowSec: must be a number > 0',
      'key: must be one of ip, sender, user',
      'action: must be one of tempfail, disconnect',
      'message: must be a non-empty string',
      'exempt.trusted: must be true or false',
      'exempt.robots: unknown key (expected trusted, authenticated or allowlisted)',
    ],
  });
  await assert.rejects(harness({ limit: 2.5 }), { errors: ['limit: must be an integer >= 1'] });
  await assert.rejects(harness({ exempt: [] as never }), { errors: ['exempt: must be a map of trusted, authenticated, allowlisted'] });
  const ok = await harness({ limit: 1, windowSec: 0.5 });
  await ok.shutdown();
});
