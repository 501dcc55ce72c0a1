/**
 * Plugin manifests (core/src/plugin-host/manifest.ts): where they are read from, what is checked, how
 * options are validated against the declared schema, and that the first-party plugins' manifests
 * agree with their code. Tests assert on error codes and on the key each message names.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PluginManifest } from '@postern/sdk';
import { ErrorCode, isPosternError, type ErrorCodeValue } from '../core/src/errors.js';
import { readManifest, resolvePluginOptions, validatePluginOptions } from '../core/src/plugin-host/manifest.js';
import { POSTERN_VERSION } from '../core/src/version.js';
import accessPlugin from '../plugins/access/src/index.js';
import rateLimitPlugin from '../plugins/rate-limit/src/index.js';
import { tempDir } from './support/tmp.js';

const REPO = new URL('..', import.meta.url).pathname;

const GOOD = {
  name: 'greylist',
  engine: '^0.1.0',
  hooks: ['rcptTo'],
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      delaySec: { type: 'integer', minimum: 1, default: 300 },
      whitelist: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { senders: { type: 'array', items: { type: 'string' }, default: [] }, networks: { type: 'array', items: { type: 'string' }, default: [] } },
      },
    },
  },
  permissions: { kv: true, net: ['rbl.example.test:53', '[2001:db8::1]:25'] },
};

/** A plugin folder with the given package.json and (optionally) postern.json. */
async function pluginDir(t: { after(fn: () => unknown): void }, pkg: unknown, posternJson?: unknown, name = 'greylist'): Promise<string> {
  const dir = join(await tempDir(t, 'postern-manifest-'), name);
  await mkdir(dir);
  if (pkg !== undefined) await writeFile(join(dir, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg));
  if (posternJson !== undefined) await writeFile(join(dir, 'postern.json'), typeof posternJson === 'string' ? posternJson : JSON.stringify(posternJson));
  return dir;
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCodeValue, ...fragments: string[]): Promise<Error> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${code}`),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(isPosternError(caught, code), `expected ${code}, got ${String(caught)}`);
  for (const fragment of fragments) assert.ok(caught.message.includes(fragment), `"${caught.message}" should mention ${fragment}`);
  return caught;
}

test('a manifest under package.json "postern" is read; version comes from package.json', async (t) => {
  const dir = await pluginDir(t, { name: 'postern-plugin-greylist', version: '1.2.3', postern: GOOD });
  const manifest = await readManifest(dir);
  assert.equal(manifest.name, 'greylist');
  assert.equal(manifest.version, '1.2.3');
  assert.equal(manifest.engine, '^0.1.0');
  assert.deepEqual(manifest.hooks, ['rcptTo']);
  assert.deepEqual(manifest.permissions, { kv: true, net: ['rbl.example.test:53', '[2001:db8::1]:25'] });
  assert.equal(manifest.entry, undefined);
});

test('postern.json works alone (no package.json), and permissions default to none', async (t) => {
  const dir = await pluginDir(t, undefined, { name: 'greylist', version: '0.3.0', engine: '>=0.1.0', hooks: [], entry: 'src/index.ts' });
  const manifest = await readManifest(dir);
  assert.equal(manifest.version, '0.3.0');
  assert.deepEqual(manifest.permissions, {});
  assert.equal(manifest.entry, 'src/index.ts');
  assert.equal(manifest.options, undefined);
});

test('a manifest version overrides package.json, and the manifest is a copy', async (t) => {
  const dir = await pluginDir(t, { version: '1.0.0' }, { ...GOOD, version: '2.0.0-beta.1' });
  const manifest = await readManifest(dir);
  assert.equal(manifest.version, '2.0.0-beta.1');
});

test('a manifest in both places is refused rather than one silently winning', async (t) => {
  const dir = await pluginDir(t, { version: '1.0.0', postern: GOOD }, GOOD);
  await rejectsWith(readManifest(dir), ErrorCode.PLUGIN_MANIFEST_INVALID, 'greylist', 'postern.json', 'keep one');
});

test('no manifest at all: PLUGIN_MANIFEST_MISSING naming the folder', async (t) => {
  const dir = await pluginDir(t, { name: 'x', version: '1.0.0' });
  await rejectsWith(readManifest(dir), ErrorCode.PLUGIN_MANIFEST_MISSING, 'plugin greylist', '"postern" key');
  const empty = await pluginDir(t, undefined);
  await rejectsWith(readManifest(empty), ErrorCode.PLUGIN_MANIFEST_MISSING);
});

test('bad JSON in either file is PLUGIN_MANIFEST_INVALID naming the file', async (t) => {
  await rejectsWith(readManifest(await pluginDir(t, '{ "name": ')), ErrorCode.PLUGIN_MANIFEST_INVALID, 'package.json', 'not valid JSON');
  await rejectsWith(readManifest(await pluginDir(t, { version: '1.0.0' }, '{ nope')), ErrorCode.PLUGIN_MANIFEST_INVALID, 'postern.json', 'not valid JSON');
});

test('each schema rule names its key', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['missing name', { ...GOOD, name: undefined }, ['name: is required']],
    ['name not kebab-case', { ...GOOD, name: 'GreyList' }, ['name: must be kebab-case']],
    ['missing engine', { ...GOOD, engine: undefined }, ['engine: is required']],
    ['engine not a range', { ...GOOD, engine: 'soon' }, ['engine: "soon" is not a semver range']],
    ['hooks missing', { ...GOOD, hooks: undefined }, ['hooks: is required']],
    ['unknown hook', { ...GOOD, hooks: ['rcptTo', 'mailfrom'] }, ['hooks[1]: unknown hook "mailfrom"', 'mailFrom']],
    ['hook twice', { ...GOOD, hooks: ['rcptTo', 'rcptTo'] }, ['hooks[1]: repeats item 0']],
    ['unknown key', { ...GOOD, hook: ['rcptTo'] }, ['hook: unknown key']],
    ['version not semver', { ...GOOD, version: 'one' }, ['version: "one" is not a semver version']],
    ['options not an object schema', { ...GOOD, options: { type: 'array' } }, ['options: must be a JSON Schema with "type": "object"']],
    ['options not a valid schema', { ...GOOD, options: { type: 'object', properties: { a: { type: 'strin' } } } }, ['options: not a valid JSON Schema']],
    ['permission unknown', { ...GOOD, permissions: { exec: true } }, ['permissions.exec: unknown key']],
    ['permission wrong type', { ...GOOD, permissions: { dns: 'yes' } }, ['permissions.dns: must be true or false']],
    ['net without port', { ...GOOD, permissions: { net: ['rbl.example.test'] } }, ['permissions.net[0]: must be "host:port"']],
    ['net port out of range', { ...GOOD, permissions: { net: ['rbl.example.test:70000'] } }, ['permissions.net[0]: port must be 1 to 65535']],
    ['fs other than none', { ...GOOD, permissions: { fs: 'read' } }, ['permissions.fs: must be one of none']],
    ['entry outside the folder', { ...GOOD, entry: '../other/index.ts' }, ['entry: must be a path inside the plugin folder']],
    ['trusted is not the manifest\'s to say', { ...GOOD, trusted: true }, ['trusted: a plugin cannot declare itself trusted']],
  ];
  for (const [what, postern, fragments] of cases) {
    const dir = await pluginDir(t, { version: '1.0.0', postern });
    const err = await rejectsWith(readManifest(dir), ErrorCode.PLUGIN_MANIFEST_INVALID, ...fragments);
    assert.match(err.message, /^plugin [a-zA-Z-]+: manifest \(package\.json "postern"\)/, what);
  }
});

test('all problems of one manifest are reported together', async (t) => {
  const dir = await pluginDir(t, { version: '1.0.0', postern: { ...GOOD, engine: 'soon', hooks: ['nope'], permissions: { kv: 1 } } });
  const err = await rejectsWith(readManifest(dir), ErrorCode.PLUGIN_MANIFEST_INVALID, 'engine:', 'hooks[0]:', 'permissions.kv:');
  assert.equal((err as { details?: { errors?: string[] } }).details?.errors?.length, 3);
});

test('a missing version (manifest and package.json) is an error', async (t) => {
  const dir = await pluginDir(t, { name: 'x' }, undefined);
  await writeFile(join(dir, 'postern.json'), JSON.stringify(GOOD));
  await rm(join(dir, 'package.json'));
  await rejectsWith(readManifest(dir), ErrorCode.PLUGIN_MANIFEST_INVALID, 'version: missing');
});

test('engine mismatch names the plugin, its range and this version', async (t) => {
  const dir = await pluginDir(t, { version: '1.0.0', postern: { ...GOOD, engine: '^2.0.0' } });
  const err = await rejectsWith(readManifest(dir), ErrorCode.PLUGIN_ENGINE_MISMATCH);
  assert.equal(err.message, `plugin greylist requires postern ^2.0.0, this is ${POSTERN_VERSION}`);
  await rejectsWith(readManifest(dir, { posternVersion: '1.9.9' }), ErrorCode.PLUGIN_ENGINE_MISMATCH, 'this is 1.9.9');
  assert.equal((await readManifest(dir, { posternVersion: '2.3.0' })).name, 'greylist');
  // A prerelease of Postern still satisfies a plain range (includePrerelease).
  assert.equal((await readManifest(dir, { posternVersion: '2.1.0-rc.1' })).name, 'greylist');
});

async function greylistManifest(t: { after(fn: () => unknown): void }): Promise<PluginManifest> {
  return readManifest(await pluginDir(t, { version: '1.0.0', postern: GOOD }));
}

test('options: schema defaults fill what the admin left out, nested ones included', async (t) => {
  const manifest = await greylistManifest(t);
  assert.deepEqual(validatePluginOptions(manifest, {}), { options: { delaySec: 300, whitelist: { senders: [], networks: [] } }, errors: [] });
  const section = { enabled: true, failOpen: true, timeoutMs: 100, whitelist: { senders: ['@a.test'] } };
  const { options, errors } = validatePluginOptions(manifest, section);
  assert.deepEqual(errors, []);
  assert.deepEqual(options, { delaySec: 300, whitelist: { senders: ['@a.test'], networks: [] } });
  // The admin's section is not touched (host keys kept, no defaults written into it).
  assert.deepEqual(section, { enabled: true, failOpen: true, timeoutMs: 100, whitelist: { senders: ['@a.test'] } });
  // Two calls share nothing (defaults are fresh objects).
  const a = validatePluginOptions(manifest, {}).options;
  (a.whitelist as { senders: string[] }).senders.push('x');
  assert.deepEqual((validatePluginOptions(manifest, {}).options.whitelist as { senders: string[] }).senders, []);
});

test('options: every error is "plugins.<name>.<key path>: <reason>"', async (t) => {
  const manifest = await greylistManifest(t);
  const { errors } = validatePluginOptions(manifest, { delaySec: 0, whitelist: { senders: ['ok', 7], domains: [] }, colour: 'red' });
  assert.deepEqual(errors.sort(), [
    'plugins.greylist.colour: unknown key',
    'plugins.greylist.delaySec: must be >= 1',
    'plugins.greylist.whitelist.domains: unknown key',
    'plugins.greylist.whitelist.senders[1]: must be a string',
  ]);
  assert.throws(
    () => resolvePluginOptions(manifest, { delaySec: 'soon' }),
    (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_OPTIONS_INVALID) && err.message === 'plugin greylist: invalid options: plugins.greylist.delaySec: must be a whole number',
  );
});

test('options: a manifest without an options schema takes no options', async (t) => {
  const manifest = await readManifest(await pluginDir(t, { version: '1.0.0', postern: { ...GOOD, options: undefined } }));
  assert.deepEqual(validatePluginOptions(manifest, { enabled: true }), { options: {}, errors: [] });
  assert.deepEqual(validatePluginOptions(manifest, { enabled: true, level: 3 }).errors, ['plugins.greylist.level: unknown key']);
});

test('options: x-message in a schema phrases a pattern failure', async (t) => {
  const options = { type: 'object', properties: { zone: { type: 'string', pattern: '^[a-z.]+$', 'x-message': 'must be a DNS zone' } } };
  const manifest = await readManifest(await pluginDir(t, { version: '1.0.0', postern: { ...GOOD, options } }));
  assert.deepEqual(validatePluginOptions(manifest, { zone: 'NOT A ZONE' }).errors, ['plugins.greylist.zone: must be a DNS zone']);
});

for (const [folder, plugin] of [
  ['access', accessPlugin],
  ['rate-limit', rateLimitPlugin],
] as const) {
  test(`first-party ${folder}: the manifest validates, and the schema's defaults are the plugin's defaults`, async () => {
    const manifest = await readManifest(join(REPO, 'plugins', folder));
    assert.equal(manifest.name, plugin.name);
    assert.equal(manifest.engine, '^0.1.0');
    const { options, errors } = validatePluginOptions(manifest, { enabled: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(options, plugin.defaults);
    // And the plugin's own validate() agrees the defaults are fine.
    assert.deepEqual(plugin.validate?.(options as never), []);
  });
}

test('first-party access: a partial section gets the rest from the schema; a bad key is named', async () => {
  const manifest = await readManifest(join(REPO, 'plugins', 'access'));
  const { options, errors } = validatePluginOptions(manifest, { enabled: true, deny: { networks: ['203.0.113.0/24'] } });
  assert.deepEqual(errors, []);
  assert.deepEqual(options.deny, { networks: ['203.0.113.0/24'], senders: [] });
  assert.deepEqual(validatePluginOptions(manifest, { allow: { network: [] }, denyMessage: '' }).errors.sort(), [
    'plugins.access.allow.network: unknown key',
    'plugins.access.denyMessage: must not be empty',
  ]);
});

test('first-party rate-limit: enums and limits are checked by the schema', async () => {
  const manifest = await readManifest(join(REPO, 'plugins', 'rate-limit'));
  assert.deepEqual(validatePluginOptions(manifest, { key: 'domain', limit: 0, windowSec: 0, exempt: { authenticated: 'yes' } }).errors.sort(), [
    'plugins.rate-limit.exempt.authenticated: must be true or false',
    'plugins.rate-limit.key: must be one of ip, sender, user',
    'plugins.rate-limit.limit: must be >= 1',
    'plugins.rate-limit.windowSec: must be > 0',
  ]);
  const { options } = validatePluginOptions(manifest, { exempt: { authenticated: true } });
  assert.deepEqual(options.exempt, { trusted: true, authenticated: true, allowlisted: true });
});
