import { DELIVERY_HOOKS, EVENT_HOOKS, POLICY_HOOKS } from '../hooks.js';
import type { HookArgs, HookName, HookResult } from '../hooks.js';
import type { Delivery } from '../delivery.js';
import type { TapFn } from '../plugin.js';
import { isVerdict, type Verdict } from '../verdict.js';
import { HarnessError } from './harness-error.js';

/**
 * One `api.tap()` call as the harness recorded it.
 * @example
 * const [tap] = h.taps('mailFrom');
 * assert.equal(tap?.stage, Stage.EARLY);
 */
export interface RegisteredTap<H extends HookName = HookName> {
  readonly hook: H;
  /** The stage it was registered at (`Stage.DEFAULT` when none was given). */
  readonly stage: number;
  /** The timeout it will run under, ms. */
  readonly timeoutMs: number;
  readonly fn: TapFn<H>;
}

const POLICY: ReadonlySet<HookName> = new Set(POLICY_HOOKS);
const DELIVERY: ReadonlySet<HookName> = new Set(DELIVERY_HOOKS);
const EVENTS: ReadonlySet<HookName> = new Set(EVENT_HOOKS);

export function isKnownHook(hook: string): hook is HookName {
  return POLICY.has(hook as HookName) || DELIVERY.has(hook as HookName) || EVENTS.has(hook as HookName);
}

/** Stable sort: taps at the same stage keep their registration order, as in tapable. */
export function inStageOrder<H extends HookName>(taps: readonly RegisteredTap<H>[]): RegisteredTap<H>[] {
  return [...taps].sort((a, b) => a.stage - b.stage);
}

/**
 * Call one tap under its timeout. The core turns a timeout into a tempfail; the harness throws
 * instead, because in a test a hung tap is a bug to see, not a reply to check.
 */
async function callTap<H extends HookName>(plugin: string, tap: RegisteredTap<H>, args: HookArgs<H>): Promise<HookResult<H>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rejectTimeout) => {
    timer = setTimeout(
      () => rejectTimeout(new HarnessError('POSTERN_PLUGIN_TAP_TIMEOUT', `plugin "${plugin}": ${tap.hook} tap did not settle within ${tap.timeoutMs} ms`)),
      tap.timeoutMs,
    );
  });
  try {
    return await Promise.race([Promise.resolve(tap.fn(...args)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Run the taps of one hook the way the core's pipeline does: policy hooks in series by stage,
 * stopping at the first Verdict; `deliver` in series until no recipient is pending; events in
 * parallel. A Verdict comes back stamped with `by: <plugin name>`, as the core returns it. Errors
 * thrown by a tap are rethrown unchanged so a test can assert on them.
 */
export async function runTaps<H extends HookName>(
  plugin: string,
  hook: H,
  taps: readonly RegisteredTap<H>[],
  args: HookArgs<H>,
): Promise<HookResult<H>> {
  if (EVENTS.has(hook)) {
    await Promise.all(taps.map((tap) => callTap(plugin, tap, args)));
    return undefined as HookResult<H>;
  }
  if (DELIVERY.has(hook)) {
    const delivery = args[0] as Delivery;
    for (const tap of inStageOrder(taps)) {
      if (delivery.pending().length === 0) break;
      await callTap(plugin, tap, args);
    }
    return undefined as HookResult<H>;
  }
  // At DATA a quarantine does not stop later taps; it is the answer unless a later tap refuses.
  let held: Verdict | undefined;
  for (const tap of inStageOrder(taps)) {
    const result = await callTap(plugin, tap, args);
    if (result === undefined) continue;
    // tapable bails on anything but undefined; the core then refuses what is not a Verdict.
    if (!isVerdict(result)) {
      throw new HarnessError('POSTERN_PLUGIN_BAD_VERDICT', `plugin "${plugin}": ${hook} tap returned something that is not a Verdict: ${JSON.stringify(result)}`);
    }
    // The core stamps every verdict with the plugin that returned it, for the log.
    const stamped: Verdict = { ...result, by: plugin };
    if (hook === 'data' && stamped.action === 'quarantine') {
      held ??= stamped;
      continue;
    }
    return stamped as HookResult<H>;
  }
  return held as HookResult<H>;
}
