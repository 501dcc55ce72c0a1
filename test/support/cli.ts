import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root and the built CLI (`npm run build` / `npx tsc -b` first). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../core/dist/cli/main.js', import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface PosternOptions {
  /** Passed as `--config FILE` after the command words. */
  config?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Run a command to completion and collect its output. */
export function run(command: string, args: string[], options: Omit<PosternOptions, 'config'> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** `postern ARGS... [--config FILE]` as a subprocess. */
export function postern(args: string[], options: PosternOptions = {}): Promise<RunResult> {
  const argv = [CLI, ...args, ...(options.config ? ['--config', options.config] : [])];
  return run(process.execPath, argv, options);
}

/** Like `postern`, but throws (with its output) when the command does not exit 0. */
export async function posternOk(args: string[], options: PosternOptions = {}): Promise<RunResult> {
  const result = await postern(args, options);
  if (result.code !== 0) {
    throw new Error(`postern ${args.join(' ')} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result;
}
