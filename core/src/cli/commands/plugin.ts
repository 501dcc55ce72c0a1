import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/load-config.js';
import { configPath, parse, positionals } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';
import { formatTable } from '../table.js';

const help = `Usage:
  postern plugin list [--json]   the plugins named in the config, enabled or not, and where each was found

Options:
  --config FILE   config file (default: $POSTERN_CONFIG or ./postern.yaml)`;

/** The first-party plugins/ folder of this installation (core/dist/cli/commands → ../../../../plugins). */
const FIRST_PARTY = fileURLToPath(new URL('../../../../plugins/', import.meta.url));

const subs = {
  async list(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'plugin');
    positionals(pos, [], 'plugin');
    const config = loadConfig(configPath(ctx, values.config));
    const folders = [FIRST_PARTY, ...config.plugins.paths];
    const rows = Object.entries(config.plugins.entries).map(([name, entry]) => ({
      name,
      enabled: entry.enabled,
      path: folders.map((f) => join(f, name)).find((p) => existsSync(p)) ?? null,
    }));
    if (values.json) println(ctx, JSON.stringify(rows, null, 2));
    else if (rows.length > 0) {
      println(ctx, formatTable(['PLUGIN', 'STATUS', 'FOUND'], rows.map((r) => [r.name, r.enabled ? 'enabled' : 'disabled', r.path ?? 'not found'])));
    }
    return 0;
  },
};

export const pluginCommand: CommandGroup = {
  name: 'plugin',
  summary: 'list the configured plugins',
  help,
  run: (args, ctx) => dispatch(pluginCommand, subs, args, ctx),
};
