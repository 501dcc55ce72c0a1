import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsblHarness } from './helpers.js';

async function errors(options: Record<string, unknown>): Promise<string[]> {
  try {
    await dnsblHarness(options as never);
    return [];
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'POSTERN_PLUGIN_OPTIONS_INVALID');
    return (err as { errors: string[] }).errors;
  }
}

test('defaults are valid (no zones: nothing is looked up)', async () => {
  assert.deepEqual(await errors({}), []);
  const h = await dnsblHarness({});
  assert.equal(await h.run('connect', h.session({ remoteAddress: '1.2.3.4' })), undefined);
  assert.deepEqual(h.queries, []);
});

test('bad zones, return codes, timeout, cache and action are reported together', async () => {
  const found = await errors({
    zones: [{ zone: 'nodots' }, { zone: 'ok.test', returnCodes: ['127.0.0.9-127.0.0.2', 'x'] }, { zone: 'ok.test', returnCodes: [] }, { zone: 'ok.test', bogus: 1 }],
    lookupTimeoutMs: 0,
    cacheMinSeconds: -1,
    cacheMaxSeconds: 1.5,
    negativeCacheSeconds: 'x',
    action: 'drop',
  });
  for (const key of ['zones[0].zone', 'zones[1].returnCodes[0]', 'zones[1].returnCodes[1]', 'zones[2].returnCodes', 'zones[3].bogus', 'lookupTimeoutMs', 'cacheMinSeconds', 'cacheMaxSeconds', 'negativeCacheSeconds', 'action']) {
    assert.ok(found.some((e) => e.startsWith(`${key}:`)), `${key} in ${JSON.stringify(found)}`);
  }
});
