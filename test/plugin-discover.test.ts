/**
 * Plugin discovery (core/src/plugin-host/discover.ts) over temp folders: first-party plugins, config
 * paths, real npm packages (made with `npm pack` and installed from the tarball into a temp
 * project), policy bundles, precedence between sources, and bundle presets under admin overrides.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, isPosternError } from '../core/src/errors.js';
import { discoverPlugins, findPlugin, type Discovery, type DiscoverOptions } from '../core/src/plugin-host/discover.js';
import { validatePluginOptions } from '../core/src/plugin-host/manifest.js';
import { mergeBundleOptions } from '../core/src/plugin-host/merge-options.js';
import { npmInstall } from './support/npm.js';
import { tempDir } from './support/tmp.js';


interface PluginSpec {
  name: string;
  version?: string;
  engine?: string;
  options?: Record<string, unknown>;
  /** Replaces the whole `postern` key (e.g. a broken manifest or a bundle). */
  postern?: unknown;
  packageName?: string;
}

const OPTIONS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    greeting: { type: 'string', default: 'hello' },
    limits: {
      type: 'object',
      default: {},
      properties: { perMinute: { type: 'integer', default: 10 }, perHour: { type: 'integer', default: 100 } },
    },
    hosts: { type: 'array', items: { type: 'string' }, default: [] },
  },
};

/** Write a plugin package into `dir` (created). */
async function writePlugin(dir: string, spec: PluginSpec): Promise<string> {
  await mkdir(dir, { recursive: true });
  const postern = spec.postern ?? { name: spec.name, engine: spec.engine ?? '^0.1.0', hooks: ['mailFrom'], options: spec.options ?? OPTIONS };
  const pkg = { name: spec.packageName ?? `postern-plugin-${spec.name}`, version: spec.version ?? '1.0.0', type: 'module', main: 'index.js', postern };
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  await writeFile(join(dir, 'index.js'), `export default { name: '${spec.name}', setup() {} };\n`);
  return dir;
}

function names(discovery: Discovery): string[] {
  return discovery.plugins.map((p) => `${p.name}:${p.source}`);
}

function problem(discovery: Discovery, name: string) {
  return discovery.problems.find((p) => p.name === name);
}

