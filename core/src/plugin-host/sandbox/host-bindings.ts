import type { PluginLogger } from '@postern/sdk';
import { ErrorCode, PosternError } from '../../errors.js';
import { dnsQuery, type DnsQueryType, type SandboxDnsResolver } from './dns-resolver.js';
import type { SandboxGrants } from './grants.js';
import type { KvStore } from './kv-store.js';
import { NetGate } from './net-gate.js';

/*
 * The host functions the sandbox runtime may call, one object per plugin. Rules, because sandbox
 * code can be stopped by the watchdog at any instruction — including inside a host function it
 * called:
 * - each binding only checks primitives and queues work (queueMicrotask); the real work (logging,
 *   DNS, sockets, the store) runs afterwards, outside the sandbox call, so a stop never lands
 *   half-way through pino or net;
 * - a refusal is returned as "CODE\nmessage", never thrown (a host error object would cross into
 *   the sandbox);
 * - answers go back through the sandbox's callback, called via `callIn` (watchdog-bounded) with
 *   primitives only.
 * Bindings for capabilities that were not granted are not created at all.
 */

/** Keys longer than this are refused. */
export const MAX_KV_KEY = 512;
/** kv values (JSON text) longer than this are refused. */
export const MAX_KV_VALUE = 64 * 1024;
/** DNS queries one plugin may have in flight. */
export const MAX_DNS_IN_FLIGHT = 64;
/** Log records queued between two flushes; more are counted and dropped. */
const MAX_LOG_QUEUE = 1000;
/** Bytes of one log record's object (JSON); a longer one is replaced by a note. */
const MAX_LOG_BYTES = 16 * 1024;
/** Bytes of one socket write. */
const MAX_WRITE = 1024 * 1024;

const DNS_TYPES: ReadonlySet<string> = new Set(['A', 'MX', 'TXT', 'PTR']);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);

type SandboxCallback = (code: string, message: string, value: unknown) => void;

export interface BindingContext {
  plugin: string;
  grants: SandboxGrants;
  kv: KvStore | undefined;
  resolver: SandboxDnsResolver | undefined;
  /** The plugin's logger once setup has it; records before that are dropped. */
  logger(): PluginLogger | undefined;
  /** Call into the sandbox (watchdog-bounded; nothing once disposed). */
  callIn(fn: () => unknown): void;
  /** A pending call settled (see SandboxedPlugin). */
  settle(callId: unknown, answer: unknown): void;
  registerTap(hook: unknown, tapId: unknown, stage: unknown, timeoutMs: unknown): string;
  registerShutdown(fnId: unknown): string;
}

export interface HostBindings {
  bindings: Record<string, (...args: never[]) => unknown>;
  /** Close sockets and drop queued work (dispose). */
  close(): void;
}

function refuse(code: string, message: string): string {
  return `${code}\n${message}`;
}

const isCallback = (value: unknown): value is SandboxCallback => typeof value === 'function';

