import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI, REPO_ROOT } from './cli.js';
import type { Cleanup } from './tmp.js';

/** One pino line from the server's stdout (plus anything we could not parse, as `{ msg: raw }`). */
export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export type LogPredicate = (line: LogLine) => boolean;

interface Waiter {
  predicate: LogPredicate;
  resolve(line: LogLine): void;
}

/**
 * A running `postern start --config FILE` child process. Collects every log line; `ready` resolves
 * at "postern started" and rejects if the process exits first.
 */
export class ServerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly logs: LogLine[] = [];
  stderr = '';
  /** Listener name → port, from the "smtp listener ready" lines. */
  readonly ports: Record<string, number> = {};
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #waiters = new Set<Waiter>();

  constructor(configPath: string, env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [CLI, 'start', '--config', configPath], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdin.end();
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    createInterface({ input: this.child.stdout }).on('line', (text) => this.#onLine(text));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitStatus === undefined;
  }

  #onLine(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { msg: text, unparsed: true };
    }
    this.logs.push(line);
    if (line.msg === 'smtp listener ready' && typeof line.listener === 'string' && typeof line.port === 'number') {
      this.ports[line.listener] = line.port;
    }
    for (const waiter of this.#waiters) {
      if (waiter.predicate(line)) {
        this.#waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  /** Log lines so far that match. */
  find(predicate: LogPredicate): LogLine[] {
    return this.logs.filter(predicate);
  }

  /**
   * The first log line (at index `since` or later) that matches, waiting up to `timeoutMs` for it.
   * Rejects early when the process exits.
   */
  waitForLog(predicate: LogPredicate, timeoutMs = 5000, since = 0, what = 'a log line'): Promise<LogLine> {
    const seen = this.logs.slice(since).find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const fail = (why: string) => {
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error(`${why} while waiting for ${what}\n--- last log lines:\n${this.tail()}\n--- stderr:\n${this.stderr}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      this.#waiters.add(waiter);
      void this.exited.then((status) => {
        if (this.#waiters.has(waiter)) fail(`server exited (${status.code ?? status.signal})`);
      });
    });
  }

  /** The `delivery` log line of `queueId` for recipient `to` (any recipient when omitted). */
  waitForDelivery(queueId: string, to?: string, timeoutMs = 5000, since = 0): Promise<LogLine> {
    return this.waitForLog(
      (l) => l.msg === 'delivery' && l.queueId === queueId && (to === undefined || l.to === to),
      timeoutMs,
      since,
      `delivery of ${queueId}${to ? ` to ${to}` : ''}`,
    );
  }

  ready(timeoutMs = 15_000): Promise<LogLine> {
    return this.waitForLog((l) => l.msg === 'postern started', timeoutMs, 0, '"postern started"');
  }

  tail(n = 30): string {
    return this.logs
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves to the exit status. */
  async stop(graceMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exitStatus!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.alive) this.child.kill('SIGKILL');
    }, graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  /** SIGKILL now; resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * Start `postern start --config FILE`, wait for "postern started", and make sure the process is
 * stopped after the test whatever happens.
 */
export async function startPostern(t: Cleanup, configPath: string, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const server = new ServerProcess(configPath, env);
  t.after(() => server.stop());
  await server.ready();
  return server;
}
