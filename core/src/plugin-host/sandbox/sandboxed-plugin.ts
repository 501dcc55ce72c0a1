import {
  DELIVERY_HOOKS,
  DeliverStage,
  EVENT_HOOKS,
  POLICY_HOOKS,
  Stage,
  type HookName,
  type PluginApi,
  type PluginDefinition,
  type PluginLogger,
  type TapFn,
  type TapOptions,
} from '@postern/sdk';
import { VM, VMScript, type VMOptions } from 'vm2';
import { ErrorCode, PosternError, type ErrorCodeValue } from '../../errors.js';
import { createSandboxResolver, type DnsSettings, type SandboxDnsResolver } from './dns-resolver.js';
import { checkGrants, type SandboxGrants } from './grants.js';
import { createHostBindings } from './host-bindings.js';
import { applyEffects, copyVerdict, encodeArgs, parseAnswer } from './hook-snapshot.js';
import { MemoryKvStore, type KvStore } from './kv-store.js';
import { isWatchdogTimeout, runWithTimeout } from './run-with-timeout.js';
import { RUNTIME_SOURCE, type SandboxRuntime } from './sandbox-runtime.js';
import { toSandboxScript } from './sandbox-source.js';

export interface SandboxOptions {
  /**
   * The name the host knows the plugin by (its config key / manifest name). The plugin's own
   * `definePlugin({ name })` must match it; it also namespaces the plugin's kv entries, so a
   * plugin cannot pick another's namespace by naming itself after it.
   */
  plugin: string;
  /**
   * Longest any entry into the sandbox may run before it is stopped, in ms; also how long an
   * async setup or shutdown callback may take, and the tap guard's timeout for the plugin's taps.
   * A tap's own `timeoutMs` can lower it for that tap, never raise it. Pass the plugin's
   * configured `timeoutMs`. Default 5000.
   */
  timeoutMs?: number;
  /** Backing store of the `kv` grant. Default: a MemoryKvStore of this plugin alone. */
  kv?: KvStore;
  /** Resolver of the `dns` grant: config `dns` settings, or a ready resolver (tests). */
  dns?: DnsSettings & { resolver?: SandboxDnsResolver };
}

/**
 * A plugin running in a vm2 sandbox, in the shape the loader and pipeline already use for trusted
 * plugins (PluginDefinition). One instance is one sandbox: set it up once, on one pipeline.
 */
export interface SandboxedPlugin extends PluginDefinition<Record<string, unknown>> {
  readonly name: string;
  readonly defaults: Readonly<Record<string, unknown>> | undefined;
  /** What the sandbox was given (see effectiveGrants). */
  readonly grants: Readonly<SandboxGrants>;
  /** Present only when the plugin defines `validate`; runs in the sandbox. */
  validate?(options: Record<string, unknown>): string[];
  /** Runs the plugin's setup in the sandbox; its taps are registered on `api` as host functions. */
  setup(api: PluginApi<Record<string, unknown>>): Promise<void>;
  /**
   * Close the plugin's sockets, fail its pending calls and refuse any further call into the
   * sandbox. Idempotent; runs by itself when the pipeline shuts the plugin down.
   */
  dispose(): void;
}

/** Bytes a single Buffer allocation inside the sandbox may take (vm2 `bufferAllocLimit`). */
const BUFFER_ALLOC_LIMIT = 32 * 1024 * 1024;
/** How much longer than its timeout a pending call is remembered (the tap guard gives up first). */
const PENDING_GRACE_MS = 1000;
const HOOKS: ReadonlySet<string> = new Set<string>([...POLICY_HOOKS, ...EVENT_HOOKS]);

/** Compiled once: a VMScript is not bound to a VM. */
const runtimeScript = new VMScript(RUNTIME_SOURCE, { filename: 'postern-sandbox-runtime.js' });

interface Pending {
  resolve(answer: string): void;
  reject(err: PosternError): void;
  timer: NodeJS.Timeout;
}

