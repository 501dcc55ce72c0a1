import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PluginDefinition } from '@postern/sdk';
import type { Logger } from 'pino';
import type { PluginConfig, PosternConfig } from '../config/types.js';
import { ErrorCode, PosternError } from '../errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';

/** First-party plugins ship beside core: <repo>/plugins/<name>. */
export const FIRST_PARTY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../plugins');

/** Options a plugin never sees: they configure the host's handling of it. */
const HOST_KEYS = new Set(['enabled', 'failOpen', 'timeoutMs']);

export interface LoadedPlugin {
  name: string;
  dir: string;
  version: string;
}

/** The folder of plugin `name`: config plugins.paths first (in order), then first-party. */
export function findPluginDir(name: string, config: PosternConfig): string | undefined {
  for (const root of [...config.plugins.paths, FIRST_PARTY_DIR]) {
    const dir = join(root, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

async function importDefinition(name: string, dir: string): Promise<{ def: PluginDefinition; version: string }> {
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    version?: string;
    main?: string;
    exports?: string | Record<string, string | Record<string, string>>;
  };
  const dot = typeof pkg.exports === 'string' ? pkg.exports : pkg.exports?.['.'];
  const entry = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default ?? pkg.main ?? 'index.js');
  const file = join(dir, entry);
  if (!existsSync(file)) {
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: entry ${entry} does not exist (is the plugin built? run npm run build)`, { plugin: name });
  }
  // ES modules cannot be unloaded, and import() caches by URL: the content hash in the URL makes
  // an edited file load anew on reload, while an unchanged one reuses its module (no growth).
  const url = `${pathToFileURL(file).href}?v=${createHash('sha256').update(await readFile(file)).digest('hex').slice(0, 16)}`;
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: cannot import ${entry}: ${(err as Error).message}`, { plugin: name }, { cause: err });
  }
  const def = mod.default as PluginDefinition | undefined;
  if (!def || typeof def !== 'object' || typeof def.setup !== 'function') {
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: the default export is not a plugin (use definePlugin)`, { plugin: name });
  }
  return { def, version: pkg.version ?? '0.0.0' };
}

/**
 * Load every enabled plugin of the config into `pipeline`, in config order. The first failure
 * throws a PosternError that names the plugin (and, for options, the key): a server never starts
 * with a half-loaded plugin set.
 */
export async function loadPlugins(pipeline: Pipeline, config: PosternConfig, log: Logger): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const [name, entry] of Object.entries(config.plugins.entries)) {
    if (!entry.enabled) continue;
    const dir = findPluginDir(name, config);
    if (!dir) {
      throw new PosternError(ErrorCode.PLUGIN_NOT_FOUND, `plugin ${name} not found (looked in ${[...config.plugins.paths, FIRST_PARTY_DIR].join(', ')})`, { plugin: name });
    }
    const { def, version } = await importDefinition(name, dir);
    const options = pluginOptions(def, entry);
    const errors = def.validate?.(options) ?? [];
    if (errors.length > 0) {
      throw new PosternError(ErrorCode.PLUGIN_OPTIONS_INVALID, `plugin ${name}: invalid options: ${errors.map((e) => `plugins.${name}.${e}`).join('; ')}`, { plugin: name, errors });
    }
    const owner = { plugin: name, timeoutMs: entry.timeoutMs ?? config.plugins.timeoutMs, failOpen: entry.failOpen ?? false };
    const pluginLog = log.child({ plugin: name });
    try {
      await def.setup(pipeline.apiFor(owner, options, pluginLog, config.hostname));
    } catch (err) {
      throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${name}: setup failed: ${(err as Error).message}`, { plugin: name }, { cause: err });
    }
    loaded.push({ name, dir, version });
    log.info({ plugin: name, version, dir }, 'plugin loaded');
  }
  return loaded;
}

function pluginOptions(def: PluginDefinition, entry: PluginConfig): Record<string, unknown> {
  const options: Record<string, unknown> = { ...(def.defaults as Record<string, unknown> | undefined) };
  for (const [key, value] of Object.entries(entry)) if (!HOST_KEYS.has(key)) options[key] = value;
  return options;
}
