import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LookupCache } from '../src/cache.js';
import { lifetimeMs } from '../src/lookup.js';

const ttls = { minSeconds: 60, maxSeconds: 3600, negativeSeconds: 30 };

test('lifetime: the A TTL within floor and ceiling; NXDOMAIN the negative TTL; errors never', () => {
  assert.equal(lifetimeMs({ status: 'listed', answers: ['127.0.0.2'], ttl: 300 }, ttls), 300_000);
  assert.equal(lifetimeMs({ status: 'listed', answers: ['127.0.0.2'], ttl: 5 }, ttls), 60_000, 'floor');
  assert.equal(lifetimeMs({ status: 'clear', ttl: 86_400 }, ttls), 3_600_000, 'ceiling');
  assert.equal(lifetimeMs({ status: 'clear', ttl: 5 }, { ...ttls, maxSeconds: 10 }), 10_000, 'the ceiling wins over the floor');
  assert.equal(lifetimeMs({ status: 'absent' }, ttls), 30_000);
  assert.equal(lifetimeMs({ status: 'absent' }, { ...ttls, maxSeconds: 10 }), 10_000, 'the ceiling bounds the negative TTL too');
  assert.equal(lifetimeMs({ status: 'listed', answers: [], ttl: 300 }, { ...ttls, maxSeconds: 0 }), 0, 'cache off');
  assert.equal(lifetimeMs({ status: 'error', error: 'ESERVFAIL' }, ttls), 0);
});

test('cache: per-entry lifetimes on a clock; concurrent gets share one load; rejections are dropped', async () => {
  let now = 1000;
  const cache = new LookupCache<number>((v) => v, () => now);
  let loads = 0;
  const load = (v: number) => () => {
    loads++;
    return Promise.resolve(v);
  };
  const [a, b] = await Promise.all([cache.get('k', load(500)), cache.get('k', load(500))]);
  assert.deepEqual([a, b, loads], [500, 500, 1]);
  now += 499;
  await cache.get('k', load(500));
  assert.equal(loads, 1, 'within its lifetime');
  now += 2;
  await cache.get('k', load(500));
  assert.equal(loads, 2, 'expired');
  await cache.get('zero', load(0));
  await cache.get('zero', load(0));
  assert.equal(loads, 4, 'lifetime 0: not kept');
  await assert.rejects(cache.get('bad', () => Promise.reject(new Error('x'))));
  assert.equal(await cache.get('bad', load(7)), 7);
});
