import {
  DeliverStage,
  DELIVERY_HOOKS,
  EVENT_HOOKS,
  POLICY_HOOKS,
  Stage,
  type HookName,
  type PluginApi,
  type TapFn,
  type TapOptions,
} from '@postern/sdk';
import { ErrorCode, PosternError, type ErrorCodeValue } from '../../errors.js';
import { createSandboxResolver, type DnsSettings, type SandboxDnsResolver } from './dns-resolver.js';
import { checkGrants, type SandboxGrants } from './grants.js';
import { createHostOps, type CapabilityOp, type HostOps } from './host-bindings.js';
import { applyEffects, copyVerdict, encodeArgs, parseAnswer, type EncodedArgs } from './hook-snapshot.js';
import { MemoryKvStore, type KvStore } from './kv-store.js';
import { BUFFER_LIMIT, type Entry, type Op } from './sandbox-protocol.js';
import { toSandboxScript } from './sandbox-source.js';
import type { CallInfo, SandboxThread } from './sandbox-thread.js';
import { DEFAULT_MEMORY_MB, takeThread } from './thread-pool.js';

export interface SandboxOptions {
  /**
   * The name the host knows the plugin by (its config key / manifest name). The plugin's own
   * `definePlugin({ name })` must match it; it also namespaces the plugin's kv entries, so a
   * plugin cannot pick another's namespace by naming itself after it.
   */
  plugin: string;
  /**
   * Longest any entry into the sandbox may run before its worker is stopped, in ms; also how long
   * an async setup or shutdown callback may take, and the tap guard's timeout for the plugin's
   * taps. A tap's own `timeoutMs` can lower it for that tap, never raise it. Pass the plugin's
   * configured `timeoutMs`. Default 5000.
   */
  timeoutMs?: number;
  /** Heap limit of the plugin's worker thread, MB. Default 128 (DEFAULT_MEMORY_MB). */
  memoryMb?: number;
  /** Backing store of the `kv` grant. Default: a MemoryKvStore of this plugin alone. */
  kv?: KvStore;
  /** Resolver of the `dns` grant: config `dns` settings, or a ready resolver (tests). */
  dns?: DnsSettings & { resolver?: SandboxDnsResolver };
}

/**
 * A plugin running in a vm2 sandbox in its own worker thread, in nearly the shape the loader and
 * pipeline use for trusted plugins (PluginDefinition; `validate` is async here). One instance is
 * one plugin: set it up once, on one pipeline.
 */
export interface SandboxedPlugin {
  readonly name: string;
  readonly defaults: Readonly<Record<string, unknown>> | undefined;
  /** What the sandbox was given (see effectiveGrants). */
  readonly grants: Readonly<SandboxGrants>;
  /** Present only when the plugin defines `validate`; runs in the sandbox. */
  validate?(options: Record<string, unknown>): Promise<string[]>;
  /** Runs the plugin's setup in the sandbox; its taps are registered on `api` as host functions. */
  setup(api: PluginApi<Record<string, unknown>>): Promise<void>;
  /**
   * Stop the worker, close the plugin's sockets and fail its pending calls; nothing enters the
   * sandbox afterwards. Idempotent; runs by itself when the pipeline shuts the plugin down.
   */
  dispose(): void;
}

/** How much longer than its timeout a pending call is remembered (the tap guard gives up first). */
const PENDING_GRACE_MS = 1000;
/** 'init' runs the runtime's factory and vm2's compile of the bundle (no plugin code): a fixed, generous bound. */
const INIT_LIMIT_MS = 10_000;
/** After a failed restart, calls fail at once for this long before the next attempt. */
const RESTART_BACKOFF_MS = 1000;
/**
 * Workers that die this often (stopped or crashed) in RESTART_WINDOW_MS are replaced at once;
 * beyond that the next one waits 1 s, 2 s, 4 s... (at most MAX_RESTART_DELAY_MS), and calls fail
 * at once meanwhile: a plugin that dies on every call must not keep the server booting workers.
 */
const FREE_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;
const HOOKS: ReadonlySet<string> = new Set<string>([...POLICY_HOOKS, ...EVENT_HOOKS]);

/** One worker running the plugin; a stopped or crashed one is replaced by a new incarnation. */
interface Incarnation {
  thread: SandboxThread;
  ops: HostOps;
  /** Set up again after a restart: its tap and onShutdown registrations are already known. */
  replay: boolean;
}

interface Pending {
  inc: Incarnation;
  resolve(answer: string | null): void;
  reject(err: PosternError): void;
  timer: NodeJS.Timeout;
}