export function createHostBindings(ctx: BindingContext): HostBindings {
  const { plugin, grants } = ctx;
  const answer = (cb: SandboxCallback, code: string, message: string, value?: unknown) => ctx.callIn(() => cb(code, message, value));
  const fail = (cb: SandboxCallback, err: unknown) => {
    const e = err as { code?: unknown; message?: unknown };
    answer(cb, typeof e.code === 'string' ? e.code : 'EFAIL', typeof e.message === 'string' ? e.message : String(err));
  };

  const bindings: Record<string, (...args: never[]) => unknown> = {
    settle: (callId: unknown, text: unknown) => ctx.settle(callId, text),
    registerTap: (hook: unknown, tapId: unknown, stage: unknown, timeoutMs: unknown) => ctx.registerTap(hook, tapId, stage, timeoutMs),
    registerShutdown: (fnId: unknown) => ctx.registerShutdown(fnId),
  };

  if (grants.log) {
    let queue: Array<[string, string, string | undefined]> = [];
    let dropped = 0;
    const flush = () => {
      const records = queue;
      queue = [];
      const log = ctx.logger();
      if (!log) return;
      for (const [level, json, msg] of records) {
        let obj: object;
        try {
          obj = json.length > MAX_LOG_BYTES ? { truncated: json.length } : (JSON.parse(json) as object);
        } catch {
          obj = {};
        }
        if (obj === null || typeof obj !== 'object') obj = { value: obj };
        log[level as 'info'](obj, msg);
      }
      if (dropped > 0) log.warn({ dropped }, `plugin ${plugin} logged faster than it is flushed; ${dropped} records dropped`);
      dropped = 0;
    };
    bindings.log = (level: unknown, json: unknown, msg: unknown) => {
      if (typeof level !== 'string' || !LEVELS.has(level) || typeof json !== 'string') return;
      if (queue.length >= MAX_LOG_QUEUE) {
        dropped++;
        return;
      }
      if (queue.push([level, json, typeof msg === 'string' ? msg.slice(0, MAX_LOG_BYTES) : undefined]) === 1) queueMicrotask(flush);
    };
  }

  if (grants.dns && ctx.resolver) {
    const resolver = ctx.resolver;
    let inFlight = 0;
    bindings.dns = (type: unknown, name: unknown, cb: unknown) => {
      if (typeof type !== 'string' || !DNS_TYPES.has(type) || typeof name !== 'string' || name.length === 0 || name.length > 253 || !isCallback(cb)) {
        return refuse('EINVAL', 'dns: a record type and a name of at most 253 characters');
      }
      if (inFlight >= MAX_DNS_IN_FLIGHT) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `dns: at most ${MAX_DNS_IN_FLIGHT} queries in flight`);
      inFlight++;
      queueMicrotask(() => {
        dnsQuery(resolver, type as DnsQueryType, name).then(
          (records) => answer(cb, '', '', JSON.stringify(records)),
          (err: unknown) => fail(cb, err),
        ).finally(() => inFlight--);
      });
      return '';
    };
  }

  if (grants.kv && ctx.kv) {
    const kv = ctx.kv;
    const badKey = (key: unknown) => typeof key !== 'string' || key.length === 0 || key.length > MAX_KV_KEY;
    const run = (cb: SandboxCallback, work: () => Promise<unknown>) => {
      queueMicrotask(() => {
        work().then((value) => answer(cb, '', '', value), (err: unknown) => fail(cb, err));
      });
      return '';
    };
    bindings.kvGet = (key: unknown, cb: unknown) => {
      if (badKey(key) || !isCallback(cb)) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a key is a string of 1-${MAX_KV_KEY} characters`);
      return run(cb, () => kv.get(plugin, key as string));
    };
    bindings.kvSet = (key: unknown, json: unknown, ttlMs: unknown, cb: unknown) => {
      if (badKey(key) || !isCallback(cb)) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a key is a string of 1-${MAX_KV_KEY} characters`);
      if (typeof json !== 'string' || json.length > MAX_KV_VALUE) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a value is JSON of at most ${MAX_KV_VALUE} bytes`);
      if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) return refuse('EINVAL', 'kv: ttlMs must be a positive number');
      return run(cb, () => kv.set(plugin, key as string, json, ttlMs as number | undefined));
    };
    bindings.kvDelete = (key: unknown, cb: unknown) => {
      if (badKey(key) || !isCallback(cb)) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a key is a string of 1-${MAX_KV_KEY} characters`);
      return run(cb, () => kv.delete(plugin, key as string));
    };
  }

  let gate: NetGate | undefined;
  if (grants.net && grants.net.length > 0) {
    const net = new NetGate(grants.net, plugin, (host, port) => {
      const err = new PosternError(ErrorCode.PLUGIN_SANDBOX_DENIED, `plugin ${plugin} tried to connect to ${host}:${port}, which is not granted`, { plugin, host, port });
      ctx.logger()?.warn({ err, code: err.code, plugin, host, port }, err.message);
    });
    gate = net;
    const socketAnswer = (cb: SandboxCallback) => (failure: { code: string; message: string } | undefined) =>
      failure ? answer(cb, failure.code, failure.message) : answer(cb, '', '');
    bindings.netOpen = (host: unknown, port: unknown, cb: unknown) => {
      if (typeof host !== 'string' || host.length === 0 || host.length > 255 || typeof port !== 'number' || !isCallback(cb)) {
        return refuse('EINVAL', 'net.connect(host, port): a host name and a port number');
      }
      queueMicrotask(() => net.open(host, port, (failure, id) => (failure ? answer(cb, failure.code, failure.message) : answer(cb, '', '', id))));
      return '';
    };
    bindings.netWrite = (id: unknown, data: unknown, cb: unknown) => {
      if (typeof id !== 'number' || typeof data !== 'string' || !isCallback(cb)) return refuse('EINVAL', 'socket.write: bad arguments');
      if (data.length > MAX_WRITE) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `socket.write: at most ${MAX_WRITE} bytes at a time`);
      queueMicrotask(() => net.write(id, Buffer.from(data, 'latin1'), socketAnswer(cb)));
      return '';
    };
    bindings.netRead = (id: unknown, cb: unknown) => {
      if (typeof id !== 'number' || !isCallback(cb)) return refuse('EINVAL', 'socket.read: bad arguments');
      queueMicrotask(() => net.read(id, (failure, chunk) => (failure ? answer(cb, failure.code, failure.message) : answer(cb, '', '', chunk ? chunk.toString('latin1') : null))));
      return '';
    };
    bindings.netEnd = (id: unknown, cb: unknown) => {
      if (typeof id !== 'number' || !isCallback(cb)) return refuse('EINVAL', 'socket.end: bad arguments');
      queueMicrotask(() => net.end(id, socketAnswer(cb)));
      return '';
    };
    bindings.netClose = (id: unknown) => {
      if (typeof id === 'number') queueMicrotask(() => net.close(id));
    };
  }

  return {
    bindings,
    close: () => gate?.closeAll(),
  };
}
