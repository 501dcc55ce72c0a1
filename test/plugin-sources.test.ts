/**
 * Plugins from where admins and hosting providers get them, through a running server: a
 * third-party plugin published as an npm package (runs sandboxed by default), and a policy bundle
 * that enables two plugins with presets, one key overridden by the admin.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createEnv, WORLD } from './support/index.js';
import { npmInstall } from './support/npm.js';

const ANN = 'ann@example.test';

/** A third party's plugin, as its author publishes it: ESM, importing @postern/sdk, with a manifest. */
async function writeNoSpamPackage(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'postern-plugin-no-spam',
      version: '1.2.0',
      type: 'module',
      main: 'index.js',
      postern: {
        name: 'no-spam',
        engine: '^0.1.0',
        hooks: ['mailFrom'],
        options: { type: 'object', properties: { word: { type: 'string', default: 'spam' } }, additionalProperties: false },
        permissions: { log: true },
      },
    }),
  );
  await writeFile(
    join(dir, 'index.js'),
    `import { definePlugin, reject } from '@postern/sdk';
export default definePlugin({
  name: 'no-spam',
  defaults: { word: 'spam' },
  setup(api) {
    api.tap('mailFrom', (_session, tx) =>
      tx.mailFrom.address.includes(api.options.word) ? reject('No thanks', { code: 550, enhanced: '5.7.1' }) : undefined);
  },
});
`,
  );
}

test('an npm plugin (npm pack + install) is found, runs sandboxed, and rejects by its rule', async (t) => {
  const env = await createEnv(t, { ...WORLD, plugins: { 'no-spam': { enabled: true, word: 'offer' } }, start: false });
  await writeNoSpamPackage(join(env.dir, 'pkg', 'no-spam'));
  await npmInstall(env.dir, [join(env.dir, 'pkg', 'no-spam')], join(env.dir, 'tarballs'));
  await env.start();

  const loaded = env.server.find((l) => l.msg === 'plugin loaded' && l.plugin === 'no-spam');
  assert.equal(loaded.length, 1);
  assert.equal(loaded[0]!.source, 'npm');
  assert.equal(loaded[0]!.trusted, false, 'npm plugins run sandboxed unless plugins.trusted names them');

  const client = await env.connect('mx');
  await client.ehlo();
  const refused = await client.cmd('MAIL FROM:<best-offer@promo.test>');
  assert.equal(refused.code, 550);
  assert.equal(refused.enhanced, '5.7.1');
  assert.equal((await client.cmd('MAIL FROM:<friend@promo.test>')).code, 250);
  await client.quit();
});

test('a policy bundle enables its plugins with presets; an admin key overrides one preset', async (t) => {
  // The admin writes one line for the bundle, and one key to loosen its rate limit from 2 to 3.
  // (createEnv turns every first-party plugin off by default, `access: { enabled: false }`, which a
  // bundle respects as the admin's choice; so this test turns access back on.)
  const env = await createEnv(t, {
    ...WORLD,
    plugins: { 'acme-policy': { enabled: true }, access: { enabled: true }, 'rate-limit': { enabled: true, limit: 3 } },
    start: false,
  });
  const bundleDir = join(env.dir, 'pkg', 'acme-policy');
  await mkdir(bundleDir, { recursive: true });
  await writeFile(
    join(bundleDir, 'package.json'),
    JSON.stringify({
      name: 'postern-bundle-acme-policy',
      version: '1.0.0',
      postern: {
        bundle: {
          plugins: [
            { name: 'access', options: { deny: { senders: ['@spam.test'] } } },
            { name: 'rate-limit', options: { limit: 2, windowSec: 60 } },
          ],
        },
      },
    }),
  );
  await npmInstall(env.dir, [bundleDir], join(env.dir, 'tarballs'));
  await env.start();

  const loaded = env.server.find((l) => l.msg === 'plugin loaded').map((l) => [l.plugin, l.bundle]);
  assert.deepEqual(loaded, [
    ['access', 'acme-policy'],
    ['rate-limit', 'acme-policy'],
  ]);

  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<x@spam.test>')).code, 550, 'the preset deny list applies');
  // Refused attempts do not count; three accepted MAIL FROMs are allowed, the fourth is not.
  for (let i = 0; i < 3; i++) {
    assert.equal((await client.cmd(`MAIL FROM:<ok${i}@example.org>`)).code, 250, `message ${i + 1} of 3`);
    await client.cmd('RSET');
  }
  const limited = await client.cmd('MAIL FROM:<ok4@example.org>');
  assert.equal(limited.code, 451, 'the admin override (limit 3), not the preset (2)');
  await client.quit();
  assert.ok(ANN);
});

