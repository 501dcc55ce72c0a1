import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stage, DeliverStage, accept, definePlugin, reject, tempfail } from '../src/index.js';
import type { Verdict } from '../src/index.js';
import { createHarness, HarnessError, memoryKv } from '../src/testing.js';

interface Opts {
  list: { items: string[]; strict: boolean };
  level: number;
}

const recorder = (calls: string[]) =>
  definePlugin<Opts>({
    name: 'recorder',
    defaults: { list: { items: ['a'], strict: false }, level: 1 },
    validate: (o) => (o.level < 0 ? ['level: must be >= 0'] : []),
    setup(api) {
      api.tap('connect', () => void calls.push('default'), { stage: Stage.DEFAULT });
      api.tap('connect', () => void calls.push('access'), { stage: Stage.ACCESS });
      api.tap('connect', () => void calls.push('early'), { stage: Stage.EARLY });
    },
  });

test('options: shallow over the defaults, like the core; host keys removed', async () => {
  const h = await createHarness(recorder([]), {
    options: { list: { items: ['b', 'c'] }, enabled: true, failOpen: true, timeoutMs: 10 } as never,
  });
  // A nested section replaces the default's whole: `strict` is gone, as it would be in the server.
  assert.deepEqual(h.options, { list: { items: ['b', 'c'] }, level: 1 });
  assert.deepEqual((await createHarness(recorder([]))).options, { list: { items: ['a'], strict: false }, level: 1 });
});

test('options: validate errors throw POSTERN_PLUGIN_OPTIONS_INVALID with every error', async () => {
  await assert.rejects(createHarness(recorder([]), { options: { level: -1 } }), (err: unknown) => {
    assert.ok(err instanceof HarnessError);
    assert.equal(err.code, 'POSTERN_PLUGIN_OPTIONS_INVALID');
    assert.deepEqual(err.errors, ['level: must be >= 0']);
    assert.match(err.message, /recorder/);
    return true;
  });
});

test('setup: async setup is awaited; options are frozen one level deep', async () => {
  const plugin = definePlugin<{ xs: string[] }>({
    name: 'slow',
    defaults: { xs: [] },
    async setup(api) {
      await new Promise((r) => setTimeout(r, 5));
      assert.throws(() => {
        (api.options as { xs: string[] }).xs = [];
      }, TypeError);
      api.tap('helo', () => undefined);
    },
  });
  const h = await createHarness(plugin);
  assert.equal(h.taps('helo').length, 1);
  assert.ok(Object.isFrozen(h.options));
});

test('tap: an unknown hook name fails the load', async () => {
  const plugin = definePlugin({ name: 'typo', setup: (api) => api.tap('mailfrom' as 'mailFrom', () => undefined) });
  await assert.rejects(createHarness(plugin), { code: 'POSTERN_PLUGIN_LOAD_FAILED' });
});

test('taps: listed in stage order, with default stage and timeout', async () => {
  const plugin = definePlugin({
    name: 't',
    setup(api) {
      api.tap('connect', () => undefined);
      api.tap('connect', () => undefined, { stage: Stage.ACCESS, timeoutMs: 50 });
      api.tap('queued', () => undefined);
    },
  });
  const h = await createHarness(plugin, { timeoutMs: 1234 });
  assert.deepEqual(h.taps('connect').map((t) => [t.stage, t.timeoutMs]), [[Stage.ACCESS, 50], [Stage.DEFAULT, 1234]]);
  assert.equal(h.taps().length, 3);
  assert.equal(h.taps('data').length, 0);
});

test('run policy: series in stage order, same stage in registration order', async () => {
  const calls: string[] = [];
  const h = await createHarness(recorder(calls));
  assert.equal(await h.run('connect', h.session()), undefined);
  assert.deepEqual(calls, ['access', 'early', 'default']);
});

test('run policy: stops at the first Verdict and returns it', async () => {
  const calls: string[] = [];
  const plugin = definePlugin({
    name: 'bail',
    setup(api) {
      api.tap('mailFrom', () => { calls.push('second'); return reject('no'); }, { stage: Stage.DEFAULT });
      api.tap('mailFrom', () => { calls.push('first'); return undefined; }, { stage: Stage.EARLY });
      api.tap('mailFrom', () => { calls.push('third'); return accept(); }, { stage: Stage.CONTENT });
    },
  });
  const h = await createHarness(plugin);
  const verdict = await h.run('mailFrom', h.session(), h.transaction());
  assert.deepEqual(verdict, { action: 'reject', message: 'no', by: 'bail' });
  assert.deepEqual(calls, ['first', 'second']);
});

