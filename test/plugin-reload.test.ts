/**
 * Hot reload of the plugin set (generations): a session in flight keeps the rules it started
 * with, new sessions get the new ones, a broken reload leaves the serving generation alone, and
 * an edited plugin file is loaded anew. No connection is dropped by a reload.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { createEnv, makeMessage, postern, WORLD, type Env } from './support/index.js';

const ANN = 'ann@example.test';

/** Refuses MAIL FROM in `options.domain`; the rule's name shows which code version runs. */
const blockDomain = (version: string) => `
export default {
  name: 'block-domain',
  defaults: { domain: 'a.test' },
  validate(options) { return typeof options.domain === 'string' ? [] : ['domain: must be a string']; },
  setup(api) {
    api.tap('mailFrom', (_session, tx) =>
      tx.mailFrom.domain === api.options.domain
        ? { action: 'reject', code: 550, enhanced: '5.7.1', message: 'blocked by ${version}' }
        : undefined);
  },
};
`;

async function setPluginOptions(env: Env, options: Record<string, unknown>): Promise<void> {
  const config = parse(await readFile(env.configPath, 'utf8')) as { plugins: Record<string, unknown> };
  config.plugins['block-domain'] = { enabled: true, ...options };
  await writeFile(env.configPath, stringify(config));
}

async function reload(env: Env): Promise<{ code: number; stdout: string; stderr: string }> {
  return postern(['plugin', 'reload'], { config: env.configPath });
}

test('reload: a session in flight finishes under the old generation, new sessions get the new one', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { 'block-domain': blockDomain('v1') }, plugins: { 'block-domain': { enabled: true, domain: 'a.test' } } });

  const inFlight = await env.connect('mx');
  await inFlight.ehlo();
  assert.equal((await inFlight.cmd('MAIL FROM:<x@b.test>')).code, 250);

  await setPluginOptions(env, { domain: 'b.test' });
  const result = await reload(env);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /reloaded: generation \d+/);

  // The session that started before the reload completes its message on the old rules...
  assert.equal((await inFlight.cmd(`RCPT TO:<${ANN}>`)).code, 250);
  assert.equal((await inFlight.cmd('DATA')).code, 354);
  const done = await inFlight.cmd(`${makeMessage().text}.`);
  assert.equal(done.code, 250, done.raw);
  assert.equal((await inFlight.cmd('MAIL FROM:<y@b.test>')).code, 250, 'old generation: b.test still allowed');
  await inFlight.cmd('RSET');
  assert.equal((await inFlight.cmd('MAIL FROM:<y@a.test>')).code, 550, 'old generation: a.test still refused');
  await inFlight.quit();

  // ...and a new session sees the new ones.
  const fresh = await env.connect('mx');
  await fresh.ehlo();
  assert.equal((await fresh.cmd('MAIL FROM:<x@b.test>')).code, 550);
  await fresh.cmd('RSET');
  assert.equal((await fresh.cmd('MAIL FROM:<x@a.test>')).code, 250);
  await fresh.quit();
  assert.equal(env.server.find((l) => l.msg === 'plugin generation retired').length >= 1, true, 'the old generation was shut down once its last session ended');
});

test('reload: invalid options, a syntax error or an engine mismatch leave the serving generation in place and report the error', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { 'block-domain': blockDomain('v1') }, plugins: { 'block-domain': { enabled: true, domain: 'a.test' } } });

  await setPluginOptions(env, { domain: 42 });
  const bad = await reload(env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /POSTERN_PLUGIN_RELOAD_FAILED/);
  assert.match(bad.stderr, /plugins\.block-domain\.domain/);

  const list = await postern(['plugin', 'list'], { config: env.configPath });
  assert.match(list.stdout, /last reload FAILED/);

  await writeFile(join(env.dir, 'test-plugins', 'block-domain', 'index.js'), 'export default { name: "block-domain", setup( { syntax error');
  await setPluginOptions(env, { domain: 'a.test' });
  const broken = await reload(env);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /POSTERN_PLUGIN_COMPILE_FAILED/);
  assert.match(broken.stderr, /index\.js:1:\d+: /, 'the compile error names file:line:column');

  // A plugin that now asks for another Postern version.
  await writeFile(join(env.dir, 'test-plugins', 'block-domain', 'index.js'), blockDomain('v1'));
  const pkgFile = join(env.dir, 'test-plugins', 'block-domain', 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { postern: { engine: string } };
  pkg.postern.engine = '^9.0.0';
  await writeFile(pkgFile, JSON.stringify(pkg));
  const engine = await reload(env);
  assert.equal(engine.code, 1);
  assert.match(engine.stderr, /POSTERN_PLUGIN_ENGINE_MISMATCH/);

  const client = await env.connect('mx');
  await client.ehlo();
  const refused = await client.cmd('MAIL FROM:<x@a.test>');
  assert.equal(refused.code, 550, 'generation 1 still serves');
  assert.match(refused.raw, /blocked by v1/);
  await client.quit();
});

test('reload: an edited plugin file is loaded anew', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { 'block-domain': blockDomain('v1') }, plugins: { 'block-domain': { enabled: true, domain: 'a.test' } } });
  await writeFile(join(env.dir, 'test-plugins', 'block-domain', 'index.js'), blockDomain('v2'));
  const result = await reload(env);
  assert.equal(result.code, 0, result.stderr);
  const client = await env.connect('mx');
  await client.ehlo();
  const refused = await client.cmd('MAIL FROM:<x@a.test>');
  assert.match(refused.raw, /blocked by v2/);
  await client.quit();
  // The v1 build is pruned from the compile cache once v2 serves: edits do not pile up.
  const cache = join(env.dataDir, 'plugin-cache');
  let builds: string[] = [];
  for (let i = 0; i < 40; i++) {
    builds = (await readdir(cache)).filter((f) => f.startsWith('block-domain-') && /\.(mjs|cjs)$/.test(f));
    if (builds.length === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(builds.length, 1, `one build left: ${builds.join(', ')}`);
});

test('plugin disable / enable edit the config (keeping its comments) and reload the running server', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { 'block-domain': blockDomain('v1') }, plugins: { 'block-domain': { enabled: true, domain: 'a.test' } } });
  await writeFile(env.configPath, `# kept: an admin's note\n${await readFile(env.configPath, 'utf8')}`);

  const off = await postern(['plugin', 'disable', 'block-domain'], { config: env.configPath });
  assert.equal(off.code, 0, off.stderr);
  assert.match(off.stdout, /reloaded: generation \d+/);
  const text = await readFile(env.configPath, 'utf8');
  assert.match(text, /^# kept: an admin's note/);
  assert.equal((parse(text) as { plugins: Record<string, { enabled: boolean }> }).plugins['block-domain']!.enabled, false);

  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<x@a.test>')).code, 250, 'disabled: not blocked');
  await client.quit();

  const missing = await postern(['plugin', 'enable', 'no-such-plugin'], { config: env.configPath });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /POSTERN_PLUGIN_NOT_FOUND/);
  assert.doesNotMatch(await readFile(env.configPath, 'utf8'), /no-such-plugin/, 'nothing written for a plugin that does not exist');

  const on = await postern(['plugin', 'enable', 'block-domain'], { config: env.configPath });
  assert.equal(on.code, 0, on.stderr);
  const again = await env.connect('mx');
  await again.ehlo();
  assert.equal((await again.cmd('MAIL FROM:<x@a.test>')).code, 550, 'enabled again: blocked');
  await again.quit();
});
