import { formatTable } from '../table.js';
import { parse, positionals, usageError } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';
import { withDirectory } from '../open-directory.js';

const help = `Usage:
  postern domain add NAME [--catch-all ADDRESS]   add a local domain
  postern domain list [--json]                    list local domains
  postern domain remove NAME [--force]            remove a domain (--force: with its users and aliases)
  postern domain catch-all NAME ADDRESS|--none    set or clear the catch-all address

Options:
  --config FILE   config file (default: $POSTERN_CONFIG or ./postern.yaml); only dataDir is read`;

const subs = {
  async add(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { 'catch-all': { type: 'string' } }, 'domain');
    const [name] = positionals(pos, ['NAME'], 'domain');
    const domain = await withDirectory(ctx, values.config, (d) => d.addDomain(name!, { catchAll: values['catch-all'] ?? null }));
    println(ctx, `added domain ${domain.name}${domain.catchAll ? ` (catch-all ${domain.catchAll})` : ''}`);
    return 0;
  },

  async list(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'domain');
    positionals(pos, [], 'domain');
    const rows = await withDirectory(ctx, values.config, async (d) => {
      const [domains, users, aliases] = await Promise.all([d.listDomains(), d.listUsers(), d.listAliases()]);
      const count = (items: Array<{ domain: string }>, name: string) => items.filter((i) => i.domain === name).length;
      const aliasDomains = aliases.map((a) => ({ domain: a.source.slice(a.source.lastIndexOf('@') + 1) }));
      return domains.map((dom) => ({ ...dom, users: count(users, dom.name), aliases: count(aliasDomains, dom.name) }));
    });
    if (values.json) println(ctx, JSON.stringify(rows, null, 2));
    else if (rows.length > 0) {
      println(ctx, formatTable(['DOMAIN', 'USERS', 'ALIASES', 'CATCH-ALL'], rows.map((r) => [r.name, String(r.users), String(r.aliases), r.catchAll ?? '-'])));
    }
    return 0;
  },

  async remove(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { force: { type: 'boolean' } }, 'domain');
    const [name] = positionals(pos, ['NAME'], 'domain');
    await withDirectory(ctx, values.config, (d) => d.removeDomain(name!, { force: values.force ?? false }));
    println(ctx, `removed domain ${name!.toLowerCase()}`);
    return 0;
  },

  async 'catch-all'(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { none: { type: 'boolean' } }, 'domain');
    const [name, target] = positionals(pos, ['NAME', 'ADDRESS'], 'domain', values.none ? 1 : 0);
    if (values.none && target !== undefined) {
      throw usageError('give either ADDRESS or --none', 'domain');
    }
    await withDirectory(ctx, values.config, (d) => d.setCatchAll(name!, values.none ? null : target!));
    println(ctx, values.none ? `cleared the catch-all of ${name!.toLowerCase()}` : `catch-all of ${name!.toLowerCase()} is now ${target!.toLowerCase()}`);
    return 0;
  },
};

export const domainCommand: CommandGroup = {
  name: 'domain',
  summary: 'add, list and remove local domains; set catch-alls',
  help,
  run: (args, ctx) => dispatch(domainCommand, subs, args, ctx),
};