function isSandboxName(name: string): boolean {
  return /^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name);
}

/**
 * Load an untrusted plugin's code into a vm2 sandbox. `source` is the plugin's JavaScript, ideally
 * built by the loader with SANDBOX_BUILD_OPTIONS (CommonJS, async lowered); ESM or plain CommonJS
 * (`module.exports = definePlugin({...})` or `exports.default = ...`) also works, since it is
 * compiled again here. `require` knows only `@postern/sdk` (a stub with the pure helpers). The
 * module's top level runs now, bounded by `timeoutMs`.
 *
 * Throws PLUGIN_LOAD_FAILED (syntax, no plugin exported, name mismatch, the module threw),
 * PLUGIN_SANDBOX_TIMEOUT (the module's top level did not finish) or PLUGIN_GRANTS_INVALID.
 * @example
 * const plugin = loadSandboxedPlugin(code, 'block-spam.cjs', { log: true }, { plugin: 'block-spam', timeoutMs: 200 });
 * await plugin.setup(pipeline.apiFor(owner, options, log, hostname));
 */
export function loadSandboxedPlugin(source: string, filename: string, grants: SandboxGrants, options: SandboxOptions): SandboxedPlugin {
  const plugin = options.plugin;
  if (!isSandboxName(plugin)) throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `sandbox: "${plugin}" is not a plugin name (kebab-case)`, { plugin });
  const granted = checkGrants(grants, plugin);
  const netTargets = granted.net ?? [];
  const defaultMs = options.timeoutMs ?? 5000;
  const script = toSandboxScript(source, filename, plugin);

  let disposed = false;
  let phase: 'loaded' | 'setting-up' | 'ready' = 'loaded';
  let api: PluginApi<Record<string, unknown>> | undefined;
  let nextCallId = 1;
  const pending = new Map<number, Pending>();
  const tapQueue: Array<{ hook: HookName; tapId: number; options: TapOptions; sliceMs: number }> = [];
  const shutdownQueue: number[] = [];

  /**
   * Enter the sandbox, bounded by the watchdog; a stop or an unexpected throw is a PosternError.
   * `what` names the plugin, except for taps: the tap guard puts the plugin's name in front.
   */
  const enter = <T>(fn: () => T, ms: number, what: string, code: ErrorCodeValue, details: Record<string, unknown> = {}): T => {
    if (disposed) throw new PosternError(code, `${what}: the sandbox was disposed`, { plugin, ...details });
    try {
      return runWithTimeout(fn, ms);
    } catch (err) {
      if (isWatchdogTimeout(err)) {
        throw new PosternError(ErrorCode.PLUGIN_SANDBOX_TIMEOUT, `${what} ran for more than ${ms} ms and was stopped`, { plugin, ...details });
      }
      // Not inspected: it may be a proxy of a sandbox object, whose getters would run sandbox code here.
      throw new PosternError(code, `${what}: the sandbox failed unexpectedly`, { plugin, ...details });
    }
  };

  const callbackIn = (fn: () => unknown) => {
    if (disposed) return;
    try {
      enter(fn, defaultMs, `plugin ${plugin}: a callback`, ErrorCode.PLUGIN_TAP_FAILED);
    } catch (err) {
      api?.log.warn({ err, code: (err as PosternError).code, plugin }, (err as PosternError).message);
    }
  };

  const bindings = createHostBindings({
    plugin,
    grants: granted,
    kv: granted.kv ? (options.kv ?? new MemoryKvStore()) : undefined,
    resolver: granted.dns ? (options.dns?.resolver ?? createSandboxResolver(options.dns)) : undefined,
    logger: () => api?.log as PluginLogger | undefined,
    callIn: callbackIn,
    settle(callId, answer) {
      // A non-string is dropped unread: resolving a promise with an object would read its `then`.
      if (typeof callId !== 'number' || typeof answer !== 'string') return;
      const entry = pending.get(callId);
      if (!entry) return;
      pending.delete(callId);
      clearTimeout(entry.timer);
      entry.resolve(answer);
    },
    registerTap(hook, tapId, stage, timeoutMs) {
      if (phase !== 'setting-up') return `${ErrorCode.PLUGIN_SANDBOX_DENIED}\napi.tap is only available during setup`;
      if (typeof tapId !== 'number') return 'EINVAL\napi.tap: bad tap id';
      if (typeof hook !== 'string') return 'EINVAL\napi.tap: the hook must be a name';
      if (!HOOKS.has(hook)) {
        const why = (DELIVERY_HOOKS as readonly string[]).includes(hook)
          ? `a sandboxed plugin cannot tap ${hook} (it hands out the live delivery); make the plugin trusted`
          : `"${hook.slice(0, 40)}" is not a hook`;
        return `${ErrorCode.PLUGIN_SANDBOX_DENIED}\napi.tap: ${why}`;
      }
      if (stage !== undefined && (typeof stage !== 'number' || !Number.isFinite(stage))) return 'EINVAL\napi.tap: stage must be a number (use Stage.*)';
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) return 'EINVAL\napi.tap: timeoutMs must be a positive number';
      // A tap may ask for less time than the admin gave the plugin, never more: otherwise a
      // plugin could opt out of being stopped.
      const sliceMs = timeoutMs === undefined ? defaultMs : Math.min(timeoutMs as number, defaultMs);
      const tapOptions: TapOptions = { timeoutMs: sliceMs };
      if (stage !== undefined) tapOptions.stage = stage;
      tapQueue.push({ hook: hook as HookName, tapId, options: tapOptions, sliceMs });
      return '';
    },
    registerShutdown(fnId) {
      if (phase !== 'setting-up') return `${ErrorCode.PLUGIN_SANDBOX_DENIED}\napi.onShutdown is only available during setup`;
      if (typeof fnId !== 'number') return 'EINVAL\napi.onShutdown: bad callback id';
      shutdownQueue.push(fnId);
      return '';
    },
  });

  // bufferAllocLimit exists in vm2 3.12 but not in its typings.
  const vmOptions: VMOptions & { bufferAllocLimit: number } = { allowAsync: false, eval: false, wasm: false, timeout: defaultMs, bufferAllocLimit: BUFFER_ALLOC_LIMIT };
  const vm = new VM(vmOptions);
  const config = JSON.stringify({
    name: plugin,
    grants: { dns: granted.dns === true, kv: granted.kv === true, log: granted.log === true, net: netTargets.length > 0 },
    codes: { denied: ErrorCode.PLUGIN_SANDBOX_DENIED },
    sdk: { Stage, DeliverStage, POLICY_HOOKS, DELIVERY_HOOKS, EVENT_HOOKS },
  });

  let runtime: SandboxRuntime | undefined;
  let moduleFn: unknown;
  try {
    // The runtime first, so it captures the built-ins before plugin code can replace them.
    const factory = vm.run(runtimeScript) as (host: unknown, configJson: string) => SandboxRuntime;
    runtime = enter(() => {
      const rt = factory(bindings.bindings, config);
      // Read the functions once, now: the object is the runtime's (frozen, data properties only).
      return { load: rt.load, validate: rt.validate, setup: rt.setup, callTap: rt.callTap, shutdown: rt.shutdown, sdkHelper: rt.sdkHelper };
    }, defaultMs, `plugin ${plugin}: starting the sandbox`, ErrorCode.PLUGIN_LOAD_FAILED);
    moduleFn = vm.run(new VMScript(script, { filename }));
  } catch (err) {
    if (err instanceof PosternError) throw err;
    // vm2 compile errors (syntax, "Async not available") are host errors: safe to read.
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: ${filename}: ${(err as Error).message}`, { plugin, file: filename }, { cause: err });
  }
  const rt = runtime;

  /** Decode an answer string; 'P' is handled by the caller. */
  const decode = (answer: unknown, what: string, code: ErrorCodeValue): { kind: 'R' | 'B'; body: string } => {
    if (typeof answer !== 'string' || answer.length === 0) throw new PosternError(code, `${what}: the sandbox gave an answer that is not text`, { plugin });
    const kind = answer[0];
    if (kind === 'R' || kind === 'B') return { kind, body: answer.slice(1) };
    if (kind === 'E') throw new PosternError(code, `${what} threw: ${answer.slice(1)}`, { plugin });
    throw new PosternError(code, `${what}: the sandbox gave an unknown answer`, { plugin });
  };

  /** Run a parse of what came back (JSON text from the sandbox, or copying in); a failure is a PosternError. */
  const parsing = <T>(fn: () => T, what: string, code: ErrorCodeValue): T => {
    try {
      return fn();
    } catch (err) {
      throw new PosternError(code, `${what}: ${(err as Error).message}`, { plugin }, { cause: err });
    }
  };

  /** Wait for settle(callId) of a call that answered 'P'. */
  const waitFor = (callId: number, ms: number, what: string, code: ErrorCodeValue = ErrorCode.PLUGIN_TAP_TIMEOUT): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(callId);
        reject(new PosternError(code, `${what} did not settle within ${ms} ms`, { plugin }));
      }, ms);
      timer.unref();
      pending.set(callId, { resolve, reject, timer });
    });

  const loading = `plugin ${plugin}: loading ${filename}`;
  const loadAnswer = decode(enter(() => rt.load(moduleFn, filename), defaultMs, loading, ErrorCode.PLUGIN_LOAD_FAILED), loading, ErrorCode.PLUGIN_LOAD_FAILED);
  const meta = parsing(() => JSON.parse(loadAnswer.body) as { name?: unknown; defaults?: unknown; hasValidate?: unknown }, loading, ErrorCode.PLUGIN_LOAD_FAILED);
  if (meta.name !== plugin) {
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: the code names itself ${JSON.stringify(meta.name)}, not "${plugin}"`, { plugin });
  }
  const defaults = meta.defaults !== null && typeof meta.defaults === 'object' ? (meta.defaults as Record<string, unknown>) : undefined;

  /** The host function a sandboxed tap becomes: copy in, call with the watchdog, copy the verdict out. */
  const hostTap = (hook: HookName, tapId: number, sliceMs: number) => {
    const what = `tap ${hook}`;
    const finish = (answer: unknown, args: readonly unknown[]): unknown => {
      const { kind, body } = decode(answer, what, ErrorCode.PLUGIN_TAP_FAILED);
      if (kind === 'B') return { notAVerdict: body };
      const { verdict, effects } = parsing(() => parseAnswer(body), `${what}: unreadable answer`, ErrorCode.PLUGIN_TAP_FAILED);
      if (effects.length > 0) {
        const refused = applyEffects(hook, args, effects, plugin);
        if (refused.length > 0) {
          api?.log.warn({ code: ErrorCode.PLUGIN_SANDBOX_DENIED, plugin, hook, refused }, `plugin ${plugin}: ${hook}: refused ${refused.join('; ')}`);
        }
      }
      return copyVerdict(verdict);
    };
    return (...args: unknown[]): unknown => {
      const { json, message } = parsing(() => encodeArgs(hook, args), `${what}: the arguments cannot be copied into the sandbox`, ErrorCode.PLUGIN_TAP_FAILED);
      const callId = nextCallId++;
      const answer = enter(() => rt.callTap(tapId, callId, json, message), sliceMs, what, ErrorCode.PLUGIN_TAP_FAILED, { hook });
      if (answer !== 'P') return finish(answer, args);
      return waitFor(callId, sliceMs + PENDING_GRACE_MS, what).then((text) => finish(text, args));
    };
  };

  const runShutdown = async (fnId: number): Promise<void> => {
    const callId = nextCallId++;
    const what = `plugin ${plugin}: onShutdown`;
    let answer = enter(() => rt.shutdown(fnId, callId), defaultMs, what, ErrorCode.PLUGIN_TAP_FAILED);
    if (answer === 'P') answer = await waitFor(callId, defaultMs, what);
    decode(answer, what, ErrorCode.PLUGIN_TAP_FAILED);
  };

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    bindings.close();
    for (const [id, entry] of pending) {
      clearTimeout(entry.timer);
      entry.reject(new PosternError(ErrorCode.PLUGIN_TAP_FAILED, 'the sandbox was disposed', { plugin }));
      pending.delete(id);
    }
  };

  const sandboxed: SandboxedPlugin = {
    name: plugin,
    defaults,
    grants: Object.freeze({ ...granted, net: Object.freeze([...netTargets]) }),
    async setup(realApi) {
      if (phase !== 'loaded') throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: a sandboxed plugin is set up once (load it again for a new generation)`, { plugin });
      phase = 'setting-up';
      api = realApi;
      try {
        const callId = nextCallId++;
        const what = `plugin ${plugin}: setup`;
        let answer: unknown = enter(() => rt.setup(callId, JSON.stringify(realApi.options ?? {}), realApi.hostname), defaultMs, what, ErrorCode.PLUGIN_LOAD_FAILED);
        if (answer === 'P') answer = await waitFor(callId, defaultMs, what, ErrorCode.PLUGIN_LOAD_FAILED);
        decode(answer, what, ErrorCode.PLUGIN_LOAD_FAILED);
      } catch (err) {
        dispose();
        throw err;
      } finally {
        phase = 'ready';
      }
      // Registered only now, outside any sandbox call: the watchdog can stop sandbox code at any
      // instruction, and it must not stop the pipeline half-way through adding a tap.
      for (const { hook, tapId, options: tapOptions, sliceMs } of tapQueue.splice(0)) {
        realApi.tap(hook, hostTap(hook, tapId, sliceMs) as TapFn<HookName>, tapOptions);
      }
      for (const fnId of shutdownQueue.splice(0)) realApi.onShutdown(() => runShutdown(fnId));
      // Last, so the plugin's own shutdown callbacks still have their sockets.
      realApi.onShutdown(dispose);
    },
    dispose,
  };
  if (meta.hasValidate === true) {
    sandboxed.validate = (opts) => {
      const what = `plugin ${plugin}: validate`;
      const { body } = decode(enter(() => rt.validate(JSON.stringify(opts)), defaultMs, what, ErrorCode.PLUGIN_LOAD_FAILED), what, ErrorCode.PLUGIN_LOAD_FAILED);
      const list = parsing(() => JSON.parse(body) as unknown, what, ErrorCode.PLUGIN_LOAD_FAILED);
      return Array.isArray(list) ? list.map(String) : ['(validate did not return a list)'];
    };
  }
  return sandboxed;
}

/**
 * Run one of the sandbox stub's verdict helpers (accept, reject, ...) and return its result as
 * host data. For the test that keeps the stub in step with sdk/src/verdict.ts.
 */
export function sandboxSdkHelper(name: string, args: unknown[]): unknown {
  const vm = new VM({ allowAsync: false, eval: false, wasm: false, timeout: 1000 });
  const factory = vm.run(runtimeScript) as (host: unknown, configJson: string) => SandboxRuntime;
  const config = JSON.stringify({ name: 'x', grants: {}, codes: {}, sdk: { Stage, DeliverStage, POLICY_HOOKS, DELIVERY_HOOKS, EVENT_HOOKS } });
  const answer = runWithTimeout(() => factory({ settle() {}, registerTap: () => '', registerShutdown: () => '' }, config).sdkHelper(name, JSON.stringify(args)), 1000);
  return JSON.parse((answer as string).slice(1)) as unknown;
}
