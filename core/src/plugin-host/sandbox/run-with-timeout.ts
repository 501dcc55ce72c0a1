import { createContext, Script } from 'node:vm';

/*
 * The only thing in Node that can stop a synchronous `while (true) {}` on the main thread is V8's
 * TerminateExecution, which node:vm arms for the duration of one `runInContext(..., { timeout })`
 * call (a watchdog thread). The termination unwinds everything called from inside that script —
 * including a vm2 sandbox function we call from here — and the call throws
 * ERR_SCRIPT_EXECUTION_TIMEOUT. vm2's own `VM#run` timeout works the same way; doing it here lets us
 * call an already-compiled sandbox function per tap instead of compiling a script per call.
 *
 * Cost: the watchdog starts and joins a thread for every call (~100-140 µs on a small VM, most of
 * a sandboxed call's overhead; see docs/reference/sandbox.md).
 */
const context = createContext({ run: null as (() => unknown) | null });
const script = new Script('run()', { filename: 'postern-sandbox-watchdog.js' });

/** True for the error node:vm throws when the watchdog stopped the code. */
export function isWatchdogTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

/**
 * Call `fn` and stop it (throwing ERR_SCRIPT_EXECUTION_TIMEOUT, see `isWatchdogTimeout`) if it
 * runs synchronously for longer than `timeoutMs`. Only the synchronous part is bounded: promise
 * continuations scheduled by `fn` run later, outside the watchdog.
 */
export function runWithTimeout<T>(fn: () => T, timeoutMs: number): T {
  const previous = context.run;
  context.run = fn;
  try {
    return script.runInContext(context, { timeout: Math.max(1, Math.ceil(timeoutMs)), displayErrors: false }) as T;
  } finally {
    context.run = previous;
  }
}
