/**
 * TypeScript (or JavaScript) plugins built at load with esbuild into one file under a cache
 * folder, named by a hash of everything that went into it:
 *   <cacheDir>/<name>-<hash>.mjs   format 'esm': imported in-process (trusted plugins)
 *   <cacheDir>/<name>-<hash>.cjs   format 'cjs': run by the sandbox, which provides @postern/sdk
 *
 * The hash covers the content of every file esbuild loaded (the metafile's inputs), the plugin's
 * package.json / postern.json / tsconfig.json (they steer resolution and TS settings), the entry,
 * the esbuild version, the format and, for 'esm', where the sdk lives. A side file remembers the
 * inputs of the last build, so an unchanged plugin is recognised by hashing those files again,
 * without running esbuild. Known blind spot: a new file that would change how an import resolves
 * (helper.ts added beside an imported helper.js) is not seen until some input changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { SANDBOX_BUILD_OPTIONS } from './sandbox/sandbox-source.js';
import type { Loader, Message, Plugin } from 'esbuild';
import type { PluginManifest } from '@postern/sdk';
import { ErrorCode, PosternError, isPosternError } from '../errors.js';

export type CompileFormat = 'esm' | 'cjs';

export interface CompileOptions {
  /** Where built files go (e.g. <dataDir>/plugin-cache); created when missing. */
  cacheDir: string;
  /** 'esm' to import() in-process; 'cjs' for the sandbox. */
  format: CompileFormat;
}

export interface CompiledPlugin {
  /** Absolute path of the built file. */
  file: string;
  /** The content hash in its name. */
  hash: string;
}

/** One esbuild error, as reported in PosternError details. Line and column are 1-based. */
export interface CompileDiagnostic {
  file?: string;
  line?: number;
  column?: number;
  text: string;
}

/** Bump when the build options change, so files built the old way are not reused. */
const BUILD_RECIPE = '1';
const SDK = /^@postern\/sdk(?:\/.*)?$/;
/** Files that steer resolution or compilation without being inputs themselves. */
const STEERING_FILES = ['package.json', 'postern.json', 'tsconfig.json'];
/** Extensions whose files the build reads itself (see readingPlugin); others esbuild reads. */
const LOADERS: Record<string, Loader> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.tsx': 'tsx',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.jsx': 'jsx',
  '.json': 'json',
};
/**
 * ESM output has no `require`; a bundled CommonJS dependency that calls require('node:fs') would
 * throw "Dynamic require is not supported" without one.
 */
const ESM_BANNER = "import { createRequire as __posternCreateRequire } from 'node:module'; const require = __posternCreateRequire(import.meta.url);";

const requireFromCore = createRequire(import.meta.url);

interface InputsIndex {
  inputs: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(plugin: string, dir: string, message: string, extra: Record<string, unknown> = {}, cause?: unknown): PosternError {
  return new PosternError(ErrorCode.PLUGIN_COMPILE_FAILED, `plugin ${plugin}: ${message}`, { plugin, dir, ...extra }, cause === undefined ? undefined : { cause });
}

/** The file an `exports` value points at for an importer in Node (types skipped). */
function exportTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const item of value) {
      const target = exportTarget(item);
      if (target) return target;
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  if (Object.keys(value).some((key) => key.startsWith('.'))) return exportTarget(value['.']);
  for (const condition of ['import', 'node', 'default', 'require']) {
    const target = exportTarget(value[condition]);
    if (target) return target;
  }
  return undefined;
}

/**
 * The file to build: the manifest's `entry`, else package.json `exports["."]` / `main`, else
 * index.ts, else index.js. Absolute.
 * @throws PosternError PLUGIN_COMPILE_FAILED when the file is missing.
 * @example
 * await resolveEntry('/srv/plugins/greylist', manifest); // '/srv/plugins/greylist/src/index.ts'
 */
