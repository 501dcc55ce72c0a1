import { loadConfig } from '../../config/load-config.js';
import { isPosternError } from '../../errors.js';
import { configPath, parse, positionals } from '../args.js';
import { println, type CliContext, type CommandGroup } from '../command.js';

const help = `Usage:
  postern check-config [--config FILE]

Validates the config file and prints "ok: FILE", or one line per problem, each naming the line and
the key (postern.yaml:12: smtp.listeners[1].tls: must be one of none, starttls, implicit), and
exits 1.`;

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
    try {
      loadConfig(path);
    } catch (err) {
      const errors = isPosternError(err) ? err.details?.errors : undefined;
      if (!isPosternError(err) || !Array.isArray(errors)) throw err;
      for (const line of errors) ctx.stderr.write(`${String(line)}\n`);
      ctx.stderr.write(`postern: ${path}: ${errors.length} error${errors.length === 1 ? '' : 's'} (${err.code})\n`);
      return 1;
    }
    println(ctx, `ok: ${path}`);
    return 0;
  },
};
