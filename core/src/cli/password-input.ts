/**
 * Where `user add` / `user passwd` get the password: a flag (visible in `ps`, fine for scripts
 * on a private box), the first line of stdin (pipes, `--password-stdin`), or a hidden prompt when
 * a person is at a terminal.
 */
import { ErrorCode, PosternError } from '../errors.js';
import type { CliContext } from './command.js';

export interface PasswordSource {
  /** The --password value, if given. */
  password: string | undefined;
  /** --password-stdin was given. */
  fromStdin: boolean;
}

export async function readPassword(ctx: CliContext, source: PasswordSource): Promise<string> {
  if (source.password !== undefined) {
    if (source.fromStdin) throw new PosternError(ErrorCode.USAGE, 'give either --password or --password-stdin, not both');
    return source.password;
  }
  if (source.fromStdin || !ctx.stdin.isTTY) {
    const line = await readFirstLine(ctx.stdin);
    if (line === '') {
      throw new PosternError(ErrorCode.WEAK_PASSWORD, 'no password on stdin; pipe one in, or pass --password, or run at a terminal to be prompted');
    }
    return line;
  }
  const first = await promptHidden(ctx, 'Password: ');
  const again = await promptHidden(ctx, 'Repeat password: ');
  if (first !== again) throw new PosternError(ErrorCode.USAGE, 'the passwords do not match');
  return first;
}

/** The first line of the stream (without its line ending), or everything when there is no newline. */
export function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const finish = (line: string) => {
      stream.off('data', onData).off('end', onEnd).off('error', onError);
      // Stop reading: the rest of stdin is not ours, and an open pipe would keep the process alive.
      stream.pause();
      (stream as { destroy?: () => void }).destroy?.();
      resolve(line.replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl !== -1) finish(text.slice(0, nl));
    };
    const onEnd = () => finish(text);
    const onError = (err: Error) => reject(err);
    stream.on('data', onData).on('end', onEnd).on('error', onError);
    stream.resume();
  });
}

/** Read a line from the terminal without echoing it. */
function promptHidden(ctx: CliContext, prompt: string): Promise<string> {
  const stdin = ctx.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    ctx.stderr.write(prompt);
    stdin.setRawMode?.(true);
    stdin.setEncoding('utf8');
    const done = (err?: PosternError) => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      ctx.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new PosternError(ErrorCode.USAGE, 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
