import { parse, positionals, usageError } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';
import { withDirectory } from '../open-directory.js';
import { formatTable } from '../table.js';

const help = `Usage:
  postern alias add SOURCE TARGET [TARGET...]   deliver mail for SOURCE to the targets (local or remote)
  postern alias list [DOMAIN] [--json]          list aliases
  postern alias remove SOURCE [TARGET]          remove one target, or the whole alias

Aliases expand recursively (up to 10 levels); an alias that would loop is refused.

Options:
  --config FILE   config file (default: $POSTERN_CONFIG or ./postern.yaml); only dataDir is read`;

const subs = {
  async add(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'alias');
    const [source, ...targets] = pos;
    if (source === undefined) throw usageError('missing SOURCE', 'alias');
    if (targets.length === 0) throw usageError('missing TARGET', 'alias');
    const alias = await withDirectory(ctx, values.config, (d) => d.addAlias(source, targets));
    println(ctx, `alias ${alias.source} -> ${alias.targets.join(', ')}`);
    return 0;
  },

  async list(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'alias');
    const [domain] = positionals(pos, ['DOMAIN'], 'alias', 1);
    const aliases = await withDirectory(ctx, values.config, (d) => d.listAliases(domain));
    if (values.json) println(ctx, JSON.stringify(aliases, null, 2));
    else if (aliases.length > 0) println(ctx, formatTable(['SOURCE', 'TARGETS'], aliases.map((a) => [a.source, a.targets.join(', ')])));
    return 0;
  },

  async remove(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'alias');
    const [source, target] = positionals(pos, ['SOURCE', 'TARGET'], 'alias', 1);
    await withDirectory(ctx, values.config, (d) => d.removeAlias(source!, target));
    println(ctx, target === undefined ? `removed alias ${source!.toLowerCase()}` : `removed ${target.toLowerCase()} from alias ${source!.toLowerCase()}`);
    return 0;
  },
};

export const aliasCommand: CommandGroup = {
  name: 'alias',
  summary: 'add, list and remove aliases',
  help,
  run: (args, ctx) => dispatch(aliasCommand, subs, args, ctx),
};
