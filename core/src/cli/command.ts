/**
 * The shape of a CLI command group (`postern domain ...`) and what it gets to talk to the world.
 * Commands write through the context, not process.stdout, so they can run inside a test.
 */
import { usageError } from './args.js';

export interface CliContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** `isTTY` tells an interactive terminal (prompt) from a pipe (read a line). */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  env: NodeJS.ProcessEnv;
  /** `--config FILE` given before the command name (`postern --config x domain list`). */
  globalConfig: string | undefined;
}

export interface CommandGroup {
  /** The word after `postern`. */
  name: string;
  /** One line for `postern --help`. */
  summary: string;
  /** Full help text for `postern help NAME`. */
  help: string;
  /** Run with the arguments after the command name; resolves to the exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}

/** Write one line to stdout. */
export function println(ctx: CliContext, text = ''): void {
  ctx.stdout.write(`${text}\n`);
}

export type Subcommand = (args: string[], ctx: CliContext) => Promise<number>;

/**
 * Run `postern <group> <sub> ...`: picks the subcommand, and answers `--help` anywhere in the
 * arguments with the group's help.
 */
export async function dispatch(group: CommandGroup, subs: Record<string, Subcommand>, args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'help' || args.includes('--help') || args.includes('-h')) {
    if (sub === undefined) {
      ctx.stderr.write(`${group.help}\n`);
      return 2;
    }
    println(ctx, group.help);
    return 0;
  }
  const run = Object.hasOwn(subs, sub) ? subs[sub] : undefined;
  if (!run) {
    throw usageError(`unknown subcommand "${group.name} ${sub}" (${Object.keys(subs).join(', ')})`, group.name);
  }
  return run(rest, ctx);
}
