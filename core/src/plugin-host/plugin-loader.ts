import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PluginDefinition } from '@postern/sdk';
import type { Logger } from 'pino';
import type { PosternConfig } from '../config/types.js';
import { ErrorCode, PosternError, isPosternError } from '../errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { compilePlugin } from './compile.js';
import { discoverPlugins, type Discovery, type PluginSource } from './discover.js';
import { planPlugins, type PlannedPlugin } from './load-plan.js';
import { resolvePluginOptions } from './manifest.js';
import { effectiveGrants, loadSandboxedPlugin, MemoryKvStore, reserveSandboxThreads, type KvStore, type SandboxedPlugin } from './sandbox/index.js';
import type { PluginDns } from '@postern/sdk';
import { pluginDns, pluginKv } from './plugin-capabilities.js';

/** First-party plugins ship beside core: <repo>/plugins/<name>. */
export const FIRST_PARTY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../plugins');
/** The repository's (or installation's) node_modules, where npm plugins and bundles are installed. */
const ROOT_NODE_MODULES = resolve(FIRST_PARTY_DIR, '../node_modules');

export interface LoadedPlugin {
  name: string;
  dir: string;
  version: string;
  source: PluginSource;
  trusted: boolean;
  bundle?: string;
  /** The build in the compile cache this generation runs. */
  build: string;
}

/** The compile cache of a config (content-hashed builds). */
export const compileCacheDir = (config: PosternConfig) => join(config.dataDir, 'plugin-cache');

/** Where npm plugins and bundles are looked for: beside the config file, then the installation's. */
export function nodeModulesDirs(config: PosternConfig): string[] {
  return [...new Set([join(dirname(config.configPath), 'node_modules'), ROOT_NODE_MODULES])];
}

export function discover(config: PosternConfig): Promise<Discovery> {
  return discoverPlugins({ paths: config.plugins.paths, firstPartyDir: FIRST_PARTY_DIR, nodeModulesDirs: nodeModulesDirs(config) });
}

export interface LoaderDeps {
  /**
   * Backing store of the sandbox's `kv` grant, namespaced by plugin name. It outlives generations
   * (a reload must not make a greylist forget its triplets); the server passes its SQLite store.
   * Default: one in-memory store for the process.
   */
  kv?: KvStore;
}

let processKv: KvStore | undefined;

/**
 * Load every enabled plugin of the config into `pipeline`, in config order (bundles expand in
 * place): discover, check the manifest and options, build with esbuild (cached by content), then
 * import it in-process (trusted) or load it into a vm2 sandbox (untrusted), and run its `setup`.
 * The first failure throws a PosternError naming the plugin (and, for options, the key): a
 * generation is never half-loaded.
 */
export async function loadPlugins(pipeline: Pipeline, config: PosternConfig, log: Logger, deps: LoaderDeps = {}): Promise<LoadedPlugin[]> {
  const kv = deps.kv ?? (processKv ??= new MemoryKvStore());
  // One resolver per generation, so a reload after a change of config `dns` uses the new servers.
  const dns = pluginDns(config);
  const discovery = await discover(config);
  for (const problem of discovery.problems) {
    log.warn({ plugin: problem.name, dir: problem.dir, code: problem.error.code, err: problem.error.message }, 'plugin found but unusable (matters only if enabled)');
  }
  const loaded: LoadedPlugin[] = [];
  const plan = planPlugins(discovery, config);
  // Sandboxed plugins run in worker threads, which take a while to boot: start them all now.
  const release = reserveSandboxThreads(plan.filter((p) => !p.trusted).length);
  try {
    for (const planned of plan) loaded.push(await loadOne(pipeline, planned, config, log, kv, dns));
  } finally {
    release();
  }
  return loaded;
}

async function loadOne(pipeline: Pipeline, planned: PlannedPlugin, config: PosternConfig, log: Logger, kv: KvStore, dns: PluginDns): Promise<LoadedPlugin> {
  const { plugin, section, trusted } = planned;
  const name = plugin.name;
  const timeoutMs = section.timeoutMs ?? config.plugins.timeoutMs;
  const schemaOptions = resolvePluginOptions(plugin.manifest, section);
  const compiled = await compilePlugin(plugin.dir, plugin.manifest, { cacheDir: compileCacheDir(config), format: trusted ? 'esm' : 'cjs' });

  let def: PluginDefinition | SandboxedPlugin;
  let sandboxed: SandboxedPlugin | undefined;
  if (trusted) {
    def = await importDefinition(name, compiled.file);
  } else {
    const grants = effectiveGrants(plugin.manifest.permissions, section.grants ?? {}, name);
    def = sandboxed = await loadSandboxedPlugin(await readFile(compiled.file, 'utf8'), compiled.file, grants, {
      plugin: name,
      timeoutMs,
      kv,
      dns: { servers: config.dns.servers, timeoutMs: config.dns.timeoutMs },
    });
  }

  const options: Record<string, unknown> = { ...(def.defaults as Record<string, unknown> | undefined), ...schemaOptions };
  let errors: string[];
  try {
    errors = (await def.validate?.(options)) ?? [];
  } catch (err) {
    sandboxed?.dispose();
    throw err;
  }
  if (errors.length > 0) {
    // A sandboxed plugin's worker thread would outlive the failed load: until setup, nothing else stops it.
    sandboxed?.dispose();
    throw new PosternError(ErrorCode.PLUGIN_OPTIONS_INVALID, `plugin ${name}: invalid options: ${errors.map((e) => `plugins.${name}.${e}`).join('; ')}`, { plugin: name, errors });
  }
  const owner = { plugin: name, timeoutMs, failOpen: section.failOpen ?? false };
  try {
    // Trusted plugins get dns and kv directly; a sandboxed one has them (if granted) inside its worker.
    const capabilities = trusted ? { dns, kv: pluginKv(kv, name), dataDir: config.dataDir } : {};
    await def.setup(pipeline.apiFor(owner, options, log.child({ plugin: name }), config.hostname, capabilities));
  } catch (err) {
    if (isPosternError(err)) throw err;
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: setup failed: ${(err as Error).message}`, { plugin: name }, { cause: err });
  }
  log.info({ plugin: name, version: plugin.manifest.version, source: plugin.source, trusted, bundle: planned.bundle, build: compiled.hash.slice(0, 12) }, 'plugin loaded');
  return {
    name,
    dir: plugin.dir,
    version: plugin.manifest.version,
    source: plugin.source,
    trusted,
    ...(planned.bundle ? { bundle: planned.bundle } : {}),
    build: compiled.file,
  };
}

/**
 * Import a trusted plugin's build. The build's file name carries its content hash, so an edited
 * plugin gets a new URL (ES modules cannot be unloaded; import() caches by URL) and an unchanged
 * one reuses its module: reloads do not grow memory.
 */
async function importDefinition(name: string, file: string): Promise<PluginDefinition> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: cannot import its build: ${(err as Error).message}`, { plugin: name }, { cause: err });
  }
  const def = mod.default as PluginDefinition | undefined;
  if (!def || typeof def !== 'object' || typeof def.setup !== 'function') {
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: the default export is not a plugin (use definePlugin)`, { plugin: name });
  }
  return def;
}
