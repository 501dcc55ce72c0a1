import { DELIVERY_HOOKS, EVENT_HOOKS, POLICY_HOOKS } from '@postern/sdk';
import { ErrorCode } from '../../errors.js';
import {
  DNS_QUERY_TYPES,
  MAX_DNS_IN_FLIGHT,
  MAX_KV_KEY,
  MAX_KV_VALUE,
  MAX_LOG_BYTES,
  MAX_LOG_RECORDS,
  MAX_WRITE,
  type Op,
} from './sandbox-protocol.js';

/*
 * The functions the sandbox runtime calls as `host` (sandbox-runtime.ts), inside the worker. They
 * check their arguments (primitives and callbacks only), record what was asked in the entry's
 * outbox and return at once: a refusal is returned as "CODE\nmessage", never thrown (a worker
 * error object would cross into the sandbox). The work itself (logging, DNS, kv, sockets) happens
 * on the host once the entry is answered; the host's answer comes back as a 'cb' entry, which calls
 * the callback kept here. Functions of capabilities that were not granted are not created.
 */

type SandboxCallback = (code: string, message: string, value: unknown) => void;

/** The part of the runtime's config the bindings read. */
interface RuntimeConfig {
  grants: { dns: boolean; kv: boolean; log: boolean; net: boolean };
}

const DNS_TYPES: ReadonlySet<string> = new Set(DNS_QUERY_TYPES);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const HOOKS: ReadonlySet<string> = new Set<string>([...POLICY_HOOKS, ...EVENT_HOOKS]);

const refuse = (code: string, message: string) => `${code}\n${message}`;
const isCallback = (value: unknown): value is SandboxCallback => typeof value === 'function';

export interface WorkerBindings {
  /** Handed to the runtime factory. */
  host: Record<string, (...args: never[]) => unknown>;
  /** The ops recorded since the last call (0 when none), for the entry's Reply. */
  take(): Op[] | 0;
  /** The host answered the callback `cbId` (a 'cb' entry). Unknown ids are ignored. */
  answer(cbId: number, code: string, message: string, value: unknown): void;
  /** A setup call starts; api.tap and api.onShutdown work until it settles. */
  beginSetup(callId: number): void;
  /** The setup call answered at once (not 'P'). */
  endSetup(): void;
}