test('a plugin the admin sandboxes (sandbox: true): escapes get nothing, a runaway loop tempfails, the server keeps serving', async (t) => {
  const source = `
export default {
  name: 'nosy',
  setup(api) {
    api.tap('mailFrom', (_session, tx) => {
      const who = tx.mailFrom.address;
      if (who.startsWith('loop@')) { for (;;) {} }
      if (who.startsWith('escape@')) {
        let got = 'nothing';
        try { const p = this.constructor.constructor('return process')(); if (p && p.env) got = 'process'; } catch {}
        try { if (typeof process !== 'undefined' && process.env) got = 'process'; } catch {}
        try { if (typeof require === 'function' && require('fs').readFileSync) got = 'fs'; } catch {}
        try { const f = (() => {}).constructor('return globalThis.process')(); if (f && f.env) got = 'process'; } catch {}
        return { action: 'reject', code: 550, enhanced: '5.7.1', message: 'got ' + got };
      }
      return undefined;
    });
  },
};
`;
  const env = await createEnv(t, { ...WORLD, testPlugins: { nosy: source }, plugins: { nosy: { enabled: true, sandbox: true, timeoutMs: 300 } } });
  assert.equal(env.server.find((l) => l.msg === 'plugin loaded' && l.plugin === 'nosy')[0]?.trusted, false);

  const client = await env.connect('mx');
  await client.ehlo();
  const escape = await client.cmd('MAIL FROM:<escape@evil.test>');
  assert.equal(escape.code, 550);
  assert.match(escape.raw, /got nothing/);

  const started = Date.now();
  const loop = await client.cmd('MAIL FROM:<loop@evil.test>');
  assert.equal(loop.code, 451);
  assert.equal(loop.enhanced, '4.3.0');
  assert.ok(Date.now() - started < 3000, 'the loop was stopped by the timeout');

  assert.equal((await client.cmd('MAIL FROM:<fine@example.org>')).code, 250, 'the same session goes on');
  await client.quit();
  const next = await env.connect('mx');
  await next.ehlo();
  assert.equal((await next.cmd('MAIL FROM:<fine@example.org>')).code, 250, 'and so does the server');
  await next.quit();
});

test('a sandboxed plugin granted kv keeps its state in the server database, across a restart', async (t) => {
  const counter = `export default { name: 'counter', setup(api) {
    api.tap('mailFrom', async () => {
      const n = (await api.kv.get('n')) ?? 0;
      await api.kv.set('n', n + 1);
      return { action: 'reject', code: 550, enhanced: '5.7.1', message: 'count ' + (n + 1) };
    });
  } };`;
  const env = await createEnv(t, { ...WORLD, testPlugins: { counter }, plugins: { counter: { enabled: true, sandbox: true, grants: { kv: true } } }, start: false });
  // The manifest asks for kv; the admin granted it above: the plugin gets the intersection.
  const pkgFile = join(env.dir, 'test-plugins', 'counter', 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { postern: Record<string, unknown> };
  pkg.postern.permissions = { kv: true };
  await writeFile(pkgFile, JSON.stringify(pkg));
  await env.start();

  const count = async () => {
    const client = await env.connect('mx');
    await client.ehlo();
    const reply = await client.cmd('MAIL FROM:<x@example.org>');
    await client.quit();
    return /count (\d+)/.exec(reply.raw)?.[1];
  };
  assert.equal(await count(), '1');
  assert.equal(await count(), '2');
  await env.server.kill();
  await env.start();
  assert.equal(await count(), '3', 'the count survived the restart');
});
