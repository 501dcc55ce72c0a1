/**
 * The `postern` command line: global flags, the command table, help, and the one place where
 * failures become `postern: <message> (<CODE>)` on stderr with exit code 1 (2 for usage errors).
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, isPosternError } from '../errors.js';
import { usageError } from './args.js';
import { println, type CliContext, type CommandGroup } from './command.js';
import { aliasCommand } from './commands/alias.js';
import { checkConfigCommand } from './commands/check-config.js';
import { dkimCommand } from './commands/dkim.js';
import { domainCommand } from './commands/domain.js';
import { initCommand } from './commands/init.js';
import { pluginCommand } from './commands/plugin.js';
import { queueCommand } from './commands/queue.js';
import { startCommand } from './commands/start.js';
import { userCommand } from './commands/user.js';

const COMMANDS: readonly CommandGroup[] = [initCommand, startCommand, checkConfigCommand, domainCommand, userCommand, aliasCommand, pluginCommand, queueCommand, dkimCommand];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: postern [--config FILE] COMMAND [ARGS]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Global options:
  --config FILE   config file (default: $POSTERN_CONFIG, else ./postern.yaml)
  --help, -h      this help; \`postern help COMMAND\` for one command
  --version       print the version

Failures print "postern: <message> (<CODE>)" on stderr and exit 1 (2 for wrong arguments).`;
}

function find(name: string): CommandGroup {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw usageError(`unknown command "${name}"`);
  return command;
}

async function dispatchTop(argv: string[], ctx: CliContext): Promise<number> {
  const args = [...argv];
  // Flags before the command name apply to the whole run.
  while (args[0]?.startsWith('-')) {
    const flag = args.shift()!;
    if (flag === '--help' || flag === '-h') {
      println(ctx, mainHelp());
      return 0;
    }
    if (flag === '--version' || flag === '-V') {
      println(ctx, version());
      return 0;
    }
    if (flag === '--config' || flag.startsWith('--config=')) {
      const value = flag === '--config' ? args.shift() : flag.slice('--config='.length);
      if (!value) throw usageError('--config needs a FILE');
      ctx.globalConfig = value;
      continue;
    }
    throw usageError(`unknown option "${flag}"`);
  }
  const [name, ...rest] = args;
  if (name === undefined) {
    ctx.stderr.write(`${mainHelp()}\n`);
    return 2;
  }
  if (name === 'help') {
    if (rest[0] === undefined) println(ctx, mainHelp());
    else println(ctx, find(rest[0]).help);
    return 0;
  }
  return find(name).run(rest, ctx);
}

/**
 * Run the CLI with `argv` (without node and the script) and resolve to the exit code.
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), defaultContext());
 */
export async function runCli(argv: string[], ctx: CliContext): Promise<number> {
  try {
    return await dispatchTop(argv, ctx);
  } catch (err) {
    if (isPosternError(err)) {
      const errors = err.details?.errors;
      // A config with several problems: list them all, then the summary line.
      if (Array.isArray(errors) && errors.length > 1) for (const line of errors) ctx.stderr.write(`${String(line)}\n`);
      ctx.stderr.write(`postern: ${err.message} (${err.code})\n`);
      return err.code === ErrorCode.USAGE ? 2 : 1;
    }
    ctx.stderr.write(`postern: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    if (ctx.env.POSTERN_DEBUG) ctx.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    return 1;
  }
}

/** The real process's streams and environment. */
export function processContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, globalConfig: undefined };
}
