/**
 * TypeScript plugins built at load (core/src/plugin-host/compile.ts): a .ts plugin importing
 * @postern/sdk, a local module and an npm dependency is bundled into the cache and works when
 * imported from there; an unchanged plugin comes from the cache; an edit makes a new file; compile
 * errors name file:line:column.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import * as sdk from '@postern/sdk';
import type { PluginDefinition, PluginManifest } from '@postern/sdk';
import { createHarness } from '@postern/sdk/testing';
import { ErrorCode, isPosternError } from '../core/src/errors.js';
import { compilePlugin, pruneCompileCache } from '../core/src/plugin-host/compile.js';
import { readManifest } from '../core/src/plugin-host/manifest.js';
import { tempDir, type Cleanup } from './support/tmp.js';

const REPO = new URL('..', import.meta.url).pathname;

const INDEX_TS = `import { definePlugin, reject, Stage } from '@postern/sdk';
import type { TransactionView } from '@postern/sdk';
import { shout } from './helper.js';
import { pad } from 'tiny-pad';

interface Options {
  word: string;
  domains: string[];
}

function blocked(tx: TransactionView, domains: readonly string[]): boolean {
  return domains.includes(tx.mailFrom.domain);
}

export const stageUsed: number = Stage.ACCESS;

export default definePlugin<Options>({
  name: 'shout',
  defaults: { word: 'go away', domains: ['spam.test'] },
  setup(api) {
    api.tap('mailFrom', (_session, tx) => (blocked(tx, api.options.domains) ? reject(pad(shout(api.options.word))) : undefined), { stage: Stage.ACCESS });
  },
});
`;

const HELPER_TS = `export const shout = (text: string): string => \`\${text.toUpperCase()}!\`;
`;

/** A CommonJS dependency that requires a builtin: ESM output needs a working require for it. */
const TINY_PAD = `const { EOL } = require('node:os');
exports.pad = (text) => ' ' + text + ' ' + (EOL.length > 0 ? '' : '?');
`;
/** The same without a builtin: what a sandboxed (cjs) build can bundle. */
const PURE_PAD = `exports.pad = (text) => ' ' + text + ' ';
`;

async function writePlugin(t: Cleanup): Promise<{ dir: string; manifest: PluginManifest; cacheDir: string }> {
  const root = await tempDir(t, 'postern-compile-');
  const dir = join(root, 'shout');
  await mkdir(join(dir, 'src'), { recursive: true });
  await mkdir(join(dir, 'node_modules', 'tiny-pad'), { recursive: true });
  const postern = { name: 'shout', engine: '^0.1.0', hooks: ['mailFrom'], entry: 'src/index.ts' };
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'postern-plugin-shout', version: '1.0.0', type: 'module', postern }));
  await writeFile(join(dir, 'src', 'index.ts'), INDEX_TS);
  await writeFile(join(dir, 'src', 'helper.ts'), HELPER_TS);
  await writeFile(join(dir, 'node_modules', 'tiny-pad', 'package.json'), JSON.stringify({ name: 'tiny-pad', version: '1.0.0', main: 'index.js' }));
  await writeFile(join(dir, 'node_modules', 'tiny-pad', 'index.js'), TINY_PAD);
  return { dir, manifest: await readManifest(dir), cacheDir: join(root, 'cache') };
}

async function rejectsWithCompileError(promise: Promise<unknown>, ...fragments: string[]): Promise<Error> {
  let caught: unknown;
  await promise.then(
    () => assert.fail('expected PLUGIN_COMPILE_FAILED'),
    (err: unknown) => {
      caught = err;
    },
  );
  assert.ok(isPosternError(caught, ErrorCode.PLUGIN_COMPILE_FAILED), `expected PLUGIN_COMPILE_FAILED, got ${String(caught)}`);
  for (const fragment of fragments) assert.ok(caught.message.includes(fragment), `"${caught.message}" should mention ${fragment}`);
  return caught;
}

