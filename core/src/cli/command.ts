/**
 * The shape of a CLI command group (`postern domain ...`) and what it gets to talk to the world.
 * Commands write through the context, not process.stdout, so they can run inside a test.
 */

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