function isSandboxName(name: string): boolean {
  return /^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name);
}

const info = (what: string, code: ErrorCodeValue, details: Record<string, unknown>): CallInfo => ({ what, code, details });

/**
 * Load an untrusted plugin's code into a vm2 sandbox in a worker thread of its own. `source` is
 * the plugin's JavaScript, ideally built by the loader with SANDBOX_BUILD_OPTIONS (CommonJS, async
 * lowered); ESM or plain CommonJS (`module.exports = definePlugin({...})` or `exports.default = ...`)
 * also works, since it is compiled again here. `require` knows only `@postern/sdk` (a stub with the
 * pure helpers). The module's top level runs now, bounded by `timeoutMs`.
 *
 * Rejects with PLUGIN_LOAD_FAILED (syntax, no plugin exported, name mismatch, the module threw),
 * PLUGIN_SANDBOX_TIMEOUT (the module's top level did not finish), PLUGIN_SANDBOX_CRASHED (the
 * worker died) or PLUGIN_GRANTS_INVALID.
 * @example
 * const plugin = await loadSandboxedPlugin(code, 'block-spam.cjs', { log: true }, { plugin: 'block-spam', timeoutMs: 200 });
 * await plugin.setup(pipeline.apiFor(owner, options, log, hostname));
 */
