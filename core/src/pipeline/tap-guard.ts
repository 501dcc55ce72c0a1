import { isVerdict, tempfail, type Verdict } from '@postern/sdk';
import type { Logger } from 'pino';
import { ErrorCode, PosternError } from '../errors.js';
import type { TapTimings } from './tap-timings.js';

export type HookKind = 'policy' | 'deliver' | 'event';

export interface GuardPolicy {
  hook: string;
  kind: HookKind;
  plugin: string;
  timeoutMs: number;
  /** On throw/timeout/bad return: true = behave as if the tap had no opinion. */
  failOpen: boolean;
}

/** The reply a client gets when a plugin breaks: it says nothing about which plugin or why. */
export const PLUGIN_FAILURE_VERDICT: Readonly<Verdict> = Object.freeze(
  tempfail('Temporary local problem, please try again later', { code: 451, enhanced: '4.3.0' }),
);

type AnyFn = (...args: any[]) => unknown;

const TIMED_OUT = Symbol('timed out');

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, ms, TIMED_OUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Wraps one plugin tap so that nothing it does can take the server down: a throw, a rejection, a
 * tap that never settles, or a policy tap that returns garbage is logged with the hook and plugin
 * name and turned into a 451 4.3.0 tempfail (or ignored, when the plugin is configured fail-open).
 * It also records the tap's time. This is the one interceptor every tap goes through.
 */
export function guardTap(fn: AnyFn, policy: GuardPolicy, log: Logger, timings: TapTimings): (...args: unknown[]) => Promise<unknown> {
  const { hook, kind, plugin, timeoutMs, failOpen } = policy;

  const fail = (error: PosternError): Verdict | undefined => {
    log.error({ err: error, code: error.code, hook, plugin, failOpen }, `plugin ${plugin} failed in ${hook}: ${error.message}`);
    if (kind !== 'policy' || failOpen) return undefined;
    return { ...PLUGIN_FAILURE_VERDICT, reason: `${plugin}: ${error.code}`, by: plugin };
  };

  return async (...args: unknown[]) => {
    const started = performance.now();
    let failed = false;
    try {
      let result = fn(...args);
      if (result instanceof Promise || (typeof result === 'object' && result !== null && typeof (result as Promise<unknown>).then === 'function')) {
        result = await withTimeout(Promise.resolve(result), timeoutMs);
      }
      if (result === TIMED_OUT) {
        failed = true;
        return fail(new PosternError(ErrorCode.PLUGIN_TAP_TIMEOUT, `tap did not settle within ${timeoutMs} ms`, { hook, plugin }));
      }
      if (kind === 'policy' && result !== undefined && !isVerdict(result)) {
        failed = true;
        return fail(new PosternError(ErrorCode.PLUGIN_BAD_VERDICT, `tap returned ${JSON.stringify(result)?.slice(0, 200)}, not a Verdict`, { hook, plugin }));
      }
      if (kind !== 'policy') return undefined;
      return result === undefined ? undefined : { ...(result as Verdict), by: plugin };
    } catch (err) {
      failed = true;
      const message = err instanceof Error ? err.message : String(err);
      return fail(new PosternError(ErrorCode.PLUGIN_TAP_FAILED, message, { hook, plugin }, { cause: err }));
    } finally {
      timings.record(hook, plugin, performance.now() - started, failed);
    }
  };
}