export function createWorkerBindings(configJson: string): WorkerBindings {
  const { grants } = JSON.parse(configJson) as RuntimeConfig;
  let outbox: Op[] = [];
  let logRecords = 0;
  let logDropped = 0;
  let setupCallId = -1;
  let settingUp = false;
  let nextCbId = 1;
  let dnsInFlight = 0;
  const callbacks = new Map<number, { fn: SandboxCallback; dns: boolean }>();

  const keep = (fn: SandboxCallback, dns = false) => {
    const id = nextCbId++;
    callbacks.set(id, { fn, dns });
    return id;
  };

  const host: Record<string, (...args: never[]) => unknown> = {
    settle: (callId: unknown, answer: unknown) => {
      // A non-string is dropped unread: it would be a sandbox object.
      if (typeof callId !== 'number' || typeof answer !== 'string') return;
      if (callId === setupCallId) settingUp = false;
      outbox.push(['settle', callId, answer]);
    },
    registerTap: (hook: unknown, tapId: unknown, stage: unknown, timeoutMs: unknown) => {
      if (!settingUp) return refuse(ErrorCode.PLUGIN_SANDBOX_DENIED, 'api.tap is only available during setup');
      if (typeof tapId !== 'number') return refuse('EINVAL', 'api.tap: bad tap id');
      if (typeof hook !== 'string') return refuse('EINVAL', 'api.tap: the hook must be a name');
      if (!HOOKS.has(hook)) {
        const why = (DELIVERY_HOOKS as readonly string[]).includes(hook)
          ? `a sandboxed plugin cannot tap ${hook} (it hands out the live delivery); make the plugin trusted`
          : `"${hook.slice(0, 40)}" is not a hook`;
        return refuse(ErrorCode.PLUGIN_SANDBOX_DENIED, `api.tap: ${why}`);
      }
      if (stage !== undefined && (typeof stage !== 'number' || !Number.isFinite(stage))) return refuse('EINVAL', 'api.tap: stage must be a number (use Stage.*)');
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) return refuse('EINVAL', 'api.tap: timeoutMs must be a positive number');
      outbox.push(['tap', hook, tapId, stage as number | undefined, timeoutMs as number | undefined]);
      return '';
    },
    registerShutdown: (fnId: unknown) => {
      if (!settingUp) return refuse(ErrorCode.PLUGIN_SANDBOX_DENIED, 'api.onShutdown is only available during setup');
      if (typeof fnId !== 'number') return refuse('EINVAL', 'api.onShutdown: bad callback id');
      outbox.push(['shutdown', fnId]);
      return '';
    },
  };

  if (grants.log) {
    host.log = (level: unknown, json: unknown, msg: unknown) => {
      if (typeof level !== 'string' || !LEVELS.has(level) || typeof json !== 'string') return;
      if (logRecords >= MAX_LOG_RECORDS) {
        logDropped++;
        return;
      }
      logRecords++;
      outbox.push(['log', level, json.length > MAX_LOG_BYTES ? `{"truncated":${json.length}}` : json, typeof msg === 'string' ? msg.slice(0, MAX_LOG_BYTES) : undefined]);
    };
  }

  if (grants.dns) {
    host.dns = (type: unknown, name: unknown, cb: unknown) => {
      if (typeof type !== 'string' || !DNS_TYPES.has(type) || typeof name !== 'string' || name.length === 0 || name.length > 253 || !isCallback(cb)) {
        return refuse('EINVAL', 'dns: a record type and a name of at most 253 characters');
      }
      if (dnsInFlight >= MAX_DNS_IN_FLIGHT) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `dns: at most ${MAX_DNS_IN_FLIGHT} queries in flight`);
      dnsInFlight++;
      outbox.push(['dns', keep(cb, true), type, name]);
      return '';
    };
  }

  if (grants.kv) {
    const badKey = (key: unknown): key is never => typeof key !== 'string' || key.length === 0 || key.length > MAX_KV_KEY;
    const keyRefusal = refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a key is a string of 1-${MAX_KV_KEY} characters`);
    host.kvGet = (key: unknown, cb: unknown) => {
      if (badKey(key) || !isCallback(cb)) return keyRefusal;
      outbox.push(['kvGet', keep(cb), key as string]);
      return '';
    };
    host.kvSet = (key: unknown, json: unknown, ttlMs: unknown, cb: unknown) => {
      if (badKey(key) || !isCallback(cb)) return keyRefusal;
      if (typeof json !== 'string' || json.length > MAX_KV_VALUE) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a value is JSON of at most ${MAX_KV_VALUE} bytes`);
      if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) return refuse('EINVAL', 'kv: ttlMs must be a positive number');
      outbox.push(['kvSet', keep(cb), key as string, json, ttlMs as number | undefined]);
      return '';
    };
    host.kvDelete = (key: unknown, cb: unknown) => {
      if (badKey(key) || !isCallback(cb)) return keyRefusal;
      outbox.push(['kvDelete', keep(cb), key as string]);
      return '';
    };
  }

  if (grants.net) {
    host.netOpen = (hostname: unknown, port: unknown, cb: unknown) => {
      if (typeof hostname !== 'string' || hostname.length === 0 || hostname.length > 255 || typeof port !== 'number' || !isCallback(cb)) {
        return refuse('EINVAL', 'net.connect(host, port): a host name and a port number');
      }
      outbox.push(['netOpen', keep(cb), hostname, port]);
      return '';
    };
    host.netWrite = (id: unknown, data: unknown, cb: unknown) => {
      if (typeof id !== 'number' || typeof data !== 'string' || !isCallback(cb)) return refuse('EINVAL', 'socket.write: bad arguments');
      if (data.length > MAX_WRITE) return refuse(ErrorCode.PLUGIN_SANDBOX_LIMIT, `socket.write: at most ${MAX_WRITE} bytes at a time`);
      outbox.push(['netWrite', keep(cb), id, data]);
      return '';
    };
    host.netRead = (id: unknown, cb: unknown) => {
      if (typeof id !== 'number' || !isCallback(cb)) return refuse('EINVAL', 'socket.read: bad arguments');
      outbox.push(['netRead', keep(cb), id]);
      return '';
    };
    host.netEnd = (id: unknown, cb: unknown) => {
      if (typeof id !== 'number' || !isCallback(cb)) return refuse('EINVAL', 'socket.end: bad arguments');
      outbox.push(['netEnd', keep(cb), id]);
      return '';
    };
    host.netClose = (id: unknown) => {
      if (typeof id === 'number') outbox.push(['netClose', id]);
    };
  }

  return {
    host,
    take() {
      if (logDropped > 0) outbox.push(['logDropped', logDropped]);
      logRecords = 0;
      logDropped = 0;
      if (outbox.length === 0) return 0;
      const ops = outbox;
      outbox = [];
      return ops;
    },
    answer(cbId, code, message, value) {
      const entry = callbacks.get(cbId);
      if (!entry) return;
      callbacks.delete(cbId);
      if (entry.dns) dnsInFlight--;
      entry.fn(code, message, value);
    },
    beginSetup(callId) {
      setupCallId = callId;
      settingUp = true;
    },
    endSetup() {
      settingUp = false;
    },
  };
}