export async function resolveEntry(dir: string, manifest: PluginManifest): Promise<string> {
  if (manifest.entry !== undefined) {
    const file = resolve(dir, manifest.entry);
    if (!existsSync(file)) throw fail(manifest.name, dir, `entry ${manifest.entry} (the manifest's "entry") does not exist in ${dir}`);
    return file;
  }
  let pkg: unknown;
  try {
    pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as unknown;
  } catch {
    pkg = undefined;
  }
  const declared = isRecord(pkg) ? (exportTarget(pkg.exports) ?? (typeof pkg.main === 'string' ? pkg.main : undefined)) : undefined;
  if (declared !== undefined) {
    const file = resolve(dir, declared);
    if (!existsSync(file)) {
      throw fail(manifest.name, dir, `entry ${declared} (package.json exports/main) does not exist in ${dir}: build the plugin, or set "entry" (e.g. "src/index.ts") in its manifest`);
    }
    return file;
  }
  for (const name of ['index.ts', 'index.js']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  throw fail(manifest.name, dir, `no entry in ${dir}: set "entry" in the manifest, "main" in package.json, or add index.ts`);
}

/** The absolute file URL the host's copy of an sdk specifier resolves to. */
function sdkUrl(specifier: string): string {
  // realpath: workspaces link node_modules/@postern/sdk to sdk/, and Node keys modules by real
  // path, so this is the very module instance the core itself uses.
  return pathToFileURL(realpathSync(requireFromCore.resolve(specifier))).href;
}

/**
 * @postern/sdk is never bundled: a plugin must share the host's (Stage constants, verdict helpers),
 * whatever copy it installed itself. 'esm' points the import at the host's file; 'cjs' leaves the
 * bare name for the sandbox's require.
 */
function sdkPlugin(format: CompileFormat): Plugin {
  return {
    name: 'postern-sdk',
    setup(build) {
      build.onResolve({ filter: SDK }, (args) => {
        if (format === 'cjs') return { path: args.path, external: true };
        try {
          return { path: sdkUrl(args.path), external: true };
        } catch (err) {
          return { errors: [{ text: `cannot resolve ${args.path} from the Postern host: ${(err as Error).message}` }] };
        }
      });
    },
  };
}

/** Reads source files itself, so the hash is of exactly the bytes that were compiled. */
function readingPlugin(read: Map<string, Buffer>): Plugin {
  return {
    name: 'postern-read',
    setup(build) {
      build.onLoad({ filter: /.*/, namespace: 'file' }, async (args) => {
        const loader = LOADERS[extname(args.path)];
        if (loader === undefined) return undefined;
        const contents = await readFile(args.path);
        read.set(args.path, contents);
        return { contents, loader };
      });
    },
  };
}

function diagnostics(messages: readonly Message[]): CompileDiagnostic[] {
  return messages.map((m) => {
    const d: CompileDiagnostic = { text: m.pluginName ? `[${m.pluginName}] ${m.text}` : m.text };
    if (m.location) {
      d.file = m.location.file;
      d.line = m.location.line;
      // esbuild counts columns from 0; editors and `file:line:col` links count from 1.
      d.column = m.location.column + 1;
    }
    return d;
  });
}

function formatDiagnostic(d: CompileDiagnostic): string {
  return d.file !== undefined ? `${d.file}:${d.line}:${d.column}: ${d.text}` : d.text;
}

/** The cache key: the build recipe and the bytes of every input and steering file, by path. */
async function hashOf(dir: string, entry: string, inputs: readonly string[], format: CompileFormat, read: ReadonlyMap<string, Buffer>): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`${BUILD_RECIPE}\0${esbuild.version}\0${format}\0${entry}\0`);
  if (format === 'esm') hash.update(`${sdkUrl('@postern/sdk')}\0`);
  const files = [...new Set([...inputs, ...STEERING_FILES.map((f) => join(dir, f))])].sort();
  for (const file of files) {
    const content = read.get(file) ?? (await readFile(file).catch(() => undefined));
    hash.update(`${file}\0${content === undefined ? '-' : createHash('sha256').update(content).digest('hex')}\0`);
  }
  return hash.digest('hex').slice(0, 16);
}

function outputName(name: string, hash: string, format: CompileFormat): string {
  return `${name}-${hash}.${format === 'esm' ? 'mjs' : 'cjs'}`;
}

/** The side file listing the last build's inputs; one per plugin folder and format. */
function indexPath(cacheDir: string, name: string, dir: string, format: CompileFormat): string {
  const dirKey = createHash('sha256').update(dir).digest('hex').slice(0, 8);
  return join(cacheDir, `${name}-${format}-${dirKey}.inputs.json`);
}

async function writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function cached(cacheDir: string, dir: string, entry: string, name: string, format: CompileFormat): Promise<CompiledPlugin | undefined> {
  let index: InputsIndex;
  try {
    index = JSON.parse(await readFile(indexPath(cacheDir, name, dir, format), 'utf8')) as InputsIndex;
  } catch {
    return undefined;
  }
  if (!Array.isArray(index.inputs) || index.inputs.some((input) => !existsSync(input))) return undefined;
  const hash = await hashOf(dir, entry, index.inputs, format, new Map());
  const file = join(cacheDir, outputName(name, hash, format));
  return existsSync(file) ? { file, hash } : undefined;
}

