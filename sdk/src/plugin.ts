import type { HookArgs, HookName, HookResult } from './hooks.js';

/** Structured logger given to plugins (pino-compatible subset). */
export interface PluginLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface TapOptions {
  /** Order within the hook; use `Stage` / `DeliverStage` constants. Default `Stage.DEFAULT`. */
  stage?: number;
  /** Milliseconds before the tap is abandoned. Default: the plugin's `timeoutMs`, else 5000. */
  timeoutMs?: number;
}

export type TapFn<H extends HookName> = (...args: HookArgs<H>) => HookResult<H> | Promise<HookResult<H>>;

/**
 * DNS lookups through the server's resolvers (config `dns.servers`, `dns.timeoutMs`), so tests and
 * admins point every plugin at the same DNS. Errors carry Node's codes (`ENOTFOUND`, `ENODATA`).
 * @example
 * const hits = await api.dns?.resolve4(`${reversed}.zen.example`).catch(() => []);
 */
export interface PluginDns {
  resolve4(name: string): Promise<string[]>;
  /** With `{ ttl: true }`: each address with its TTL in seconds (for caches that honour it). */
  resolve4(name: string, options: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>;
  resolve6(name: string): Promise<string[]>;
  resolve6(name: string, options: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>;
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolveTxt(name: string): Promise<string[][]>;
  resolvePtr(name: string): Promise<string[]>;
}

/**
 * Key-value state that survives reloads and restarts (the server's SQLite database), namespaced
 * by the plugin's name. Values are JSON data.
 * @example
 * await api.kv?.set(`triplet:${key}`, { firstSeen: Date.now() }, { ttlMs: 86_400_000 });
 */
export interface PluginKv {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown, options?: { ttlMs?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** What a plugin's `setup` receives: a facade that can tap hooks but never call them. */
export interface PluginApi<Options = Record<string, unknown>> {
  /** The plugin's name, as in its manifest. */
  readonly name: string;
  /** The plugin's options: its config section with defaults applied (`enabled` removed). */
  readonly options: Readonly<Options>;
  readonly log: PluginLogger;
  /** The server's own host name (config `hostname`). */
  readonly hostname: string;
  /** DNS through the server's resolvers. Always there for trusted plugins; sandboxed ones need the `dns` grant. */
  readonly dns?: PluginDns;
  /**
   * The server's data directory (config `dataDir`, absolute). A plugin keeps its files under
   * `dataDir/<plugin name>` (the dkim plugin's keys: `dataDir/dkim/<domain>/<selector>.key`).
   * Only for trusted plugins: a sandboxed one has no file system.
   */
  readonly dataDir?: string;
  /** Persistent key-value state. Always there for trusted plugins; sandboxed ones need the `kv` grant. */
  readonly kv?: PluginKv;
  /**
   * Register a tap. The tap is named after the plugin; it is timed, and a throw or a timeout
   * becomes a 451 4.3.0 tempfail (or is ignored when the plugin is configured `failOpen: true`).
   * @example
   * api.tap('mailFrom', (session, tx) => (tx.mailFrom.domain === 'spam.test' ? reject() : undefined));
   */
  tap<H extends HookName>(hook: H, fn: TapFn<H>, options?: TapOptions): void;
  /** Run `fn` when this plugin generation is shut down (timers, sockets). */
  onShutdown(fn: () => void | Promise<void>): void;
}

export interface PluginDefinition<Options = Record<string, unknown>> {
  /** Unique plugin name (kebab-case). */
  name: string;
  /** Defaults merged under the admin's options. */
  defaults?: Partial<Options>;
  /**
   * Check options beyond defaults; return error strings of the form "key: reason" (empty when fine).
   * The server refuses to load a plugin whose options fail.
   */
  validate?(options: Options): string[];
  /** Register taps. Throwing here fails the load with a clear error naming the plugin. */
  setup(api: PluginApi<Options>): void | Promise<void>;
}

/**
 * Declare a plugin. Identity at runtime; it exists so TypeScript checks the shape and infers
 * `Options` for `setup`.
 * @example
 * export default definePlugin<{ domains: string[] }>({
 *   name: 'block-domains',
 *   defaults: { domains: [] },
 *   setup(api) {
 *     api.tap('mailFrom', (_s, tx) =>
 *       api.options.domains.includes(tx.mailFrom.domain) ? reject('Sender refused') : undefined);
 *   },
 * });
 */
export function definePlugin<Options = Record<string, unknown>>(def: PluginDefinition<Options>): PluginDefinition<Options> {
  return def;
}
