import type { EnvelopeAddress } from '../envelope.js';
import type { HookArgs, HookName, HookResult } from '../hooks.js';
import { Stage } from '../hooks.js';
import type { PluginApi, PluginDefinition, PluginDns, PluginKv, PluginLogger, TapFn, TapOptions } from '../plugin.js';
import { memoryKv } from './memory-kv.js';
import { buildAddress, buildDelivery, buildSession, buildTransaction } from './fixtures.js';
import type { DeliveryInit, TestDelivery, TestSession, TestTransaction, TransactionInit } from './fixtures.js';
import { HarnessError } from './harness-error.js';
import { pluginOptions } from './plugin-options.js';
import { inStageOrder, isKnownHook, runTaps } from './run-taps.js';
import type { RegisteredTap } from './run-taps.js';

/**
 * Options as the admin may write them: any key, nested ones included, may be left out.
 * @example
 * const options: DeepPartial<AccessOptions> = { deny: { networks: ['203.0.113.0/24'] } };
 */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * How to start a harness.
 * @example
 * const h = await createHarness(plugin, { options: { limit: 2 }, hostname: 'mx.example.test' });
 */
export interface HarnessInit<Options> {
  /**
   * The plugin's config section, as under `plugins.<name>` in postern.yaml. Merged over the
   * plugin's `defaults` like the core does: top-level keys replace the default's whole (a nested
   * section is not merged key by key); `enabled`, `failOpen` and `timeoutMs` are removed.
   */
  options?: DeepPartial<Options>;
  /** `api.hostname`. Default "mx.postern.test". */
  hostname?: string;
  /** Timeout for taps registered without one, ms. Default 5000, as in the core. */
  timeoutMs?: number;
  /** `api.dns`: e.g. a `dns.promises.Resolver` pointed at a test DNS server. Default: none. */
  dns?: PluginDns;
  /** `api.kv`. Default: a fresh `memoryKv()`. */
  kv?: PluginKv;
  /** `api.dataDir`: e.g. a temporary directory. Default: none. */
  dataDir?: string;
}

/**
 * One line the plugin logged through `api.log`.
 * @example
 * assert.ok(h.log.some((e) => e.level === 'warn' && e.msg === 'list is empty'));
 */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string | undefined;
}

/**
 * A plugin set up against a fake host. Build fixtures with `session`, `transaction`, `address` and
 * `delivery`, then `run` a hook and assert on the Verdict and on what the plugin recorded.
 * @example
 * const h = await createHarness(plugin, { options: { deny: { senders: ['@spam.test'] } } });
 * const verdict = await h.run('mailFrom', h.session(), h.transaction({ mailFrom: 'x@spam.test' }));
 * assert.equal(verdict?.action, 'reject');
 */
export interface Harness<Options> {
  /** The plugin's name. */
  readonly name: string;
  /** The options `setup` saw: `init.options` over the defaults, shallow, frozen one level deep. */
  readonly options: Readonly<Options>;
  /** Everything logged through `api.log`, in order. */
  readonly log: readonly LogEntry[];
  /**
   * A fresh SessionView (smtp, listener "mx", client 192.0.2.10, not secure, not trusted, empty
   * results), with `overrides` applied. Each call gets a new id.
   * @example
   * const session = h.session({ remoteAddress: '2001:db8::1', trusted: true });
   */
  session(overrides?: Partial<TestSession>): TestSession;
  /**
   * A fresh TransactionView. `mailFrom` defaults to "sender@example.test", `recipients` to none
   * (as at MAIL FROM), `message` to undefined (as before DATA). `addHeader` records into
   * `addedHeaders`.
   * @example
   * const tx = h.transaction({ mailFrom: 'a@b.test', recipients: ['c@d.test'], message: 'Subject: hi\n\nbody\n' });
   */
  transaction(init?: TransactionInit): TestTransaction;
  /**
   * An EnvelopeAddress from "a@b.test" or "<a@b.test>" ("" or "<>" is the null sender): the domain
   * is lower-cased, the local part kept as written.
   * @example
   * await h.run('rcptTo', session, tx, h.address('Postmaster@Example.TEST'));
   */
  address(address: string, params?: Record<string, string | true>): EnvelopeAddress;
  /**
   * A Delivery for the `deliver` hook: one recipient "rcpt@example.test" by default, attempt 1.
   * `settle` stamps the result with `by: <plugin name>`; `add` appends a pending recipient.
   * @example
   * const d = h.delivery({ recipients: ['a@local.test'] });
   * await h.run('deliver', d);
   * assert.equal(d.recipients[0]?.result?.status, 'delivered');
   */
  delivery(init?: DeliveryInit): TestDelivery;
  /**
   * Run the plugin's taps of `hook` as the core would: policy hooks in series by stage, returning
   * the first Verdict (or undefined); `deliver` in series until no recipient is pending; event
   * hooks in parallel. A Verdict comes back with `by` set to the plugin's name, as from the core.
   * A tap's throw is rethrown; a timeout or a non-Verdict result throws a
   * HarnessError (the core would turn those into a 451 tempfail).
   * @example
   * const verdict = await h.run('connect', h.session({ remoteAddress: '10.1.2.3' }));
   */
  run<H extends HookName>(hook: H, ...args: HookArgs<H>): Promise<HookResult<H>>;
  /**
   * The taps registered for `hook` (all hooks when omitted), in the order they run.
   * @example
   * assert.deepEqual(h.taps('connect').map((t) => t.stage), [Stage.ACCESS]);
   */
  taps<H extends HookName>(hook?: H): RegisteredTap<H>[];
  /**
   * Run the `api.onShutdown` callbacks in registration order, once; later calls do nothing.
   * @example
   * after(() => h.shutdown());
   */
  shutdown(): Promise<void>;
}