describe('plugin discovery', () => {
  let root: string;
  let firstPartyDir: string;
  let pathA: string;
  let pathB: string;
  let nodeModules: string;
  let base: DiscoverOptions;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'postern-discover-'));
    firstPartyDir = join(root, 'plugins');
    await writePlugin(join(firstPartyDir, 'access'), { name: 'access', packageName: '@postern/plugin-access', version: '0.1.0' });
    await writePlugin(join(firstPartyDir, 'shared'), { name: 'shared', version: '0.1.0' });
    // Skipped: _template (copy-me skeleton), a folder with no package.json (a helper, not a plugin).
    await writePlugin(join(firstPartyDir, '_template'), { name: 'template' });
    await mkdir(join(firstPartyDir, 'lib'), { recursive: true });

    pathA = join(root, 'site-plugins');
    await writePlugin(join(pathA, 'shared'), { name: 'shared', version: '9.0.0' }); // overrides first-party shared
    await writePlugin(join(pathA, 'folder-name'), { name: 'local-only' }); // the name comes from the manifest
    pathB = join(root, 'more-plugins');
    await writePlugin(join(pathB, 'shared'), { name: 'shared', version: '8.0.0' }); // loses to pathA (config order)

    // Real npm packages: plugins, a scoped one, one shadowed by first-party, a too-new one, bundles.
    const src = join(root, 'src');
    const packages = [
      await writePlugin(join(src, 'hello'), { name: 'hello', version: '1.4.0' }),
      await writePlugin(join(src, 'scoped'), { name: 'scoped', packageName: '@acme/postern-plugin-scoped', version: '2.0.0' }),
      await writePlugin(join(src, 'npm-access'), { name: 'access', packageName: 'postern-plugin-access', version: '5.0.0' }),
      await writePlugin(join(src, 'future'), { name: 'future', engine: '^9.0.0' }),
      await writePlugin(join(src, 'bundle-acme'), {
        name: 'acme',
        packageName: 'postern-bundle-acme',
        postern: {
          bundle: {
            plugins: [
              { name: 'access', options: { greeting: 'from acme', hosts: ['a.test', 'b.test'] } },
              { name: 'hello', version: '^1.2.0', options: { limits: { perMinute: 5, perHour: 50 } } },
              { name: 'scoped' },
            ],
            order: ['hello', 'access'],
          },
        },
      }),
      await writePlugin(join(src, 'bundle-wants'), {
        name: 'wants',
        packageName: '@acme/postern-bundle-wants',
        postern: { bundle: { plugins: [{ name: 'hello', version: '^2.0.0' }, { name: 'missing' }, { name: 'future' }] } },
      }),
      await writePlugin(join(src, 'bundle-bad'), {
        name: 'bad',
        packageName: 'postern-bundle-bad',
        postern: { bundle: { plugins: [{ name: 'hello' }], extra: 1 } },
      }),
    ];
    nodeModules = await npmInstall(join(root, 'site'), packages, join(root, 'tarballs'));
    base = { paths: [pathA, pathB], firstPartyDir, nodeModulesDirs: [nodeModules] };
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('every source kind is found; names come from manifests; _ folders and non-plugins are skipped', async () => {
    const found = await discoverPlugins(base);
    assert.deepEqual(names(found), ['access:first-party', 'hello:npm', 'local-only:path', 'scoped:npm', 'shared:path']);
    const hello = findPlugin(found, 'hello');
    assert.equal(hello.packageName, 'postern-plugin-hello');
    assert.equal(hello.manifest.version, '1.4.0');
    assert.equal(hello.dir, join(nodeModules, 'postern-plugin-hello'));
    const scoped = findPlugin(found, 'scoped');
    assert.equal(scoped.packageName, '@acme/postern-plugin-scoped');
    assert.equal(scoped.dir, join(nodeModules, '@acme', 'postern-plugin-scoped'));
    assert.equal(findPlugin(found, 'local-only').dir, join(pathA, 'folder-name'));
    // An admin may also name a plugin by its package name.
    assert.equal(findPlugin(found, '@acme/postern-plugin-scoped'), scoped);
    assert.equal(findPlugin(found, '@postern/plugin-access').source, 'first-party');
    assert.ok(!found.plugins.some((p) => p.name === 'template'));
  });

  test('precedence: config paths (in order), then first-party, then npm; losers are listed as shadowed', async () => {
    const found = await discoverPlugins(base);
    const shared = findPlugin(found, 'shared');
    assert.equal(shared.source, 'path');
    assert.equal(shared.manifest.version, '9.0.0');
    assert.equal(findPlugin(found, 'access').source, 'first-party');
    const shadowed = found.shadowed.map((p) => `${p.name}@${p.manifest.version}:${p.source}`).sort();
    assert.deepEqual(shadowed, ['access@5.0.0:npm', 'shared@0.1.0:first-party', 'shared@8.0.0:path']);

    // Swap the paths: the other copy wins. Drop them: first-party wins.
    assert.equal(findPlugin(await discoverPlugins({ ...base, paths: [pathB, pathA] }), 'shared').manifest.version, '8.0.0');
    assert.equal(findPlugin(await discoverPlugins({ ...base, paths: [] }), 'shared').source, 'first-party');
    // Without first-party, npm's access is used.
    const npmOnly = await discoverPlugins({ ...base, firstPartyDir: join(root, 'nowhere') });
    assert.equal(findPlugin(npmOnly, 'access').manifest.version, '5.0.0');
  });

  test('a broken manifest is a problem, not a crash, and only matters for that plugin', async (t) => {
    const extra = await tempDir(t, 'postern-discover-extra-');
    await writePlugin(join(extra, 'access'), { name: 'access', postern: { name: 'access', hooks: ['nope'] } });
    await writePlugin(join(extra, 'no-manifest'), { name: 'no-manifest', postern: undefined });
    await writeFile(join(extra, 'no-manifest', 'package.json'), JSON.stringify({ name: 'no-manifest', version: '1.0.0' }));
    const found = await discoverPlugins({ ...base, paths: [extra, pathA] });

    // The admin's broken override of access is reported, not silently replaced by first-party's.
    assert.throws(() => findPlugin(found, 'access'), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_MANIFEST_INVALID) && err.message.includes('hooks[0]'));
    assert.throws(() => findPlugin(found, 'no-manifest'), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_MANIFEST_MISSING));
    // An npm plugin for a newer Postern is named by its manifest name.
    assert.equal(problem(found, 'future')?.error.code, ErrorCode.PLUGIN_ENGINE_MISMATCH);
    assert.throws(() => findPlugin(found, 'future'), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_ENGINE_MISMATCH) && err.message.includes('requires postern ^9.0.0'));
    // Everything else is still there.
    assert.equal(findPlugin(found, 'hello').source, 'npm');
    assert.throws(() => findPlugin(found, 'nothing-by-that-name'), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_NOT_FOUND));
  });

  test('a config path that does not exist is reported', async () => {
    const found = await discoverPlugins({ ...base, paths: [join(root, 'typo')] });
    assert.ok(found.problems.some((p) => p.error.code === ErrorCode.PLUGIN_NOT_FOUND && p.error.message.includes('typo')));
  });

  test('a bundle resolves its plugins through discovery, in its order, with its presets', async () => {
    const found = await discoverPlugins(base);
    assert.deepEqual(
      found.bundles.map((b) => b.name),
      ['acme'],
    );
    const [acme] = found.bundles;
    assert.ok(acme);
    assert.equal(acme.packageName, 'postern-bundle-acme');
    assert.deepEqual(
      acme.plugins.map((p) => `${p.name}:${p.plugin.source}`),
      ['hello:npm', 'access:first-party', 'scoped:npm'],
    );
    assert.equal(acme.plugins[0]?.version, '^1.2.0');
    assert.deepEqual(acme.plugins[1]?.options, { greeting: 'from acme', hosts: ['a.test', 'b.test'] });
  });

  test('bundle presets under admin overrides, then the plugin schema: admin keys win key by key', async () => {
    const found = await discoverPlugins(base);
    const acme = found.bundles[0];
    assert.ok(acme);
    const access = acme.plugins.find((p) => p.name === 'access');
    const hello = acme.plugins.find((p) => p.name === 'hello');
    assert.ok(access && hello);

    // One admin key changes the greeting; the preset's hosts stay.
    const accessOptions = validatePluginOptions(access.plugin.manifest, mergeBundleOptions(access.options, { enabled: true, greeting: 'from admin' }));
    assert.deepEqual(accessOptions, { options: { greeting: 'from admin', hosts: ['a.test', 'b.test'], limits: { perMinute: 10, perHour: 100 } }, errors: [] });
    // Nested: the admin changes perHour only; perMinute keeps the preset's 5, not the schema's 10.
    const helloOptions = validatePluginOptions(hello.plugin.manifest, mergeBundleOptions(hello.options, { limits: { perHour: 500 } }));
    assert.deepEqual(helloOptions.options, { greeting: 'hello', hosts: [], limits: { perMinute: 5, perHour: 500 } });
    // An admin override is still validated, and named.
    assert.deepEqual(validatePluginOptions(hello.plugin.manifest, mergeBundleOptions(hello.options, { limits: { perHour: 'lots' } })).errors, [
      'plugins.hello.limits.perHour: must be a whole number',
    ]);
  });

  test('bundle problems: missing plugin, version out of range, broken plugin, malformed bundle', async () => {
    const found = await discoverPlugins(base);
    const wants = found.problems.filter((p) => p.kind === 'bundle' && p.name === 'wants').map((p) => p.error);
    assert.deepEqual(wants.map((e) => e.code).sort(), [ErrorCode.BUNDLE_VERSION_MISMATCH, ErrorCode.PLUGIN_ENGINE_MISMATCH, ErrorCode.PLUGIN_NOT_FOUND].sort());
    const mismatch = wants.find((e) => e.code === ErrorCode.BUNDLE_VERSION_MISMATCH);
    assert.match(mismatch?.message ?? '', /^bundle wants wants plugin hello \^2\.0\.0, found hello@1\.4\.0 \(npm, /);
    assert.match(wants.find((e) => e.code === ErrorCode.PLUGIN_NOT_FOUND)?.message ?? '', /bundle wants: plugin missing not found/);

    const bad = problem(found, 'bad');
    assert.equal(bad?.error.code, ErrorCode.BUNDLE_INVALID);
    assert.match(bad?.error.message ?? '', /^bundle bad: package\.json in .*: postern\.bundle\.extra: unknown key$/);
    assert.ok(!found.bundles.some((b) => b.name === 'wants' || b.name === 'bad'));
  });

  test('bundle list rules: ranges, duplicates and order are checked', async (t) => {
    const modules = join(await tempDir(t, 'postern-discover-bundle-'), 'node_modules');
    await writePlugin(join(modules, 'postern-bundle-rules'), {
      name: 'rules',
      packageName: 'postern-bundle-rules',
      postern: { bundle: { plugins: [{ name: 'hello', version: 'soon' }, { name: 'hello' }], order: ['nope'] } },
    });
    const found = await discoverPlugins({ ...base, nodeModulesDirs: [modules, nodeModules] });
    const rules = problem(found, 'rules');
    assert.equal(rules?.error.code, ErrorCode.BUNDLE_INVALID);
    for (const key of ['postern.bundle.plugins[0].version: "soon" is not a semver range', 'postern.bundle.plugins[1].name: hello is listed twice', 'postern.bundle.order[0]: nope is not one of']) {
      assert.ok(rules?.error.message.includes(key), `${rules?.error.message} should mention ${key}`);
    }
  });

  test("a bundle's nested node_modules supplies the version it needs (source 'bundle')", async (t) => {
    const modules = join(await tempDir(t, 'postern-discover-nested-'), 'node_modules');
    const bundleDir = await writePlugin(join(modules, 'postern-bundle-nested'), {
      name: 'nested',
      packageName: 'postern-bundle-nested',
      postern: { bundle: { plugins: [{ name: 'hello', version: '^2.0.0' }, { name: 'access' }] } },
    });
    // What npm does when the top level holds hello@1 and the bundle depends on hello@2.
    await writePlugin(join(bundleDir, 'node_modules', 'postern-plugin-hello'), { name: 'hello', version: '2.1.0' });
    const found = await discoverPlugins({ ...base, nodeModulesDirs: [modules, nodeModules] });
    const nested = found.bundles.find((b) => b.name === 'nested');
    assert.ok(nested, JSON.stringify(found.problems.map((p) => p.error.message)));
    assert.deepEqual(
      nested.plugins.map((p) => `${p.name}@${p.plugin.manifest.version}:${p.plugin.source}`),
      ['hello@2.1.0:bundle', 'access@0.1.0:first-party'],
    );
    // The top-level plugin list is unchanged: the nested copy belongs to the bundle.
    assert.equal(findPlugin(found, 'hello').manifest.version, '1.4.0');
  });
});

