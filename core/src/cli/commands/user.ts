import { formatSize, parse, parseSize, positionals } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';
import { withDirectory } from '../open-directory.js';
import { readPassword } from '../password-input.js';
import { formatFields, formatTable } from '../table.js';
import type { User } from '../../directory/directory.js';
import { ErrorCode, PosternError } from '../../errors.js';

const help = `Usage:
  postern user add ADDRESS [--password P | --password-stdin] [--name NAME] [--quota SIZE]
  postern user list [DOMAIN] [--json]
  postern user show ADDRESS [--json]
  postern user passwd ADDRESS [--password P | --password-stdin]
  postern user set ADDRESS [--name NAME] [--quota SIZE]
  postern user remove ADDRESS

Without --password or --password-stdin the password is read from the first line of stdin, or
prompted for (hidden) when stdin is a terminal. Passwords need at least 8 characters.
SIZE: bytes, or with a unit: 1024K, 500M, 2G; "unlimited" for no quota (the default).

Options:
  --config FILE   config file (default: $POSTERN_CONFIG or ./postern.yaml); only dataDir is read`;

const PASSWORD_OPTIONS = { password: { type: 'string' }, 'password-stdin': { type: 'boolean' } } as const;

function userNotFound(address: string): PosternError {
  return new PosternError(ErrorCode.USER_NOT_FOUND, `user ${address.toLowerCase()} does not exist`, { address });
}

function json(user: User, usage: number): Record<string, unknown> {
  return { ...user, usageBytes: usage };
}

const subs = {
  async add(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { ...PASSWORD_OPTIONS, name: { type: 'string' }, quota: { type: 'string' } }, 'user');
    const [address] = positionals(pos, ['ADDRESS'], 'user');
    const quotaBytes = values.quota === undefined ? null : parseSize(values.quota, 'user');
    const password = await readPassword(ctx, { password: values.password, fromStdin: values['password-stdin'] ?? false });
    const user = await withDirectory(ctx, values.config, (d) => d.addUser(address!, password, { displayName: values.name ?? null, quotaBytes }));
    println(ctx, `added user ${user.address}`);
    return 0;
  },

  async list(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'user');
    const [domain] = positionals(pos, ['DOMAIN'], 'user', 1);
    const rows = await withDirectory(ctx, values.config, async (d) => {
      const users = await d.listUsers(domain);
      return Promise.all(users.map(async (u) => ({ user: u, usage: await d.getUsage(u.address) })));
    });
    if (values.json) println(ctx, JSON.stringify(rows.map((r) => json(r.user, r.usage)), null, 2));
    else if (rows.length > 0) {
      println(
        ctx,
        formatTable(
          ['ADDRESS', 'NAME', 'QUOTA', 'USED'],
          rows.map(({ user, usage }) => [user.address, user.displayName ?? '-', formatSize(user.quotaBytes), formatSize(usage)]),
        ),
      );
    }
    return 0;
  },

  async show(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { json: { type: 'boolean' } }, 'user');
    const [address] = positionals(pos, ['ADDRESS'], 'user');
    const { user, usage } = await withDirectory(ctx, values.config, async (d) => {
      const found = await d.getUser(address!);
      if (!found) throw userNotFound(address!);
      return { user: found, usage: await d.getUsage(found.address) };
    });
    if (values.json) {
      println(ctx, JSON.stringify(json(user, usage), null, 2));
      return 0;
    }
    const optional = (v: string | null) => v ?? '-';
    println(
      ctx,
      formatFields([
        ['address', user.address],
        ['name', optional(user.displayName)],
        ['title', optional(user.title)],
        ['phone', optional(user.phone)],
        ['url', optional(user.url)],
        ['postal address', optional(user.postalAddress)],
        ['notes', optional(user.notes)],
        ['quota', formatSize(user.quotaBytes)],
        ['used', formatSize(usage)],
        ['created', new Date(user.createdAt).toISOString()],
      ]),
    );
    return 0;
  },

  async passwd(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, PASSWORD_OPTIONS, 'user');
    const [address] = positionals(pos, ['ADDRESS'], 'user');
    // Fail on an unknown user before asking for a password nobody needs.
    await withDirectory(ctx, values.config, async (d) => {
      if (!(await d.getUser(address!))) throw userNotFound(address!);
    });
    const password = await readPassword(ctx, { password: values.password, fromStdin: values['password-stdin'] ?? false });
    await withDirectory(ctx, values.config, (d) => d.setPassword(address!, password));
    println(ctx, `changed the password of ${address!.toLowerCase()}`);
    return 0;
  },

  async set(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { name: { type: 'string' }, quota: { type: 'string' } }, 'user');
    const [address] = positionals(pos, ['ADDRESS'], 'user');
    const fields = {
      ...(values.name !== undefined ? { displayName: values.name } : {}),
      ...(values.quota !== undefined ? { quotaBytes: parseSize(values.quota, 'user') } : {}),
    };
    const user = await withDirectory(ctx, values.config, (d) => d.updateUser(address!, fields));
    println(ctx, `updated user ${user.address}`);
    return 0;
  },

  async remove(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'user');
    const [address] = positionals(pos, ['ADDRESS'], 'user');
    await withDirectory(ctx, values.config, (d) => d.removeUser(address!));
    println(ctx, `removed user ${address!.toLowerCase()} (its mail folder is left on disk)`);
    return 0;
  },
};

export const userCommand: CommandGroup = {
  name: 'user',
  summary: 'add, list, show, change and remove mailbox users',
  help,
  run: (args, ctx) => dispatch(userCommand, subs, args, ctx),
};
