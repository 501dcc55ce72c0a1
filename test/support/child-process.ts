import { spawn, type ChildProcess } from 'node:child_process';
import { sleep, type Cleanup } from './tmp.js';

/**
 * Stop a helper service started by a test (dnsmasq, smtp-sink, dovecot ...): SIGTERM by pid, then
 * SIGKILL if it is still there after `killAfterMs`; resolves when it has exited (`exited`).
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>, killAfterMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, killAfterMs);
  await exited;
  clearTimeout(timer);
}

/** How to start a test daemon and know it is ready. */
export interface DaemonSpec {
  command: string;
  args: readonly string[];
  /** What it is called in errors ("clamd"). */
  name: string;
  /** Where it comes from, for the error when it cannot run ("apt-get install clamav-daemon"). */
  install: string;
  /** Resolves true once the daemon serves (e.g. answers PING). */
  ready(): Promise<boolean>;
  /** Give up after this long. */
  timeoutMs: number;
  /** Between two `ready()` checks. */
  pollMs: number;
}

export interface StartedDaemon {
  pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, SIGKILL after 2 s; also done at the test's cleanup. */
  stop(): Promise<void>;
}

/** A daemon that exited, timed out or could not be spawned; `output` is what it printed. */
export class DaemonStartError extends Error {
  constructor(message: string, readonly output: string) {
    super(message);
  }
}

/**
 * Start a test daemon (clamd, spamd, dnsmasq ...) in the foreground, stopped by its pid after the
 * test; resolves once `spec.ready()` says it serves. Rejects with a DaemonStartError, after
 * stopping it, when it exits first, cannot be run, or is not ready within `timeoutMs`.
 */
export async function startDaemon(t: Cleanup, spec: DaemonSpec): Promise<StartedDaemon> {
  const child = spawn(spec.command, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const stop = () => stopChild(child, exited);
  t.after(stop);

  const deadline = Date.now() + spec.timeoutMs;
  while (child.exitCode === null && child.signalCode === null && !spawnError && Date.now() < deadline) {
    if (await spec.ready()) return { pid: child.pid!, output: () => output, stop };
    await sleep(spec.pollMs);
  }
  await stop();
  if (spawnError) throw new DaemonStartError(`cannot run ${spec.command} (${spawnError.message}); ${spec.install}`, output);
  throw new DaemonStartError(`${spec.name} did not start:\n${output}`, output);
}
