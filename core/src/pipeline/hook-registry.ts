import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook } from 'tapable';
import type { Delivery, DeliveryEvent, Verdict } from '@postern/sdk';
import type { AuthAttempt, EnvelopeAddress, SessionView, TransactionView } from '@postern/sdk';

/**
 * The tapable hooks behind `HookSignatures` (sdk/src/hooks.ts, where each hook's doc comment says
 * when it fires, what comes before and after, and what a tap may return). Built once per plugin
 * generation and frozen: nothing adds a hook at run time.
 *
 * Policy hooks are bail hooks (the first Verdict wins); `deliver` is a series hook whose taps
 * settle recipients; the events are parallel hooks.
 */
export function createHookRegistry() {
  return Object.freeze({
    connect: new AsyncSeriesBailHook<[SessionView], Verdict | undefined>(['session']),
    helo: new AsyncSeriesBailHook<[SessionView, string], Verdict | undefined>(['session', 'hostname']),
    auth: new AsyncSeriesBailHook<[SessionView, AuthAttempt], Verdict | undefined>(['session', 'attempt']),
    mailFrom: new AsyncSeriesBailHook<[SessionView, TransactionView], Verdict | undefined>(['session', 'tx']),
    rcptTo: new AsyncSeriesBailHook<[SessionView, TransactionView, EnvelopeAddress], Verdict | undefined>([
      'session',
      'tx',
      'recipient',
    ]),
    data: new AsyncSeriesBailHook<[SessionView, TransactionView], Verdict | undefined>(['session', 'tx']),
    deliver: new AsyncSeriesHook<[Delivery]>(['delivery']),
    queued: new AsyncParallelHook<[DeliveryEvent]>(['event']),
    delivered: new AsyncParallelHook<[DeliveryEvent]>(['event']),
    deferred: new AsyncParallelHook<[DeliveryEvent]>(['event']),
    bounced: new AsyncParallelHook<[DeliveryEvent]>(['event']),
  });
}

export type HookRegistry = ReturnType<typeof createHookRegistry>;