async function build(dir: string, entry: string, name: string, options: CompileOptions): Promise<CompiledPlugin> {
  const read = new Map<string, Buffer>();
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: dir,
      bundle: true,
      // The sandbox's build: CommonJS, no Node built-ins (a bundle needing one fails here, at load,
      // not at its first call), async lowered so no sandbox code runs outside a timed call.
      ...(options.format === 'cjs' ? { ...SANDBOX_BUILD_OPTIONS, mainFields: ['module', 'main'] } : { platform: 'node' as const, target: 'node20', format: 'esm' as const }),
      write: false,
      metafile: true,
      logLevel: 'silent',
      // Not written (write: false); it places the inline source map's paths relative to the cache.
      outfile: join(options.cacheDir, outputName(name, 'build', options.format)),
      sourcemap: 'inline',
      sourcesContent: false,
      ...(options.format === 'esm' ? { banner: { js: ESM_BANNER } } : {}),
      plugins: [sdkPlugin(options.format), readingPlugin(read)],
    });
  } catch (err) {
    const errors = diagnostics((err as { errors?: Message[] }).errors ?? []);
    const lines = errors.length > 0 ? errors.map(formatDiagnostic) : [(err as Error).message];
    throw fail(name, dir, `cannot compile ${relative(dir, entry)}: ${lines.join('; ')}`, { errors }, err);
  }
  const output = result.outputFiles.find((f) => f.path.endsWith('.mjs') || f.path.endsWith('.cjs')) ?? result.outputFiles[0];
  if (!output) throw fail(name, dir, `esbuild produced no output for ${relative(dir, entry)}`);
  const inputs = Object.keys(result.metafile.inputs)
    .map((input) => (isAbsolute(input) ? input : resolve(dir, input)))
    .filter((input) => existsSync(input));
  const hash = await hashOf(dir, entry, inputs, options.format, read);
  const file = join(options.cacheDir, outputName(name, hash, options.format));
  await writeAtomically(file, output.contents);
  await writeAtomically(indexPath(options.cacheDir, name, dir, options.format), JSON.stringify({ inputs } satisfies InputsIndex));
  return { file, hash };
}

/**
 * Build the plugin in `dir` (TypeScript or JavaScript, its local modules and npm dependencies
 * bundled in; node builtins and @postern/sdk left as imports) into the cache, or return the
 * cached file when no input changed since it was built.
 * @throws PosternError PLUGIN_COMPILE_FAILED, and nothing else: the message lists
 *   `file:line:column: text` for each esbuild error (1-based, file relative to `dir`), and
 *   `details.errors` holds them as CompileDiagnostic.
 * @example
 * const { file } = await compilePlugin(plugin.dir, plugin.manifest, { cacheDir: join(dataDir, 'plugin-cache'), format: 'esm' });
 * const def = (await import(pathToFileURL(file).href)).default;
 */
export async function compilePlugin(pluginDir: string, manifest: PluginManifest, options: CompileOptions): Promise<CompiledPlugin> {
  // esbuild wants an absolute working folder, and the cache key uses absolute paths.
  const dir = resolve(pluginDir);
  const absolute: CompileOptions = { ...options, cacheDir: resolve(options.cacheDir) };
  try {
    const entry = await resolveEntry(dir, manifest);
    await mkdir(absolute.cacheDir, { recursive: true });
    return (await cached(absolute.cacheDir, dir, entry, manifest.name, absolute.format)) ?? (await build(dir, entry, manifest.name, absolute));
  } catch (err) {
    if (isPosternError(err, ErrorCode.PLUGIN_COMPILE_FAILED)) throw err;
    throw fail(manifest.name, dir, `cannot compile: ${(err as Error).message}`, {}, err);
  }
}

/**
 * Delete built plugin files in `cacheDir` other than `keep` (absolute paths), e.g. after a new
 * generation became current: each edit of a plugin leaves a file behind otherwise. A file already
 * imported is in memory and is not needed on disk any more.
 * @example
 * await pruneCompileCache(cacheDir, current.map((p) => p.file));
 */
export async function pruneCompileCache(cacheDir: string, keep: Iterable<string>): Promise<number> {
  const kept = new Set([...keep].map((file) => basename(file)));
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const stale = names.filter((n) => /-[0-9a-f]{16}\.(?:mjs|cjs)$/.test(n) && !kept.has(n));
  await Promise.all(stale.map((n) => rm(join(cacheDir, n), { force: true })));
  return stale.length;
}
