import {
  DELIVERY_HOOKS,
  EVENT_HOOKS,
  Stage,
  type Delivery,
  type DeliveryEvent,
  type EventHookName,
  type HookArgs,
  type HookName,
  type PluginApi,
  type PluginDns,
  type PluginKv,
  type PolicyHookName,
  type TapFn,
  type TapOptions,
  type Verdict,
} from '@postern/sdk';
import type { Logger } from 'pino';
import { createHookRegistry, type HookRegistry } from './hook-registry.js';
import { guardTap, type HookKind } from './tap-guard.js';
import { TapTimings } from './tap-timings.js';

/**
 * A transaction that keeps the data hook's quarantine verdicts aside: at DATA, quarantine does not
 * stop later taps (a virus scan after a spam verdict still runs, signing still happens, a later
 * reject still wins). The core's transaction implements it; without it, quarantine bails as usual.
 */
export interface HoldsQuarantine {
  holdQuarantine(verdict: Verdict): void;
}

function holdsQuarantine(value: unknown): value is HoldsQuarantine {
  return typeof (value as Partial<HoldsQuarantine> | undefined)?.holdQuarantine === 'function';
}

export interface TapOwner {
  /** Plugin name, or "core" for built-in taps. */
  plugin: string;
  timeoutMs: number;
  failOpen: boolean;
}

function kindOf(hook: HookName): HookKind {
  if ((EVENT_HOOKS as readonly string[]).includes(hook)) return 'event';
  if ((DELIVERY_HOOKS as readonly string[]).includes(hook)) return 'deliver';
  return 'policy';
}

/**
 * One generation of the hook pipeline: the hooks, the taps registered on them, and the shutdown
 * callbacks of the plugins that tapped. A session keeps the pipeline it started with, so a new
 * generation never changes the rules under a session in flight.
 */
export class Pipeline {
  readonly hooks: HookRegistry = createHookRegistry();
  readonly timings = new TapTimings();
  readonly #log: Logger;
  readonly #shutdown: Array<{ plugin: string; fn: () => void | Promise<void> }> = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Register a tap, guarded (timeout, errors, timing) and named after its owner. */
  tap<H extends HookName>(hook: H, fn: TapFn<H>, owner: TapOwner, options: TapOptions = {}): void {
    const kind = kindOf(hook);
    const guarded = guardTap(
      fn as (...args: unknown[]) => unknown,
      { hook, kind, plugin: owner.plugin, timeoutMs: options.timeoutMs ?? owner.timeoutMs, failOpen: owner.failOpen },
      this.#log,
      this.timings,
    );
    const tapInfo = { name: owner.plugin, stage: options.stage ?? Stage.DEFAULT };
    if (kind === 'deliver') {
      // A deliver tap has nothing to do once every recipient is settled.
      const skipWhenDone = (delivery: Delivery) => (delivery.pending().length === 0 ? Promise.resolve() : guarded(delivery).then(() => undefined));
      this.hooks.deliver.tapPromise(tapInfo, skipWhenDone);
      return;
    }
    const tapFn =
      hook === 'data'
        ? async (...args: unknown[]) => {
            const verdict = await guarded(...args);
            if ((verdict as Verdict | undefined)?.action !== 'quarantine' || !holdsQuarantine(args[1])) return verdict;
            args[1].holdQuarantine(verdict as Verdict);
            return undefined;
          }
        : guarded;
    (this.hooks[hook] as { tapPromise(info: object, fn: (...args: unknown[]) => Promise<unknown>): void }).tapPromise(tapInfo, tapFn);
  }

  /** The facade a plugin's `setup` gets: it can tap, never call. */
  apiFor<O>(owner: TapOwner, options: O, log: Logger, hostname: string, capabilities: { dns?: PluginDns; kv?: PluginKv; dataDir?: string } = {}): PluginApi<O> {
    return Object.freeze({
      name: owner.plugin,
      options: Object.freeze(options),
      log,
      hostname,
      ...capabilities,
      tap: <H extends HookName>(hook: H, fn: TapFn<H>, tapOptions?: TapOptions) => this.tap(hook, fn, owner, tapOptions),
      onShutdown: (fn: () => void | Promise<void>) => {
        this.#shutdown.push({ plugin: owner.plugin, fn });
      },
    });
  }

  /** Run a policy hook; undefined when no tap had an opinion. Never throws. */
  async decide<H extends PolicyHookName>(hook: H, ...args: HookArgs<H>): Promise<Verdict | undefined> {
    const h = this.hooks[hook] as unknown as { taps: unknown[]; promise(...a: unknown[]): Promise<Verdict | undefined> };
    if (h.taps.length === 0) return undefined;
    return h.promise(...args);
  }

  /** Run the deliver hook's taps in stage order. Never throws (the guard logs tap failures). */
  async deliver(delivery: Delivery): Promise<void> {
    await this.hooks.deliver.promise(delivery);
  }

  /** Fire an event; taps run in parallel, failures are logged by the guard. */
  async emit(hook: EventHookName, event: DeliveryEvent): Promise<void> {
    const h = this.hooks[hook];
    if (h.taps.length === 0) return;
    await h.promise(event);
  }

  /** Run every plugin's shutdown callbacks; errors are logged, not thrown. */
  async shutdown(): Promise<void> {
    for (const { plugin, fn } of this.#shutdown.splice(0)) {
      try {
        await fn();
      } catch (err) {
        this.#log.error({ err, plugin }, `plugin ${plugin} failed to shut down`);
      }
    }
  }
}
