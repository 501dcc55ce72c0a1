import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Something with an `after` hook: node:test's TestContext or SuiteContext. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/**
 * A fresh temporary directory, removed after the test (set KEEP_TEST_DIRS=1 to keep it for a
 * post-mortem; its path is printed then).
 */
export async function tempDir(t: Cleanup, prefix = 'postern-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(async () => {
    if (process.env.KEEP_TEST_DIRS) {
      process.stderr.write(`kept test dir ${dir}\n`);
      return;
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

/**
 * A Cleanup for code without a test context: a suite sharing one server across its tests (a
 * `before` hook's context has no `after`) or a benchmark script. `run()` undoes everything
 * registered, last first.
 * @example
 * const cleanup = cleanupList();
 * after(() => cleanup.run());
 * before(async () => { env = await createEnv(cleanup, { ...WORLD }); });
 */
export function cleanupList(): Cleanup & { run(): Promise<void> } {
  const fns: Array<() => unknown> = [];
  return {
    after: (fn) => void fns.push(fn),
    async run() {
      for (const fn of fns.splice(0).reverse()) await fn();
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it returns a truthy value or `timeoutMs` passes (then throw with `what`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