test('run policy: async taps are awaited', async () => {
  const plugin = definePlugin({
    name: 'async',
    setup: (api) => api.tap('data', async () => { await new Promise((r) => setTimeout(r, 5)); return tempfail('later'); }),
  });
  const h = await createHarness(plugin);
  assert.equal((await h.run('data', h.session(), h.transaction({ message: 'x' })))?.action, 'tempfail');
});

test('run policy: a non-Verdict result throws POSTERN_PLUGIN_BAD_VERDICT', async () => {
  const plugin = definePlugin({ name: 'bad', setup: (api) => api.tap('helo', () => ({ action: 'maybe' }) as unknown as Verdict) });
  const h = await createHarness(plugin);
  await assert.rejects(h.run('helo', h.session(), 'client.test'), { code: 'POSTERN_PLUGIN_BAD_VERDICT' });
});

test('run: a throwing tap is rethrown unchanged', async () => {
  const boom = new RangeError('boom');
  const plugin = definePlugin({ name: 'throws', setup: (api) => api.tap('rcptTo', () => { throw boom; }) });
  const h = await createHarness(plugin);
  await assert.rejects(h.run('rcptTo', h.session(), h.transaction(), h.address('a@b.test')), (err) => err === boom);
});

test('run: a tap past its timeout throws POSTERN_PLUGIN_TAP_TIMEOUT', async () => {
  const plugin = definePlugin({
    name: 'hangs',
    setup: (api) => api.tap('connect', () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 200)), { timeoutMs: 10 }),
  });
  const h = await createHarness(plugin);
  await assert.rejects(h.run('connect', h.session()), { code: 'POSTERN_PLUGIN_TAP_TIMEOUT' });
});

test('run deliver: taps in stage order until nothing is pending', async () => {
  const calls: string[] = [];
  const plugin = definePlugin({
    name: 'router',
    setup(api) {
      api.tap('deliver', (d) => {
        calls.push('local');
        for (const r of d.pending()) d.settle(r, { status: 'delivered', code: 250 });
      }, { stage: DeliverStage.LOCAL });
      api.tap('deliver', (d) => {
        calls.push('route');
        const first = d.pending()[0];
        if (first) d.settle(first, { status: 'failed', code: 550 });
        d.add('c@alias-target.test', 'b@x.test');
      }, { stage: DeliverStage.ROUTE });
      api.tap('deliver', () => void calls.push('remote'), { stage: DeliverStage.REMOTE });
    },
  });
  const h = await createHarness(plugin);
  const d = h.delivery({ recipients: ['a@x.test', 'b@x.test'] });
  assert.equal(await h.run('deliver', d), undefined);
  assert.deepEqual(calls, ['route', 'local']);
  assert.deepEqual(d.recipients.map((r) => [r.address, r.result?.status, r.result?.by]), [
    ['a@x.test', 'failed', 'router'],
    ['b@x.test', 'delivered', 'router'],
    ['c@alias-target.test', 'delivered', 'router'],
  ]);
  assert.equal(d.recipients[2]?.original, 'b@x.test');
  assert.equal(d.pending().length, 0);
});