test('a .ts plugin is bundled into the cache as ESM, imports the host sdk, and its setup works', async (t) => {
  const { dir, manifest, cacheDir } = await writePlugin(t);
  const { file, hash } = await compilePlugin(dir, manifest, { cacheDir, format: 'esm' });
  assert.equal(file, join(cacheDir, `shout-${hash}.mjs`));
  assert.match(hash, /^[0-9a-f]{16}$/);

  const code = await readFile(file, 'utf8');
  // The sdk is not bundled: it is imported from the host's own file, by absolute URL.
  assert.match(code, /from "file:\/\/[^"]+\/sdk\/dist\/index\.js"/);
  assert.ok(!code.includes('function definePlugin'), 'the sdk must not be bundled in');

  const mod = (await import(pathToFileURL(file).href)) as { default: PluginDefinition<{ word: string; domains: string[] }>; stageUsed: number };
  // Same module instance as the host's sdk (Stage is the very same frozen object's value).
  assert.equal(mod.stageUsed, sdk.Stage.ACCESS);
  const h = await createHarness(mod.default);
  const refused = await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'bad@spam.test' }));
  assert.equal(refused?.action, 'reject');
  assert.equal(refused?.message, ' GO AWAY! ');
  assert.equal(await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'ok@example.test' })), undefined);
});

test('unchanged inputs come from the cache without a rebuild; an edit makes a new file; reverting finds the old one', async (t) => {
  const { dir, manifest, cacheDir } = await writePlugin(t);
  const first = await compilePlugin(dir, manifest, { cacheDir, format: 'esm' });
  // Mark the cached file: a rebuild would overwrite the mark.
  await writeFile(first.file, `${await readFile(first.file, 'utf8')}\n// cached-mark\n`);
  const before = (await stat(first.file)).mtimeMs;

  const second = await compilePlugin(dir, manifest, { cacheDir, format: 'esm' });
  assert.deepEqual(second, first);
  assert.ok((await readFile(second.file, 'utf8')).includes('// cached-mark'));
  assert.equal((await stat(second.file)).mtimeMs, before);

  // Editing a local module (not the entry) changes the hash.
  await writeFile(join(dir, 'src', 'helper.ts'), HELPER_TS.replace('!', '!!'));
  const edited = await compilePlugin(dir, manifest, { cacheDir, format: 'esm' });
  assert.notEqual(edited.hash, first.hash);
  const mod = (await import(pathToFileURL(edited.file).href)) as { default: PluginDefinition<{ word: string; domains: string[] }> };
  const h = await createHarness(mod.default);
  assert.equal((await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'x@spam.test' })))?.message, ' GO AWAY!! ');

  // So does a change in an npm dependency.
  await writeFile(join(dir, 'node_modules', 'tiny-pad', 'index.js'), TINY_PAD.replace("' ' + text", "'>' + text"));
  const depEdited = await compilePlugin(dir, manifest, { cacheDir, format: 'esm' });
  assert.notEqual(depEdited.hash, edited.hash);

  // Back to the original files: the first build is found again.
  await writeFile(join(dir, 'src', 'helper.ts'), HELPER_TS);
  await writeFile(join(dir, 'node_modules', 'tiny-pad', 'index.js'), TINY_PAD);
  assert.deepEqual(await compilePlugin(dir, manifest, { cacheDir, format: 'esm' }), first);

  // The format is part of the key. (A sandboxed build cannot use Node built-ins: a pure pad.)
  await writeFile(join(dir, 'node_modules', 'tiny-pad', 'index.js'), PURE_PAD);
  const cjs = await compilePlugin(dir, manifest, { cacheDir, format: 'cjs' });
  assert.notEqual(cjs.hash, first.hash);
  assert.ok(cjs.file.endsWith('.cjs'));

  // Pruning keeps only what is still in use.
  assert.equal(await pruneCompileCache(cacheDir, [first.file, cjs.file]), 2);
  assert.deepEqual((await readdir(cacheDir)).filter((f) => /\.(mjs|cjs)$/.test(f)).sort(), [cjs.file, first.file].map((f) => f.slice(cacheDir.length + 1)).sort());
});

test("'cjs' bundles everything but @postern/sdk, which the sandbox provides through require; Node built-ins fail the build", async (t) => {
  const { dir, manifest, cacheDir } = await writePlugin(t);
  // A sandboxed plugin gets no Node built-ins: a bundle that needs one fails at load, naming it.
  await rejectsWithCompileError(compilePlugin(dir, manifest, { cacheDir, format: 'cjs' }), 'Could not resolve "node:os"');
  await writeFile(join(dir, 'node_modules', 'tiny-pad', 'index.js'), PURE_PAD);
  const { file } = await compilePlugin(dir, manifest, { cacheDir, format: 'cjs' });
  const code = await readFile(file, 'utf8');
  assert.match(code, /require\("@postern\/sdk"\)/);
  assert.ok(!code.includes('file://'), 'no host paths in sandbox code');

  // Run it the way a sandbox would: our own module object and require.
  const required: string[] = [];
  const fakeRequire = (id: string): unknown => {
    required.push(id);
    if (id === '@postern/sdk') return sdk;
    if (id === 'node:os') return { EOL: '\n' };
    throw new Error(`not allowed: ${id}`);
  };
  const module = { exports: {} as Record<string, unknown> };
  new Function('module', 'exports', 'require', code)(module, module.exports, fakeRequire);
  assert.deepEqual(required.sort(), ['@postern/sdk']);
  const def = module.exports.default as PluginDefinition<{ word: string; domains: string[] }>;
  const h = await createHarness(def, { options: { word: 'no' } });
  assert.equal((await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'x@spam.test' })))?.message, ' NO! ');
});

