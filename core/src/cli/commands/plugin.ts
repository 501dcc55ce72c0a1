import { existsSync, readFileSync } from 'node:fs';
import { setPluginEnabled } from '../../config/edit-config.js';
import { loadConfig } from '../../config/load-config.js';
import { ErrorCode, PosternError } from '../../errors.js';
import type { PluginStatus } from '../../plugin-host/plugin-host.js';
import { findPlugin } from '../../plugin-host/discover.js';
import { discover } from '../../plugin-host/plugin-loader.js';
import { runtimeFiles } from '../../runtime-files.js';
import { configPath, parse, positionals } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';
import { formatTable } from '../table.js';

const help = `Usage:
  postern plugin list [--json]   the plugins named in the config, enabled or not, where each was found,
                                 and (when the server runs) the serving generation and the last reload error
  postern plugin reload          ask the running server to rebuild its plugins from the config file;
                                 waits for the outcome (the old generation keeps serving on failure)
  postern plugin enable NAME     set plugins.NAME.enabled in the config file (comments are kept), then
  postern plugin disable NAME    reload the running server, if one runs

Options:
  --config FILE   config file (default: $POSTERN_CONFIG or ./postern.yaml)`;

const subs = {
  async list(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'plugin');
    positionals(pos, [], 'plugin');
    const config = loadConfig(configPath(ctx, values.config));
    const discovery = await discover(config);
    const rows = Object.entries(config.plugins.entries).map(([name, entry]) => {
      const bundle = discovery.bundles.find((b) => b.name === name || b.packageName === name);
      const plugin = discovery.plugins.find((p) => p.name === name || p.packageName === name);
      const problem = discovery.problems.find((p) => p.name === name);
      return {
        name,
        enabled: entry.enabled,
        kind: bundle ? 'bundle' : 'plugin',
        source: bundle ? 'npm' : (plugin?.source ?? null),
        path: bundle?.dir ?? plugin?.dir ?? null,
        problem: problem ? `${problem.error.message} (${problem.error.code})` : null,
      };
    });
    const status = readStatus(config.dataDir);
    const serving = new Map(status?.plugins.map((p) => [p.name, p.version]) ?? []);
    if (values.json) println(ctx, JSON.stringify({ plugins: rows.map((r) => ({ ...r, serving: serving.get(r.name) ?? null })), server: status ?? null }, null, 2));
    else {
      if (rows.length > 0) {
        const table = rows.map((r) => [
          r.kind === 'bundle' ? `${r.name} (bundle)` : r.name,
          r.enabled ? 'enabled' : 'disabled',
          status ? (serving.has(r.name) ? `serving ${serving.get(r.name)}` : 'not loaded') : '-',
          r.problem ?? (r.path ? `${r.source}: ${r.path}` : 'not found'),
        ]);
        println(ctx, formatTable(['PLUGIN', 'CONFIG', 'SERVER', 'FOUND'], table));
      }
      if (status) println(ctx, `server pid ${status.pid}: generation ${status.generation} since ${new Date(status.since).toISOString()}`);
      if (status?.lastError) println(ctx, `last reload FAILED at ${new Date(status.lastError.at).toISOString()}: ${status.lastError.message}${status.lastError.code ? ` (${status.lastError.code})` : ''}`);
    }
    return 0;
  },

  async reload(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'plugin');
    positionals(pos, [], 'plugin');
    const config = loadConfig(configPath(ctx, values.config));
    return requestReload(config.dataDir, ctx, true);
  },

  enable: (args: string[], ctx: CliContext) => toggle(args, ctx, true),
  disable: (args: string[], ctx: CliContext) => toggle(args, ctx, false),
};

async function toggle(args: string[], ctx: CliContext, enabled: boolean): Promise<number> {
  const { values, positionals: pos } = parse(args, {}, 'plugin');
  const [name] = positionals(pos, ['NAME'], 'plugin');
  const path = configPath(ctx, values.config);
  if (enabled) {
    // Refuse before writing: a config naming a plugin that cannot load would only fail the reload.
    const discovery = await discover(loadConfig(path));
    if (!discovery.bundles.some((b) => b.name === name || b.packageName === name)) findPlugin(discovery, name!);
  }
  setPluginEnabled(path, name!, enabled);
  println(ctx, `${enabled ? 'enabled' : 'disabled'} ${name} in ${path}`);
  return requestReload(loadConfig(path).dataDir, ctx, false);
}

/**
 * SIGHUP the running server and wait until its status file shows the outcome. With `required`
 * false, no running server is fine (the change applies at the next start).
 */
async function requestReload(dataDir: string, ctx: CliContext, required: boolean): Promise<number> {
  const files = runtimeFiles(dataDir);
  const pid = existsSync(files.pid) ? Number(readFileSync(files.pid, 'utf8').trim()) : NaN;
  if (!Number.isInteger(pid) || pid <= 0) {
    if (!required) return 0;
    throw new PosternError(ErrorCode.SERVER_NOT_RUNNING, `no running server found (${files.pid} is missing)`);
  }
  const before = readStatus(dataDir);
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    if (!required) return 0;
    throw new PosternError(ErrorCode.SERVER_NOT_RUNNING, `cannot signal server pid ${pid}: ${(err as Error).message}`);
  }
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = readStatus(dataDir);
    if (!now || statusSignature(now) === statusSignature(before)) continue;
    if (now.generation === before?.generation && now.lastError) {
      throw new PosternError(
        ErrorCode.PLUGIN_RELOAD_FAILED,
        `reload failed, generation ${now.generation} keeps serving: ${now.lastError.message}${now.lastError.code ? ` [${now.lastError.code}]` : ''}`,
      );
    }
    println(ctx, `reloaded: generation ${now.generation} serving ${now.plugins.map((p) => p.name).join(', ') || 'no plugins'}`);
    return 0;
  }
  throw new PosternError(ErrorCode.SERVER_NOT_RUNNING, `server pid ${pid} did not answer the reload within 30 s`);
}

function readStatus(dataDir: string): PluginStatus | undefined {
  try {
    return JSON.parse(readFileSync(runtimeFiles(dataDir).pluginStatus, 'utf8')) as PluginStatus;
  } catch {
    return undefined;
  }
}

/** Changes whenever a reload finished, successfully (new generation) or not (new error time). */
const statusSignature = (s: PluginStatus | undefined) => (s ? `${s.generation}/${s.lastError?.at ?? 0}` : 'none');

export const pluginCommand: CommandGroup = {
  name: 'plugin',
  summary: 'list the configured plugins; reload them in the running server',
  help,
  run: (args, ctx) => dispatch(pluginCommand, subs, args, ctx),
};
