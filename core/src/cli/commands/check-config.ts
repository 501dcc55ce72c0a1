import { basename } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import type { PosternConfig } from '../../config/types.js';
import { isPosternError } from '../../errors.js';
import { planPlugins } from '../../plugin-host/load-plan.js';
import { validatePluginOptions } from '../../plugin-host/manifest.js';
import { discover } from '../../plugin-host/plugin-loader.js';
import { configPath, parse, positionals } from '../args.js';
import { println, type CliContext, type CommandGroup } from '../command.js';

const help = `Usage:
  postern check-config [--config FILE]

Validates the config file and prints "ok: FILE", or one line per problem, each naming the line and
the key (postern.yaml:12: smtp.listeners[1].tls: must be one of none, starttls, implicit), and
exits 1. Then checks every enabled plugin the way the server loads it: it must be found, its
manifest readable, and its section must match the options schema of its manifest
(postern.yaml: plugins.spamassassin.port: must be <= 65535). A plugin's own validate() runs
only when the server loads it.`;

/** Problems of the enabled plugins: not found, broken manifest, options against the schema. */
async function pluginProblems(config: PosternConfig): Promise<string[]> {
  try {
    const plan = planPlugins(await discover(config), config);
    return plan.flatMap((planned) => validatePluginOptions(planned.plugin.manifest, planned.section).errors);
  } catch (err) {
    if (!isPosternError(err)) throw err;
    return [`${err.message} (${err.code})`];
  }
}

export const checkConfigCommand: CommandGroup = {
  name: 'check-config',
  summary: 'validate the config file',
  help,
  async run(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'check-config');
    if (values.help) {
      println(ctx, help);
      return 0;
    }
    positionals(pos, [], 'check-config');
    const path = configPath(ctx, values.config);
    let config: PosternConfig;
    try {
      config = loadConfig(path);
    } catch (err) {
      const errors = isPosternError(err) ? err.details?.errors : undefined;
      if (!isPosternError(err) || !Array.isArray(errors)) throw err;
      for (const line of errors) ctx.stderr.write(`${String(line)}\n`);
      ctx.stderr.write(`postern: ${path}: ${errors.length} error${errors.length === 1 ? '' : 's'} (${err.code})\n`);
      return 1;
    }
    const problems = await pluginProblems(config);
    if (problems.length > 0) {
      for (const line of problems) ctx.stderr.write(`${basename(path)}: ${line}\n`);
      ctx.stderr.write(`postern: ${path}: ${problems.length} plugin problem${problems.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    println(ctx, `ok: ${path}`);
    return 0;
  },
};