test('run events: every tap runs, in parallel', async () => {
  const started: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const plugin = definePlugin({
    name: 'events',
    setup(api) {
      for (const n of [1, 2, 3]) {
        api.tap('delivered', async () => {
          started.push(n);
          maxRunning = Math.max(maxRunning, ++running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        });
      }
    },
  });
  const h = await createHarness(plugin);
  await h.run('delivered', { id: 'Q1', sender: 'a@b.test', recipients: [], size: 1, attempt: 1 });
  assert.deepEqual(started, [1, 2, 3]);
  assert.equal(maxRunning, 3);
});

test('session: defaults, overrides and distinct ids', async () => {
  const h = await createHarness(recorder([]));
  const s1 = h.session();
  const s2 = h.session({ remoteAddress: '2001:db8::1', trusted: true, listener: 'submission' });
  assert.equal(s1.protocol, 'smtp');
  assert.equal(s1.listener, 'mx');
  assert.equal(s1.remoteAddress, '192.0.2.10');
  assert.equal(s1.secure, false);
  assert.equal(s1.trusted, false);
  assert.equal(s1.user, undefined);
  assert.equal(s1.results.has('x'), false);
  assert.notEqual(s1.id, s2.id);
  assert.notEqual(s1.results, s2.results);
  assert.equal(s2.remoteAddress, '2001:db8::1');
  assert.equal(s2.trusted, true);
  assert.equal(s2.listener, 'submission');
  s1.user = 'alice@example.test';
  assert.equal(s1.user, 'alice@example.test');
});

test('transaction: parses addresses, CRLF message, records added headers', async () => {
  const h = await createHarness(recorder([]));
  const tx = h.transaction({ mailFrom: '<Alice@Example.TEST>', recipients: ['bob@b.test', h.address('c@C.test')], message: 'Subject: hi\n\nbody\n' });
  assert.deepEqual(tx.mailFrom, { address: 'Alice@Example.TEST', domain: 'example.test', params: {} });
  assert.deepEqual(tx.recipients.map((r) => r.domain), ['b.test', 'c.test']);
  assert.equal(tx.message?.toString(), 'Subject: hi\r\n\r\nbody\r\n');
  tx.addHeader('X-Test', 'yes');
  assert.deepEqual(tx.addedHeaders, [['X-Test', 'yes']]);
  const empty = h.transaction();
  assert.equal(empty.mailFrom.address, 'sender@example.test');
  assert.deepEqual(empty.recipients, []);
  assert.equal(empty.message, undefined);
  assert.notEqual(empty.id, tx.id);
});

test('address: null sender, params, brackets', async () => {
  const h = await createHarness(recorder([]));
  assert.deepEqual(h.address('<>'), { address: '', domain: '', params: {} });
  assert.deepEqual(h.address(''), { address: '', domain: '', params: {} });
  assert.deepEqual(h.address('a@B.Test', { SIZE: '100' }), { address: 'a@B.Test', domain: 'b.test', params: { SIZE: '100' } });
});

test('log and hostname: the fake api records log lines and carries the host name', async () => {
  let seenHost = '';
  const plugin = definePlugin({
    name: 'logs',
    setup(api) {
      seenHost = api.hostname;
      api.log.info({ n: 1 }, 'ready');
      api.tap('connect', (s) => { api.log.warn({ ip: s.remoteAddress }); return undefined; });
    },
  });
  const h = await createHarness(plugin, { hostname: 'mx.example.test' });
  await h.run('connect', h.session());
  assert.equal(seenHost, 'mx.example.test');
  assert.deepEqual(h.log, [
    { level: 'info', obj: { n: 1 }, msg: 'ready' },
    { level: 'warn', obj: { ip: '192.0.2.10' }, msg: undefined },
  ]);
});

test('shutdown: runs onShutdown callbacks in order, once', async () => {
  const calls: string[] = [];
  const plugin = definePlugin({
    name: 'bye',
    setup(api) {
      api.onShutdown(() => void calls.push('a'));
      api.onShutdown(async () => { await new Promise((r) => setTimeout(r, 1)); calls.push('b'); });
    },
  });
  const h = await createHarness(plugin);
  await h.shutdown();
  await h.shutdown();
  assert.deepEqual(calls, ['a', 'b']);
});

test('the harness gives a plugin api.kv (memoryKv: JSON values, ttlMs against a clock the test moves) and the dns it is handed', async () => {
  let now = 1_000_000;
  const kv = memoryKv(() => now);
  const seen: unknown[] = [];
  const plugin = definePlugin({
    name: 'kv-user',
    async setup(api) {
      await api.kv!.set('a', { n: 1 }, { ttlMs: 1000 });
      await api.kv!.set('b', [1, 2]);
      seen.push(await api.dns!.resolve4('x.test'));
    },
  });
  await createHarness(plugin, { kv, dns: { resolve4: async (name) => [`192.0.2.1 for ${name}`], resolveMx: async () => [], resolveTxt: async () => [], resolvePtr: async () => [] } });
  assert.deepEqual(seen, [['192.0.2.1 for x.test']]);
  assert.deepEqual(await kv.get('a'), { n: 1 });
  now += 1000;
  assert.equal(await kv.get('a'), undefined, 'expired');
  assert.deepEqual(await kv.get('b'), [1, 2], 'no ttl: kept');
  await kv.delete('b');
  assert.equal(await kv.get('b'), undefined);
  await assert.rejects(kv.set('c', undefined), TypeError);
});