export async function loadSandboxedPlugin(source: string, filename: string, grants: SandboxGrants, options: SandboxOptions): Promise<SandboxedPlugin> {
  const plugin = options.plugin;
  if (!isSandboxName(plugin)) throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `sandbox: "${plugin}" is not a plugin name (kebab-case)`, { plugin });
  const granted = checkGrants(grants, plugin);
  const netTargets = granted.net ?? [];
  const defaultMs = options.timeoutMs ?? 5000;
  const memoryMb = options.memoryMb ?? DEFAULT_MEMORY_MB;
  const script = toSandboxScript(source, filename, plugin);
  const kv = granted.kv ? (options.kv ?? new MemoryKvStore()) : undefined;
  const resolver = granted.dns ? (options.dns?.resolver ?? createSandboxResolver(options.dns)) : undefined;
  const config = JSON.stringify({
    name: plugin,
    grants: { dns: granted.dns === true, kv: granted.kv === true, log: granted.log === true, net: netTargets.length > 0 },
    codes: { denied: ErrorCode.PLUGIN_SANDBOX_DENIED, limit: ErrorCode.PLUGIN_SANDBOX_LIMIT },
    limits: { buffer: BUFFER_LIMIT },
    sdk: { Stage, DeliverStage, POLICY_HOOKS, DELIVERY_HOOKS, EVENT_HOOKS },
  });

  const details = { plugin };
  const loading = info(`plugin ${plugin}: loading ${filename}`, ErrorCode.PLUGIN_LOAD_FAILED, details);
  const starting = info(`plugin ${plugin}: ${filename}`, ErrorCode.PLUGIN_LOAD_FAILED, details);
  const validating = info(`plugin ${plugin}: validate`, ErrorCode.PLUGIN_LOAD_FAILED, details);
  const settingUp = info(`plugin ${plugin}: setup`, ErrorCode.PLUGIN_LOAD_FAILED, details);
  const shuttingDown = info(`plugin ${plugin}: onShutdown`, ErrorCode.PLUGIN_TAP_FAILED, details);
  const callingBack = info(`plugin ${plugin}: a callback`, ErrorCode.PLUGIN_TAP_FAILED, details);

  let disposed = false;
  let phase: 'loaded' | 'setting-up' | 'ready' = 'loaded';
  let api: PluginApi<Record<string, unknown>> | undefined;
  let setupArgs: { optionsJson: string; hostname: string } | undefined;
  let nextCallId = 1;
  let current: Incarnation | undefined;
  let restarting: Promise<void> | undefined;
  let startingInc: Incarnation | undefined;
  let downUntil = 0;
  let downReason = '';
  /** When recent workers died, oldest first (see FREE_RESTARTS). */
  const deaths: number[] = [];
  const pending = new Map<number, Pending>();
  const tapQueue: Array<{ hook: HookName; tapId: number; options: TapOptions; sliceMs: number }> = [];
  const shutdownQueue: number[] = [];

  /** Decode an answer string; 'P' is handled before. */
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

  const settle = (inc: Incarnation, callId: unknown, answer: unknown) => {
    if (typeof callId !== 'number' || typeof answer !== 'string') return;
    const entry = pending.get(callId);
    if (!entry || entry.inc !== inc) return;
    pending.delete(callId);
    clearTimeout(entry.timer);
    entry.resolve(answer);
  };

  const failPending = (inc: Incarnation | undefined, err: PosternError) => {
    for (const [id, entry] of pending) {
      if (inc && entry.inc !== inc) continue;
      pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(err);
    }
  };

  /** A tap registered in the first setup; checked again here (the worker is not trusted). */
  const registerTap = (hook: unknown, tapId: unknown, stage: unknown, timeoutMs: unknown) => {
    if (phase !== 'setting-up' || typeof hook !== 'string' || !HOOKS.has(hook) || typeof tapId !== 'number') return;
    if (stage !== undefined && (typeof stage !== 'number' || !Number.isFinite(stage))) return;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) return;
    // A tap may ask for less time than the admin gave the plugin, never more: otherwise a
    // plugin could opt out of being stopped.
    const sliceMs = timeoutMs === undefined ? defaultMs : Math.min(timeoutMs as number, defaultMs);
    const tapOptions: TapOptions = { timeoutMs: sliceMs };
    if (stage !== undefined) tapOptions.stage = stage as number;
    tapQueue.push({ hook: hook as HookName, tapId, options: tapOptions, sliceMs });
  };

  const handleOps = (inc: Incarnation, ops: Op[]) => {
    for (const op of ops) {
      if (!Array.isArray(op)) continue;
      if (op[0] === 'settle') settle(inc, op[1], op[2]);
      else if (op[0] === 'tap') {
        if (!inc.replay) registerTap(op[1], op[2], op[3], op[4]);
      } else if (op[0] === 'shutdown') {
        if (!inc.replay && phase === 'setting-up' && typeof op[1] === 'number') shutdownQueue.push(op[1]);
      } else inc.ops.run(op as CapabilityOp);
    }
  };

  /**
   * Run an entry that may answer 'P' (pending) and settle later. Returns the final answer itself
   * when the worker answered before `send` returned (the usual case for a quick tap), else a
   * promise of it; throws or rejects with the call's PosternError.
   */
  const invoke = (inc: Incarnation, entry: Entry, callId: number, limitMs: number, call: CallInfo, pendingMs: number, pendingCode: ErrorCodeValue): string | null | Promise<string | null> => {
    // What happened before `send` returned; afterwards the outcome goes to `later`.
    const early: { answered?: boolean; value?: string | null; failure?: PosternError } = {};
    let later: { resolve(answer: string | null): void; reject(err: PosternError): void } | undefined;
    const answered = (answer: string | null) => {
      if (later) later.resolve(answer);
      else [early.answered, early.value] = [true, answer];
    };
    const failed = (err: PosternError) => {
      if (later) later.reject(err);
      else early.failure = err;
    };
    inc.thread.send(
      entry,
      limitMs,
      call,
      (answer) => {
        if (answer !== 'P') return answered(answer);
        // Pending: its settle comes with the reply to a later entry, so registering now is in time.
        const timer = setTimeout(() => {
          pending.delete(callId);
          failed(new PosternError(pendingCode, `${call.what} did not settle within ${pendingMs} ms`, call.details));
        }, pendingMs);
        timer.unref();
        pending.set(callId, { inc, resolve: answered, reject: failed, timer });
      },
      failed,
    );
    if (early.answered) return early.value ?? null;
    if (early.failure) throw early.failure;
    return new Promise<string | null>((resolve, reject) => {
      later = { resolve, reject };
    });
  };

  /** A worker, started, with the plugin's module loaded; terminated again if anything fails. */
  const startIncarnation = async (replay: boolean): Promise<{ inc: Incarnation; meta: { name?: unknown; defaults?: unknown; hasValidate?: unknown } }> => {
    const thread = takeThread(memoryMb, replay);
    const inc: Incarnation = {
      thread,
      replay,
      ops: createHostOps({
        plugin,
        grants: granted,
        kv,
        resolver,
        logger: () => api?.log,
        answer(cbId, code, message, value) {
          if (disposed || thread.dead) return;
          thread.send(['cb', cbId, code, message, value], defaultMs, callingBack, () => {}, (err) => api?.log.warn({ err, code: err.code, plugin }, err.message));
        },
      }),
    };
    thread.onOps = (ops) => handleOps(inc, ops);
    thread.onDeath = (err, stopped) => onDeath(inc, err, stopped);
    startingInc = inc;
    try {
      await thread.booted();
      if (disposed) throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: the sandbox was disposed`, details);
      await thread.request(['init', config, script, filename], Math.max(defaultMs, INIT_LIMIT_MS), starting);
      const answer = await thread.request(['load'], defaultMs, loading);
      const { body } = decode(answer, loading.what, ErrorCode.PLUGIN_LOAD_FAILED);
      const meta = parsing(() => JSON.parse(body) as { name?: unknown; defaults?: unknown; hasValidate?: unknown }, loading.what, ErrorCode.PLUGIN_LOAD_FAILED);
      if (meta.name !== plugin) {
        throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: the code names itself ${JSON.stringify(meta.name)}, not "${plugin}"`, details);
      }
      return { inc, meta };
    } catch (err) {
      inc.ops.close();
      thread.terminate();
      throw err;
    } finally {
      if (startingInc === inc) startingInc = undefined;
    }
  };

  const runSetup = async (inc: Incarnation, optionsJson: string, hostname: string): Promise<void> => {
    const callId = nextCallId++;
    const answer = await invoke(inc, ['setup', callId, optionsJson, hostname], callId, defaultMs, settingUp, defaultMs, ErrorCode.PLUGIN_LOAD_FAILED);
    decode(answer, settingUp.what, ErrorCode.PLUGIN_LOAD_FAILED);
  };

  /** A new worker for a plugin that was set up: load it and replay its setup (same options). */
  const restart = (): Promise<void> => {
    restarting ??= (async () => {
      try {
        const { inc } = await startIncarnation(true);
        startingInc = inc;
        await runSetup(inc, setupArgs!.optionsJson, setupArgs!.hostname);
        startingInc = undefined;
        if (disposed) {
          inc.ops.close();
          inc.thread.terminate();
          return;
        }
        current = inc;
      } catch (err) {
        if (startingInc) {
          startingInc.ops.close();
          startingInc.thread.terminate();
          startingInc = undefined;
        }
        if (disposed) return;
        downUntil = Date.now() + RESTART_BACKOFF_MS;
        downReason = (err as Error).message;
        const code = (err as PosternError).code ?? ErrorCode.PLUGIN_SANDBOX_CRASHED;
        api?.log.error({ err, code, plugin }, `plugin ${plugin}: the sandbox could not be restarted: ${downReason}`);
      }
    })().finally(() => {
      restarting = undefined;
    });
    return restarting;
  };

  function onDeath(inc: Incarnation, err: PosternError, stopped: boolean): void {
    inc.ops.close();
    failPending(inc, new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `plugin ${plugin}: the sandbox worker went away before this call finished (${err.message})`, details, { cause: err }));
    if (inc !== current) return;
    current = undefined;
    if (disposed || phase !== 'ready') return;
    const now = Date.now();
    deaths.push(now);
    while (deaths[0]! <= now - RESTART_WINDOW_MS) deaths.shift();
    const delayMs = deaths.length <= FREE_RESTARTS ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (deaths.length - FREE_RESTARTS - 1));
    const next = delayMs === 0 ? 'starting a new sandbox worker' : `${deaths.length} workers died within ${RESTART_WINDOW_MS / 1000} s: the next one starts in ${delayMs / 1000} s, calls fail until then`;
    // A stop (a call over its time) is reported by that call's failure; a crash only here.
    if (stopped) api?.log.info({ plugin }, `plugin ${plugin}: ${next} (after a stop)`);
    else api?.log.error({ err, code: err.code, plugin }, `plugin ${plugin}: ${err.message}; ${next}`);
    if (delayMs === 0) {
      void restart();
      return;
    }
    downUntil = now + delayMs;
    downReason = `its workers died ${deaths.length} times within ${RESTART_WINDOW_MS / 1000} s; the last one: ${err.message}`;
  }

  /** The live worker for a call, after a restart if one is needed; throws when there is none. */
  const incarnation = (): Incarnation | Promise<Incarnation> => {
    if (current) return current;
    if (disposed) throw new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `plugin ${plugin}: the sandbox was disposed`, details);
    if (phase !== 'ready') throw new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `plugin ${plugin}: the sandbox worker is gone`, details);
    if (!restarting) {
      if (Date.now() < downUntil) throw new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `plugin ${plugin}: the sandbox is down (${downReason})`, details);
      void restart();
    }
    return restarting!.then(() => {
      if (!current) throw new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `plugin ${plugin}: the sandbox is down (${downReason})`, details);
      return current;
    });
  };

  /** The host function a sandboxed tap becomes: copy in, call the worker, copy the verdict out. */
  const hostTap = (hook: HookName, tapId: number, sliceMs: number) => {
    const call = info(`tap ${hook}`, ErrorCode.PLUGIN_TAP_FAILED, { plugin, hook });
    const finish = (answer: unknown, args: readonly unknown[]): unknown => {
      // The usual answer of a tap with no opinion and no writes (see encodeResult in the runtime).
      if (answer === 'R{}') return undefined;
      const { kind, body } = decode(answer, call.what, ErrorCode.PLUGIN_TAP_FAILED);
      if (kind === 'B') return { notAVerdict: body };
      const { verdict, effects } = parsing(() => parseAnswer(body), `${call.what}: unreadable answer`, ErrorCode.PLUGIN_TAP_FAILED);
      if (effects.length > 0) {
        const refused = applyEffects(hook, args, effects, plugin, BUFFER_LIMIT);
        if (refused.length > 0) {
          api?.log.warn({ code: ErrorCode.PLUGIN_SANDBOX_DENIED, plugin, hook, refused }, `plugin ${plugin}: ${hook}: refused ${refused.join('; ')}`);
        }
      }
      return copyVerdict(verdict);
    };
    const run = (inc: Incarnation, json: string, message: string | undefined) => {
      const callId = nextCallId++;
      return invoke(inc, ['tap', tapId, callId, json, message], callId, sliceMs, call, sliceMs + PENDING_GRACE_MS, ErrorCode.PLUGIN_TAP_TIMEOUT);
    };
    // Synchronous when the worker answers at once, so the tap guard skips its timeout race.
    return (...args: unknown[]): unknown => {
      let encoded: EncodedArgs;
      try {
        encoded = encodeArgs(hook, args);
      } catch (err) {
        throw new PosternError(ErrorCode.PLUGIN_TAP_FAILED, `${call.what}: the arguments cannot be copied into the sandbox: ${(err as Error).message}`, { plugin }, { cause: err });
      }
      const { json, message } = encoded;
      const inc = incarnation();
      const answer = inc instanceof Promise ? inc.then((live) => run(live, json, message)) : run(inc, json, message);
      return answer instanceof Promise ? answer.then((text) => finish(text, args)) : finish(answer, args);
    };
  };

  const runShutdown = async (fnId: number): Promise<void> => {
    if (restarting) await restarting;
    // A worker that is gone has nothing left to shut down.
    if (!current || disposed) return;
    const callId = nextCallId++;
    const answer = await invoke(current, ['shutdown', fnId, callId], callId, defaultMs, shuttingDown, defaultMs, ErrorCode.PLUGIN_TAP_TIMEOUT);
    decode(answer, shuttingDown.what, ErrorCode.PLUGIN_TAP_FAILED);
  };

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    for (const inc of [current, startingInc]) {
      inc?.ops.close();
      inc?.thread.terminate();
    }
    current = undefined;
    failPending(undefined, new PosternError(ErrorCode.PLUGIN_TAP_FAILED, 'the sandbox was disposed', details));
  };

  const { inc: first, meta } = await startIncarnation(false);
  current = first;
  const defaults = meta.defaults !== null && typeof meta.defaults === 'object' ? (meta.defaults as Record<string, unknown>) : undefined;

  const sandboxed: SandboxedPlugin = {
    name: plugin,
    defaults,
    grants: Object.freeze({ ...granted, net: Object.freeze([...netTargets]) }),
    async setup(realApi) {
      if (phase !== 'loaded') throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: a sandboxed plugin is set up once (load it again for a new generation)`, details);
      phase = 'setting-up';
      api = realApi;
      const optionsJson = JSON.stringify(realApi.options ?? {});
      try {
        const inc = current;
        if (!inc) throw new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `plugin ${plugin}: setup: the sandbox worker is gone`, details);
        await runSetup(inc, optionsJson, realApi.hostname);
      } catch (err) {
        phase = 'ready';
        dispose();
        throw err;
      }
      setupArgs = { optionsJson, hostname: realApi.hostname };
      phase = 'ready';
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
    sandboxed.validate = async (opts) => {
      const inc = current;
      if (!inc) throw new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `${validating.what}: the sandbox worker is gone`, details);
      const { body } = decode(await inc.thread.request(['validate', JSON.stringify(opts)], defaultMs, validating), validating.what, ErrorCode.PLUGIN_LOAD_FAILED);
      const list = parsing(() => JSON.parse(body) as unknown, validating.what, ErrorCode.PLUGIN_LOAD_FAILED);
      return Array.isArray(list) ? list.map(String) : ['(validate did not return a list)'];
    };
  }
  return sandboxed;
}