test('a syntax error is PLUGIN_COMPILE_FAILED with file:line:column', async (t) => {
  const { dir, manifest, cacheDir } = await writePlugin(t);
  await writeFile(join(dir, 'src', 'helper.ts'), 'export const shout = (text: string): string => {\n  return text +;\n};\n');
  const err = await rejectsWithCompileError(compilePlugin(dir, manifest, { cacheDir, format: 'esm' }), 'plugin shout: cannot compile src/index.ts: src/helper.ts:2:16: Unexpected ";"');
  const details = (err as { details?: { errors?: unknown[] } }).details;
  assert.deepEqual(details?.errors, [{ file: 'src/helper.ts', line: 2, column: 16, text: 'Unexpected ";"' }]);
});

test('every compile failure is PLUGIN_COMPILE_FAILED: unresolved import, missing entry, unbuilt package', async (t) => {
  const { dir, manifest, cacheDir } = await writePlugin(t);
  await writeFile(join(dir, 'src', 'index.ts'), `import { nothing } from './nowhere.js';\nimport x from 'not-installed';\nexport default { nothing, x };\n`);
  await rejectsWithCompileError(
    compilePlugin(dir, manifest, { cacheDir, format: 'esm' }),
    'src/index.ts:1:25: Could not resolve "./nowhere.js"',
    'src/index.ts:2:15: Could not resolve "not-installed"',
  );
  await rejectsWithCompileError(compilePlugin(dir, { ...manifest, entry: 'src/missing.ts' }, { cacheDir, format: 'esm' }), 'entry src/missing.ts', 'does not exist');
  // A package whose main points at an unbuilt dist/ says so.
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'postern-plugin-shout', version: '1.0.0', main: 'dist/index.js' }));
  await rejectsWithCompileError(compilePlugin(dir, { ...manifest, entry: undefined }, { cacheDir, format: 'esm' }), 'entry dist/index.js', 'build the plugin');
  // A cache folder that cannot be created is also reported with the code.
  await writeFile(join(dir, 'blocker'), 'a file, not a folder');
  await rejectsWithCompileError(compilePlugin(dir, manifest, { cacheDir: join(dir, 'blocker', 'cache'), format: 'esm' }));
});

test('a plain JS plugin with no manifest entry: package.json main, else index.js', async (t) => {
  const root = await tempDir(t, 'postern-compile-js-');
  const dir = join(root, 'plain');
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'plain', version: '1.0.0', type: 'module', postern: { name: 'plain', engine: '*', hooks: [] } }));
  await writeFile(join(dir, 'index.js'), "import { accept } from '@postern/sdk';\nexport default { name: 'plain', setup() {}, verdict: accept() };\n");
  const manifest = await readManifest(dir);
  const { file } = await compilePlugin(dir, manifest, { cacheDir: join(root, 'cache'), format: 'esm' });
  const mod = (await import(pathToFileURL(file).href)) as { default: { verdict: unknown } };
  assert.deepEqual(mod.default.verdict, { action: 'accept' });
});

test('the first-party access plugin compiles from its built package and runs', async (t) => {
  const dir = join(REPO, 'plugins', 'access');
  const manifest = await readManifest(dir);
  const { file } = await compilePlugin(dir, manifest, { cacheDir: await tempDir(t, 'postern-compile-access-'), format: 'esm' });
  const mod = (await import(pathToFileURL(file).href)) as { default: PluginDefinition<Record<string, unknown>> };
  const h = await createHarness(mod.default, { options: { deny: { networks: ['192.0.2.0/24'], senders: [] } } });
  assert.equal((await h.run('connect', h.session()))?.action, 'reject');
});