test('mergeBundleOptions: admin over preset, deep for plain objects, arrays and scalars replace, inputs untouched', () => {
  const preset = { limit: 60, exempt: { trusted: true, authenticated: false }, networks: ['10.0.0.0/8'], nested: { a: { b: 1, c: 2 } } };
  const admin = { enabled: true, exempt: { authenticated: true }, networks: ['192.0.2.0/24'], nested: { a: { c: 3 } }, message: null, skipped: undefined };
  const merged = mergeBundleOptions(preset, admin);
  assert.deepEqual(merged, {
    limit: 60,
    exempt: { trusted: true, authenticated: true },
    networks: ['192.0.2.0/24'],
    nested: { a: { b: 1, c: 3 } },
    enabled: true,
    message: null,
  });
  assert.deepEqual(preset, { limit: 60, exempt: { trusted: true, authenticated: false }, networks: ['10.0.0.0/8'], nested: { a: { b: 1, c: 2 } } });
  (merged.networks as string[]).push('x');
  assert.deepEqual(admin.networks, ['192.0.2.0/24']);
  // An object replaces a scalar and the other way round.
  assert.deepEqual(mergeBundleOptions({ a: 1, b: { c: 1 } }, { a: { x: 1 }, b: 2 }), { a: { x: 1 }, b: 2 });
  assert.deepEqual(mergeBundleOptions(undefined, { a: 1 }), { a: 1 });
  assert.deepEqual(mergeBundleOptions({ a: 1 }, undefined), { a: 1 });
});