/**
 * Load a plugin the way the core does, without a server: `init.options` over `defaults`, run
 * `validate` (a non-empty result throws a HarnessError with code POSTERN_PLUGIN_OPTIONS_INVALID
 * listing every error), then `setup` with a fake PluginApi that records taps, logs and shutdown
 * callbacks. Works with plain `node --test`.
 * @example
 * import { test } from 'node:test';
 * import assert from 'node:assert/strict';
 * import { createHarness } from '@postern/sdk/testing';
 * import plugin from '../src/index.js';
 *
 * test('rejects a denied network', async () => {
 *   const h = await createHarness(plugin, { options: { deny: { networks: ['10.0.0.0/8'] } } });
 *   const verdict = await h.run('connect', h.session({ remoteAddress: '10.9.9.9' }));
 *   assert.equal(verdict?.code, 554);
 *   await h.shutdown();
 * });
 */
export async function createHarness<Options>(
  plugin: PluginDefinition<Options>,
  // NoInfer: the plugin alone decides Options; partial options must not widen it to all-optional.
  init: HarnessInit<NoInfer<Options>> = {},
): Promise<Harness<Options>> {
  const name = plugin.name;
  // Frozen (one level deep) like the options the core hands a plugin.
  const options = Object.freeze(pluginOptions(plugin.defaults, init.options)) as Options;

  const errors = plugin.validate?.(options) ?? [];
  if (errors.length > 0) {
    throw new HarnessError('POSTERN_PLUGIN_OPTIONS_INVALID', `plugin "${name}": invalid options: ${errors.join('; ')}`, errors);
  }

  const taps: RegisteredTap[] = [];
  const shutdownFns: Array<() => void | Promise<void>> = [];
  const log: LogEntry[] = [];
  const logAt = (level: LogEntry['level']) => (obj: object, msg?: string) => {
    log.push({ level, obj, msg });
  };
  const logger: PluginLogger = { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') };
  const defaultTimeout = init.timeoutMs ?? 5000;

  const api: PluginApi<Options> = Object.freeze({
    name,
    options,
    log: logger,
    hostname: init.hostname ?? 'mx.postern.test',
    ...(init.dns ? { dns: init.dns } : {}),
    ...(init.dataDir ? { dataDir: init.dataDir } : {}),
    kv: init.kv ?? memoryKv(),
    tap<H extends HookName>(hook: H, fn: TapFn<H>, tapOptions: TapOptions = {}): void {
      // A typo in a hook name would otherwise make a tap that silently never runs.
      if (!isKnownHook(hook)) throw new HarnessError('POSTERN_PLUGIN_LOAD_FAILED', `plugin "${name}": unknown hook "${String(hook)}"`);
      taps.push({ hook, fn, stage: tapOptions.stage ?? Stage.DEFAULT, timeoutMs: tapOptions.timeoutMs ?? defaultTimeout } as RegisteredTap);
    },
    onShutdown(fn): void {
      shutdownFns.push(fn);
    },
  });
  await plugin.setup(api);

  let ids = 0;
  const nextId = (prefix: string): string => `${prefix}${++ids}`;
  let shutDown = false;
  const tapsOf = <H extends HookName>(hook?: H): RegisteredTap<H>[] =>
    inStageOrder(taps.filter((t) => hook === undefined || t.hook === hook) as RegisteredTap<H>[]);

  return {
    name,
    options,
    log,
    session: (overrides) => buildSession(nextId('session-'), overrides),
    transaction: (txInit) => buildTransaction(nextId('TX'), txInit),
    address: (address, params) => buildAddress(address, params),
    delivery: (deliveryInit) => buildDelivery(nextId('Q'), name, deliveryInit),
    run: (hook, ...args) => runTaps(name, hook, tapsOf(hook), args),
    taps: tapsOf,
    async shutdown(): Promise<void> {
      if (shutDown) return;
      shutDown = true;
      for (const fn of shutdownFns) await fn();
    },
  };
}
